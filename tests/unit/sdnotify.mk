# tests/unit/sdnotify.mk - the unit test of the systemd protocols:
# NOTIFY_SOCKET and the watchdog variables, the datagrams, and the
# LISTEN_* variables of socket activation.  Included after core.mk, whose
# NL_UNIT_CFLAGS and NL_UNIT_LIBS it reuses.
if UNIT_TESTS
check_PROGRAMS += %reldir%/test_sdnotify
TESTS += %reldir%/test_sdnotify
%canon_reldir%_test_sdnotify_SOURCES = %reldir%/test_sdnotify.c
%canon_reldir%_test_sdnotify_CFLAGS = $(NL_UNIT_CFLAGS)
%canon_reldir%_test_sdnotify_LDADD = $(NL_UNIT_LIBS)
endif
