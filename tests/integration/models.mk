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
