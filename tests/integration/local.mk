# Integration tests: Python scripts (standard library only) that start the
# real netlabd and talk to it over real sockets; tests/lib/netlabd.py is
# their harness.  Each exits 0 (pass), 77 (skip) or 1 (fail).
TEST_EXTENSIONS = .py
PY_LOG_COMPILER = $(PYTHON3)
AM_PY_LOG_FLAGS = -B

TESTS += \
	%reldir%/test_smoke.py

EXTRA_DIST += \
	tests/lib/netlabd.py \
	%reldir%/test_smoke.py

# Integration tests of handlers over every transport.
TESTS += %reldir%/test_abrupt.py
TESTS += %reldir%/test_limits.py
TESTS += %reldir%/test_matrix.py
TESTS += %reldir%/test_payloads.py
EXTRA_DIST += %reldir%/test_abrupt.py
EXTRA_DIST += %reldir%/test_limits.py
EXTRA_DIST += %reldir%/test_matrix.py
EXTRA_DIST += %reldir%/test_payloads.py

# Who may connect: access rules and per-source limits under every model
# and transport; who may steer netlabd on its control socket.
TESTS += %reldir%/test_access.py
TESTS += %reldir%/test_control_perms.py
EXTRA_DIST += %reldir%/test_access.py
EXTRA_DIST += %reldir%/test_control_perms.py

# Integration tests of the command line, lifecycle and robustness.
TESTS += %reldir%/test_cli.py
TESTS += %reldir%/test_control.py
TESTS += %reldir%/test_crash.py
TESTS += %reldir%/test_lifecycle.py
TESTS += %reldir%/test_operator.py
TESTS += %reldir%/test_signals.py

EXTRA_DIST += %reldir%/test_cli.py
EXTRA_DIST += %reldir%/test_control.py
EXTRA_DIST += %reldir%/test_crash.py
EXTRA_DIST += %reldir%/test_lifecycle.py
EXTRA_DIST += %reldir%/test_operator.py
EXTRA_DIST += %reldir%/test_signals.py
EXTRA_DIST += tests/lib/clitest.py

# Integration tests of the concurrency models: load, limits and stop under
# each model, prefork's crash recovery, slow clients against small pools,
# and each model (and the master's control socket) at its descriptor limit.
TESTS += %reldir%/test_models.py
TESTS += %reldir%/test_prefork.py
TESTS += %reldir%/test_slow_clients.py
TESTS += %reldir%/test_fd_limit.py
EXTRA_DIST += %reldir%/test_models.py
EXTRA_DIST += %reldir%/test_prefork.py
EXTRA_DIST += %reldir%/test_slow_clients.py
EXTRA_DIST += %reldir%/test_fd_limit.py

# Netlabctl against the real daemon and against a scripted fake control
# socket, and against a flood of silent clients; its metrics against
# promtool.
TESTS += %reldir%/test_netlabctl.py
TESTS += %reldir%/test_control_flood.py
TESTS += %reldir%/test_metrics.py
TESTS += %reldir%/test_access_log.py
EXTRA_DIST += %reldir%/test_metrics.py
EXTRA_DIST += %reldir%/test_access_log.py

# proxy_protocol: v1 and v2 headers, good and malformed, late, LOCAL, and
# the client they name under the rules and limits, under every model.
TESTS += %reldir%/test_proxy_protocol.py
EXTRA_DIST += %reldir%/test_proxy_protocol.py

# Two netlabd behind Debian's HAProxy (send-proxy-v2, health checks):
# both serve, the logs name the clients, one stopped is marked DOWN and
# the rest go to the other.  Skipped without haproxy.
TESTS += %reldir%/test_haproxy.py
EXTRA_DIST += %reldir%/test_haproxy.py

EXTRA_DIST += %reldir%/test_netlabctl.py
EXTRA_DIST += %reldir%/test_control_flood.py

# Integration tests of reload (the matrix, under load, a storm of SIGHUPs,
# rebuilt handlers, config files that used to end the master), log reopen
# and privilege drop.
TESTS += %reldir%/test_bad_config.py
TESTS += %reldir%/test_logs_privs.py
TESTS += %reldir%/test_reload.py
TESTS += %reldir%/test_reload_async.py
TESTS += %reldir%/test_reload_load.py
TESTS += %reldir%/test_reload_plugin.py
TESTS += %reldir%/test_reload_storm.py

EXTRA_DIST += %reldir%/test_bad_config.py
EXTRA_DIST += %reldir%/test_logs_privs.py
EXTRA_DIST += %reldir%/test_reload.py
EXTRA_DIST += %reldir%/test_reload_async.py
EXTRA_DIST += %reldir%/test_reload_load.py
EXTRA_DIST += %reldir%/test_reload_plugin.py
EXTRA_DIST += %reldir%/test_reload_storm.py

# What a plugin author uses: netlabd-plugin-run on every shipped handler and
# the example, and an install into a temporary prefix that builds the
# example against the installed header with pkg-config, serves it with the
# installed netlabd and reloads it rebuilt.
TESTS += %reldir%/test_plugin_run.py
TESTS += %reldir%/test_sdk_install.py

EXTRA_DIST += %reldir%/test_plugin_run.py
EXTRA_DIST += %reldir%/test_sdk_install.py

# A handler that ends its session with -1, for the runner's exit status 2.
check_LTLIBRARIES += tests/plugins/fail_data.la
tests_plugins_fail_data_la_SOURCES = tests/plugins/fail_data.c
tests_plugins_fail_data_la_LDFLAGS = $(NL_TEST_PLUGIN_LDFLAGS)

# Tests of what make install puts where, the systemd units and the man
# pages.  They run on the build tree (NETLABD_BUILDDIR) and the configured
# folders (NL_*), both set by AM_TESTS_ENVIRONMENT.
TESTS += %reldir%/test_install.py
TESTS += %reldir%/test_units.py
TESTS += %reldir%/test_man.py

EXTRA_DIST += %reldir%/test_install.py
EXTRA_DIST += %reldir%/test_units.py
EXTRA_DIST += %reldir%/test_man.py

# Netlabd under systemd's protocols: the notify socket (READY, RELOADING,
# STOPPING, STATUS, the watchdog) and socket activation with systemd-socket-
# activate.
TESTS += %reldir%/test_sdnotify.py
TESTS += %reldir%/test_activation.py

EXTRA_DIST += %reldir%/test_sdnotify.py
EXTRA_DIST += %reldir%/test_activation.py

# The benchmark's baseline server answers as the handlers do (bench/nlbase).
TESTS += %reldir%/test_bench_base.py
EXTRA_DIST += %reldir%/test_bench_base.py

# The benchmark's load generator counts what it should in every mode, and
# each kind of trouble, against nlbase and netlabd (bench/nlbench).
TESTS += %reldir%/test_nlbench.py
EXTRA_DIST += %reldir%/test_nlbench.py

# Pools that grow: prefork and threads start `workers`, grow up to
# max_workers under load, and end idle extras (issue 10).
TESTS += %reldir%/test_pools.py
EXTRA_DIST += %reldir%/test_pools.py

# bench/run.sh runs end to end (a short run: every scenario row, the JSON
# lines, the idle rows, a missing peer shown as such, an interrupted run
# leaving the last results whole); never a figure.  The files run.sh
# needs beside itself go into the tarball so that distcheck can run it.
TESTS += %reldir%/test_bench_run.py
EXTRA_DIST += %reldir%/test_bench_run.py
