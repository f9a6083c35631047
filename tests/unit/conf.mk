# tests/unit/conf.mk - the unit test of daemon/conf.c: good and bad config
# files under conf/, each bad one paired in test_conf.c with the exact
# error lines it must give.  test_conf also loads etc/netlabd.conf.
if UNIT_TESTS
check_PROGRAMS += %reldir%/test_conf
TESTS += %reldir%/test_conf
endif

%canon_reldir%_test_conf_SOURCES = %reldir%/test_conf.c
%canon_reldir%_test_conf_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) \
	$(LIBCONFIG_CFLAGS)
%canon_reldir%_test_conf_LDADD = daemon/libnetlabd.a $(CMOCKA_LIBS) \
	$(LIBCONFIG_LIBS)

EXTRA_DIST += \
	%reldir%/conf/bad-duplicate-address.conf \
	%reldir%/conf/bad-duplicate-name.conf \
	%reldir%/conf/bad-empty.conf \
	%reldir%/conf/group-only.conf \
	%reldir%/conf/bad-include-deep.conf \
	%reldir%/conf/bad-include-folder.conf \
	%reldir%/conf/bad-include-missing.conf \
	%reldir%/conf/bad-include-slash.conf \
	%reldir%/conf/bad-include-nested.conf \
	%reldir%/conf/bad-include-nested.inc \
	%reldir%/conf/bad-include.conf \
	%reldir%/conf/bad-include.inc \
	%reldir%/conf/bad-inet-no-address.conf \
	%reldir%/conf/bad-listener-type.conf \
	%reldir%/conf/bad-listeners.conf \
	%reldir%/conf/bad-log-level.conf \
	%reldir%/conf/bad-long-path.conf \
	%reldir%/conf/bad-many.conf \
	%reldir%/conf/bad-missing-handler.conf \
	%reldir%/conf/bad-missing-keys.conf \
	%reldir%/conf/bad-missing-path.conf \
	%reldir%/conf/bad-mode.conf \
	%reldir%/conf/bad-model.conf \
	%reldir%/conf/bad-option.conf \
	%reldir%/conf/bad-port.conf \
	%reldir%/conf/bad-range.conf \
	%reldir%/conf/bad-syntax.conf \
	%reldir%/conf/bad-transport-keys.conf \
	%reldir%/conf/bad-transport-type.conf \
	%reldir%/conf/bad-transport.conf \
	%reldir%/conf/bad-type.conf \
	%reldir%/conf/bad-unix-no-path.conf \
	%reldir%/conf/bad-unknown-key.conf \
	%reldir%/conf/good-defaults.conf \
	%reldir%/conf/good-empty.conf \
	%reldir%/conf/good-full.conf \
	%reldir%/conf/good-include.conf \
	%reldir%/conf/good-include.inc \
	%reldir%/conf/good-nothing.conf
