# Integration tests of the concurrency models: load, limits and stop under
# each model, and prefork's crash recovery.
TESTS += %reldir%/test_models.py
TESTS += %reldir%/test_prefork.py
EXTRA_DIST += %reldir%/test_models.py
EXTRA_DIST += %reldir%/test_prefork.py
