# Integration tests of the concurrency models: load, limits and stop under
# each model, prefork's crash recovery, and slow clients against small pools.
TESTS += %reldir%/test_models.py
TESTS += %reldir%/test_prefork.py
TESTS += %reldir%/test_slow_clients.py
EXTRA_DIST += %reldir%/test_models.py
EXTRA_DIST += %reldir%/test_prefork.py
EXTRA_DIST += %reldir%/test_slow_clients.py
