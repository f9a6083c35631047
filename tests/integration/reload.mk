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
