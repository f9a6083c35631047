# tests/unit/local.mk - the cmocka unit tests, one program per daemon module.
# Each links the daemon library, from which only the objects it needs are
# pulled in.

# The core modules: sessions, JSON, log, pidfile, transports, models.
if UNIT_TESTS
NL_UNIT_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(LIBCONFIG_CFLAGS)
NL_UNIT_LIBS = daemon/libnetlabd.a $(CMOCKA_LIBS) $(LIBCONFIG_LIBS) \
	$(LIBEV_LIBS) $(DL_LIBS) $(PTHREAD_LIBS)

check_PROGRAMS += %reldir%/test_session
TESTS += %reldir%/test_session
%canon_reldir%_test_session_SOURCES = %reldir%/test_session.c
%canon_reldir%_test_session_CFLAGS = $(NL_UNIT_CFLAGS)
%canon_reldir%_test_session_LDADD = $(NL_UNIT_LIBS)

check_PROGRAMS += %reldir%/test_json
TESTS += %reldir%/test_json
%canon_reldir%_test_json_SOURCES = %reldir%/test_json.c
%canon_reldir%_test_json_CFLAGS = $(NL_UNIT_CFLAGS)
%canon_reldir%_test_json_LDADD = $(NL_UNIT_LIBS)

check_PROGRAMS += %reldir%/test_log
TESTS += %reldir%/test_log
%canon_reldir%_test_log_SOURCES = %reldir%/test_log.c
%canon_reldir%_test_log_CFLAGS = $(NL_UNIT_CFLAGS)
%canon_reldir%_test_log_LDADD = $(NL_UNIT_LIBS)

check_PROGRAMS += %reldir%/test_pidfile
TESTS += %reldir%/test_pidfile
%canon_reldir%_test_pidfile_SOURCES = %reldir%/test_pidfile.c
%canon_reldir%_test_pidfile_CFLAGS = $(NL_UNIT_CFLAGS)
%canon_reldir%_test_pidfile_LDADD = $(NL_UNIT_LIBS)

check_PROGRAMS += %reldir%/test_transport
TESTS += %reldir%/test_transport
%canon_reldir%_test_transport_SOURCES = %reldir%/test_transport.c
%canon_reldir%_test_transport_CFLAGS = $(NL_UNIT_CFLAGS)
%canon_reldir%_test_transport_LDADD = $(NL_UNIT_LIBS)

check_PROGRAMS += %reldir%/test_models
TESTS += %reldir%/test_models
%canon_reldir%_test_models_SOURCES = %reldir%/test_models.c
%canon_reldir%_test_models_CFLAGS = $(NL_UNIT_CFLAGS)
%canon_reldir%_test_models_LDADD = $(NL_UNIT_LIBS)
endif

# The unit test of daemon/conf.c: good and bad config files under conf/,
# each bad one paired in test_conf.c with the exact error lines it must
# give.  test_conf also loads etc/netlabd.conf.
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

# Unit tests of the control socket, the shared counters, the small helpers,
# dropping privileges, comparing listener specs and -t's checks of the
# system.
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

# The wrappers of <netlabd/plugin.h>: they call only what the host table's
# size covers; the test needs nothing but the header.
if UNIT_TESTS
check_PROGRAMS += %reldir%/test_plugin_h
TESTS += %reldir%/test_plugin_h
%canon_reldir%_test_plugin_h_SOURCES = %reldir%/test_plugin_h.c
%canon_reldir%_test_plugin_h_CFLAGS = $(NL_UNIT_CFLAGS)
%canon_reldir%_test_plugin_h_LDADD = $(CMOCKA_LIBS)
endif

# The unit test of the systemd protocols: NOTIFY_SOCKET and the watchdog
# variables, the datagrams, and the LISTEN_* variables of socket
# activation.
if UNIT_TESTS
check_PROGRAMS += %reldir%/test_sdnotify
TESTS += %reldir%/test_sdnotify
%canon_reldir%_test_sdnotify_SOURCES = %reldir%/test_sdnotify.c
%canon_reldir%_test_sdnotify_CFLAGS = $(NL_UNIT_CFLAGS)
%canon_reldir%_test_sdnotify_LDADD = $(NL_UNIT_LIBS)
endif

# The unit test of netlabctl's reading of the daemon's answers
# (ctl/answer.c on json-c): limits, big counters, malformed documents.
if UNIT_TESTS
check_PROGRAMS += %reldir%/test_answer
TESTS += %reldir%/test_answer
%canon_reldir%_test_answer_SOURCES = ctl/answer.c %reldir%/test_answer.c
%canon_reldir%_test_answer_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/ctl
%canon_reldir%_test_answer_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) \
	$(JSONC_CFLAGS)
%canon_reldir%_test_answer_LDADD = $(CMOCKA_LIBS) $(JSONC_LIBS)
endif

