# Integration tests: Python scripts (standard library only) that start the
# real netlabd and talk to it over real sockets; tests/lib/netlabd.py is
# their harness.  Each exits 0 (pass), 77 (skip) or 1 (fail).
TEST_EXTENSIONS = .py
PY_LOG_COMPILER = $(PYTHON3)
AM_PY_LOG_FLAGS = -B

TESTS += \
	%reldir%/test_smoke.py \
	%reldir%/test_manpages.py

EXTRA_DIST += \
	tests/lib/netlabd.py \
	%reldir%/test_smoke.py \
	%reldir%/test_manpages.py
