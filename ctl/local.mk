# ctl/local.mk - netlabctl, the control socket's client, and the unit test
# of its JSON reader.  The default socket is the daemon's default `control`
# (NL_DEFAULT_CONTROL, daemon/paths.h); NETLABD_CONTROL or -s override it
# at run time.  It goes in bindir: members of the control socket's group
# use it, not only root.
bin_PROGRAMS += %reldir%/netlabctl
%canon_reldir%_netlabctl_SOURCES = \
	%reldir%/json_parse.c \
	%reldir%/json_parse.h \
	%reldir%/netlabctl.c
%canon_reldir%_netlabctl_CFLAGS = $(AM_CFLAGS)

if UNIT_TESTS
check_PROGRAMS += tests/unit/test_json_parse
TESTS += tests/unit/test_json_parse
tests_unit_test_json_parse_SOURCES = \
	%reldir%/json_parse.c \
	tests/unit/test_json_parse.c
tests_unit_test_json_parse_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/%reldir%
tests_unit_test_json_parse_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_json_parse_LDADD = $(CMOCKA_LIBS)
endif
