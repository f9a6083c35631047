# tests/unit/sdk.mk - the wrappers of <netlabd/plugin.h>: they call only
# what the host table's size covers.  Included after core.mk, whose
# NL_UNIT_CFLAGS it reuses; the test needs nothing but the header.
if UNIT_TESTS
check_PROGRAMS += %reldir%/test_plugin_h
TESTS += %reldir%/test_plugin_h
%canon_reldir%_test_plugin_h_SOURCES = %reldir%/test_plugin_h.c
%canon_reldir%_test_plugin_h_CFLAGS = $(NL_UNIT_CFLAGS)
%canon_reldir%_test_plugin_h_LDADD = $(CMOCKA_LIBS)
endif
