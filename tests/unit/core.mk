# Unit tests of the daemon's core modules; each links the daemon library,
# from which only the objects it needs are pulled in.
if UNIT_TESTS
NL_UNIT_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(LIBCONFIG_CFLAGS)
NL_UNIT_LIBS = daemon/libnetlabd.a $(CMOCKA_LIBS) $(LIBCONFIG_LIBS) \
	$(LIBEV_LIBS) $(DL_LIBS) $(PTHREAD_LIBS)

check_PROGRAMS += %reldir%/test_session
TESTS += %reldir%/test_session
%canon_reldir%_test_session_SOURCES = %reldir%/test_session.c
%canon_reldir%_test_session_CFLAGS = $(NL_UNIT_CFLAGS)
%canon_reldir%_test_session_LDADD = $(NL_UNIT_LIBS)
endif
