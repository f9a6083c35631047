# tests/integration/ctl.mk - netlabctl against the real daemon and against
# a scripted fake control socket, and against a flood of silent clients.
TESTS += %reldir%/test_netlabctl.py
TESTS += %reldir%/test_control_flood.py

EXTRA_DIST += %reldir%/test_netlabctl.py
EXTRA_DIST += %reldir%/test_control_flood.py
