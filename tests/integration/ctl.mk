# tests/integration/ctl.mk - netlabctl against the real daemon and against
# a scripted fake control socket.
TESTS += %reldir%/test_netlabctl.py

EXTRA_DIST += %reldir%/test_netlabctl.py
