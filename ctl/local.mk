# ctl/local.mk - netlabctl, the control socket's client, and the unit test
# of its JSON reader.  The default socket matches the daemon's default
# `control` (daemon/conf.c); NETLABD_CONTROL or -s override it at run time.
sbin_PROGRAMS += %reldir%/netlabctl
%canon_reldir%_netlabctl_SOURCES = \
	%reldir%/json_parse.c \
	%reldir%/json_parse.h \
	%reldir%/netlabctl.c
%canon_reldir%_netlabctl_CPPFLAGS = $(AM_CPPFLAGS) \
	-DNL_DEFAULT_CONTROL='"/run/netlabd/control.sock"'
%canon_reldir%_netlabctl_CFLAGS = $(AM_CFLAGS)

dist_man_MANS += man/netlabctl.8

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
