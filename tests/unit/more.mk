# tests/unit/more.mk - unit tests of the control socket, the shared
# counters, the small helpers, dropping privileges, comparing listener
# specs and -t's checks of the system.  Included after core.mk, whose
# NL_UNIT_CFLAGS and NL_UNIT_LIBS they reuse.
if UNIT_TESTS
check_PROGRAMS += %reldir%/test_control
TESTS += %reldir%/test_control
%canon_reldir%_test_control_SOURCES = %reldir%/test_control.c
%canon_reldir%_test_control_CFLAGS = $(NL_UNIT_CFLAGS)
%canon_reldir%_test_control_LDADD = $(NL_UNIT_LIBS)

check_PROGRAMS += %reldir%/test_stats
TESTS += %reldir%/test_stats
%canon_reldir%_test_stats_SOURCES = %reldir%/test_stats.c
%canon_reldir%_test_stats_CFLAGS = $(NL_UNIT_CFLAGS)
%canon_reldir%_test_stats_LDADD = $(NL_UNIT_LIBS)

check_PROGRAMS += %reldir%/test_util
TESTS += %reldir%/test_util
%canon_reldir%_test_util_SOURCES = %reldir%/test_util.c
%canon_reldir%_test_util_CFLAGS = $(NL_UNIT_CFLAGS)
%canon_reldir%_test_util_LDADD = $(NL_UNIT_LIBS)

# The account database and the id calls are wrapped: each wrapper calls the
# real function until a test scripts it, so the same binary checks a real
# switch to nobody (as root) and the failures only a broken system gives.
check_PROGRAMS += %reldir%/test_privs
TESTS += %reldir%/test_privs
%canon_reldir%_test_privs_SOURCES = %reldir%/test_privs.c
%canon_reldir%_test_privs_CFLAGS = $(NL_UNIT_CFLAGS)
%canon_reldir%_test_privs_LDFLAGS = -Wl,--wrap=getpwnam -Wl,--wrap=getgrnam \
	-Wl,--wrap=getuid -Wl,--wrap=geteuid -Wl,--wrap=getgid \
	-Wl,--wrap=initgroups -Wl,--wrap=setgid -Wl,--wrap=setuid
%canon_reldir%_test_privs_LDADD = $(NL_UNIT_LIBS)

check_PROGRAMS += %reldir%/test_conf_equal
TESTS += %reldir%/test_conf_equal
%canon_reldir%_test_conf_equal_SOURCES = %reldir%/test_conf_equal.c
%canon_reldir%_test_conf_equal_CFLAGS = $(NL_UNIT_CFLAGS)
%canon_reldir%_test_conf_equal_LDADD = $(NL_UNIT_LIBS)

# What -t checks beyond the file (folders, ports), in a temp folder.
check_PROGRAMS += %reldir%/test_preflight
TESTS += %reldir%/test_preflight
%canon_reldir%_test_preflight_SOURCES = %reldir%/test_preflight.c
%canon_reldir%_test_preflight_CFLAGS = $(NL_UNIT_CFLAGS)
%canon_reldir%_test_preflight_LDADD = $(NL_UNIT_LIBS)
endif
