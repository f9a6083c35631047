# Integration tests of handlers over every transport.
TESTS += %reldir%/test_abrupt.py
TESTS += %reldir%/test_limits.py
TESTS += %reldir%/test_matrix.py
TESTS += %reldir%/test_payloads.py
EXTRA_DIST += %reldir%/test_abrupt.py
EXTRA_DIST += %reldir%/test_limits.py
EXTRA_DIST += %reldir%/test_matrix.py
EXTRA_DIST += %reldir%/test_payloads.py
