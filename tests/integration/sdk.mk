# tests/integration/sdk.mk - what a plugin author uses: netlabd-plugin-run
# on every shipped handler and the example, and an install into a
# temporary prefix that builds the example against the installed header
# with pkg-config, serves it with the installed netlabd and reloads it
# rebuilt.
TESTS += %reldir%/test_plugin_run.py
TESTS += %reldir%/test_sdk_install.py

EXTRA_DIST += %reldir%/test_plugin_run.py
EXTRA_DIST += %reldir%/test_sdk_install.py

# A handler that ends its session with -1, for the runner's exit status 2.
check_LTLIBRARIES += tests/plugins/fail_data.la
tests_plugins_fail_data_la_SOURCES = tests/plugins/fail_data.c
tests_plugins_fail_data_la_LDFLAGS = $(NL_TEST_PLUGIN_LDFLAGS)
