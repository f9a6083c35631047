# The loader and the shipped handlers.  Both tests dlopen built modules,
# found through NETLABD_PLUGIN_DIR (plugins/.libs) and
# NETLABD_TEST_PLUGIN_DIR (tests/plugins/.libs) in AM_TESTS_ENVIRONMENT;
# make check builds pkglib_ and check_LTLIBRARIES before it runs a test.
if UNIT_TESTS
check_PROGRAMS += %reldir%/test_plugins %reldir%/test_handlers
TESTS += %reldir%/test_plugins %reldir%/test_handlers

NL_PLUGINS_TEST_LDADD = daemon/libnetlabd.a $(CMOCKA_LIBS) \
	$(LIBCONFIG_LIBS) $(DL_LIBS)

%canon_reldir%_test_plugins_SOURCES = %reldir%/test_plugins.c
%canon_reldir%_test_plugins_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
%canon_reldir%_test_plugins_LDADD = $(NL_PLUGINS_TEST_LDADD)

%canon_reldir%_test_handlers_SOURCES = %reldir%/test_handlers.c
%canon_reldir%_test_handlers_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
%canon_reldir%_test_handlers_LDADD = $(NL_PLUGINS_TEST_LDADD)
endif
