# tests/integration/sdnotify.mk - netlabd under systemd's protocols: the
# notify socket (READY, RELOADING, STOPPING, STATUS, the watchdog) and
# socket activation with systemd-socket-activate.
TESTS += %reldir%/test_sdnotify.py
TESTS += %reldir%/test_activation.py

EXTRA_DIST += %reldir%/test_sdnotify.py
EXTRA_DIST += %reldir%/test_activation.py
