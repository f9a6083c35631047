# Tests of what make install puts where, the systemd units and the man
# pages.  They run on the build tree (NETLABD_BUILDDIR) and the configured
# folders (NL_*), both set by AM_TESTS_ENVIRONMENT.
TESTS += %reldir%/test_install.py
TESTS += %reldir%/test_units.py
TESTS += %reldir%/test_man.py

EXTRA_DIST += %reldir%/test_install.py
EXTRA_DIST += %reldir%/test_units.py
EXTRA_DIST += %reldir%/test_man.py
