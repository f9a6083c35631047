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