# The key table against what is derived from it (what a reload
# compares) and what describes it (etc/netlabd.conf.in, netlabd.conf(5)).
if UNIT_TESTS
check_PROGRAMS += %reldir%/test_conf_keys
TESTS += %reldir%/test_conf_keys
%canon_reldir%_test_conf_keys_SOURCES = %reldir%/test_conf_keys.c
%canon_reldir%_test_conf_keys_CFLAGS = $(NL_UNIT_CFLAGS)
%canon_reldir%_test_conf_keys_LDADD = $(NL_UNIT_LIBS)
endif

# The master's parts: the supervisor with fake serving
# processes, the reload's steps, and the control commands.
if UNIT_TESTS
check_PROGRAMS += %reldir%/test_supervisor
TESTS += %reldir%/test_supervisor
%canon_reldir%_test_supervisor_SOURCES = %reldir%/test_supervisor.c
%canon_reldir%_test_supervisor_CFLAGS = $(NL_UNIT_CFLAGS) $(LIBEV_CFLAGS)
%canon_reldir%_test_supervisor_LDADD = $(NL_UNIT_LIBS)
check_PROGRAMS += %reldir%/test_reload_apply
TESTS += %reldir%/test_reload_apply
%canon_reldir%_test_reload_apply_SOURCES = %reldir%/test_reload_apply.c
%canon_reldir%_test_reload_apply_CFLAGS = $(NL_UNIT_CFLAGS) $(LIBEV_CFLAGS)
%canon_reldir%_test_reload_apply_LDADD = $(NL_UNIT_LIBS)
check_PROGRAMS += %reldir%/test_commands
TESTS += %reldir%/test_commands
%canon_reldir%_test_commands_SOURCES = %reldir%/test_commands.c
%canon_reldir%_test_commands_CFLAGS = $(NL_UNIT_CFLAGS) $(LIBEV_CFLAGS)
%canon_reldir%_test_commands_LDADD = $(NL_UNIT_LIBS)
endif

# Access rules (access.c).
if UNIT_TESTS
check_PROGRAMS += %reldir%/test_access
TESTS += %reldir%/test_access
%canon_reldir%_test_access_SOURCES = %reldir%/test_access.c
%canon_reldir%_test_access_CFLAGS = $(NL_UNIT_CFLAGS)
%canon_reldir%_test_access_LDADD = $(NL_UNIT_LIBS)
endif

# The PROXY protocol header parser (proxy.c).
if UNIT_TESTS
check_PROGRAMS += %reldir%/test_proxy
TESTS += %reldir%/test_proxy
%canon_reldir%_test_proxy_SOURCES = %reldir%/test_proxy.c
%canon_reldir%_test_proxy_CFLAGS = $(NL_UNIT_CFLAGS)
%canon_reldir%_test_proxy_LDADD = $(NL_UNIT_LIBS)
endif

# The per-source table (sources.c).
if UNIT_TESTS
check_PROGRAMS += %reldir%/test_sources
TESTS += %reldir%/test_sources
%canon_reldir%_test_sources_SOURCES = %reldir%/test_sources.c
%canon_reldir%_test_sources_CFLAGS = $(NL_UNIT_CFLAGS)
%canon_reldir%_test_sources_LDADD = $(NL_UNIT_LIBS)
endif

# Admission (admit.c), the poll loop of the blocking models
# (blocking.c), the connection side of the transports, and the model
# registry.
if UNIT_TESTS
check_PROGRAMS += %reldir%/test_admit
TESTS += %reldir%/test_admit
%canon_reldir%_test_admit_SOURCES = %reldir%/test_admit.c
%canon_reldir%_test_admit_CFLAGS = $(NL_UNIT_CFLAGS)
%canon_reldir%_test_admit_LDADD = $(NL_UNIT_LIBS)

check_PROGRAMS += %reldir%/test_blocking
TESTS += %reldir%/test_blocking
%canon_reldir%_test_blocking_SOURCES = %reldir%/test_blocking.c
%canon_reldir%_test_blocking_CFLAGS = $(NL_UNIT_CFLAGS)
%canon_reldir%_test_blocking_LDADD = $(NL_UNIT_LIBS)

check_PROGRAMS += %reldir%/test_conn
TESTS += %reldir%/test_conn
%canon_reldir%_test_conn_SOURCES = %reldir%/test_conn.c
%canon_reldir%_test_conn_CFLAGS = $(NL_UNIT_CFLAGS)
%canon_reldir%_test_conn_LDADD = $(NL_UNIT_LIBS)
endif

# Pools that grow: max_workers in config files (test_conf).
EXTRA_DIST += \
	%reldir%/conf/bad-max-workers.conf \
	%reldir%/conf/good-pools.conf \
	%reldir%/conf/bad-access.conf \
	%reldir%/conf/good-access.conf

# Pools that grow, inside the serving processes: prefork's idle count and
# its 'G' to the master, threads' growth up to max_workers.
if UNIT_TESTS
check_PROGRAMS += %reldir%/test_pools
TESTS += %reldir%/test_pools
%canon_reldir%_test_pools_SOURCES = %reldir%/test_pools.c
%canon_reldir%_test_pools_CFLAGS = $(NL_UNIT_CFLAGS)
%canon_reldir%_test_pools_LDADD = $(NL_UNIT_LIBS)
endif
