# Handlers that break the contract on purpose, for the loader tests and
# the integration tests.  check_LTLIBRARIES are never installed, so
# libtool needs -rpath to build them as shared objects at all.
NL_TEST_PLUGIN_LDFLAGS = -module -avoid-version -shared -rpath /nowhere

check_LTLIBRARIES += \
	%reldir%/bad_abi.la \
	%reldir%/bad_magic.la \
	%reldir%/crash.la \
	%reldir%/init_fail.la \
	%reldir%/no_symbol.la \
	%reldir%/sd_env.la \
	%reldir%/slow_init.la

%canon_reldir%_bad_abi_la_SOURCES = %reldir%/bad_abi.c
%canon_reldir%_bad_abi_la_LDFLAGS = $(NL_TEST_PLUGIN_LDFLAGS)

%canon_reldir%_bad_magic_la_SOURCES = %reldir%/bad_magic.c
%canon_reldir%_bad_magic_la_LDFLAGS = $(NL_TEST_PLUGIN_LDFLAGS)

%canon_reldir%_crash_la_SOURCES = %reldir%/crash.c
%canon_reldir%_crash_la_LDFLAGS = $(NL_TEST_PLUGIN_LDFLAGS)

%canon_reldir%_init_fail_la_SOURCES = %reldir%/init_fail.c
%canon_reldir%_init_fail_la_LDFLAGS = $(NL_TEST_PLUGIN_LDFLAGS)

%canon_reldir%_no_symbol_la_SOURCES = %reldir%/no_symbol.c
%canon_reldir%_no_symbol_la_LDFLAGS = $(NL_TEST_PLUGIN_LDFLAGS)

%canon_reldir%_sd_env_la_SOURCES = %reldir%/sd_env.c
%canon_reldir%_sd_env_la_LDFLAGS = $(NL_TEST_PLUGIN_LDFLAGS)

%canon_reldir%_slow_init_la_SOURCES = %reldir%/slow_init.c
%canon_reldir%_slow_init_la_LDFLAGS = $(NL_TEST_PLUGIN_LDFLAGS)
