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

check_PROGRAMS += %reldir%/test_json
TESTS += %reldir%/test_json
%canon_reldir%_test_json_SOURCES = %reldir%/test_json.c
%canon_reldir%_test_json_CFLAGS = $(NL_UNIT_CFLAGS)
%canon_reldir%_test_json_LDADD = $(NL_UNIT_LIBS)

check_PROGRAMS += %reldir%/test_log
TESTS += %reldir%/test_log
%canon_reldir%_test_log_SOURCES = %reldir%/test_log.c
%canon_reldir%_test_log_CFLAGS = $(NL_UNIT_CFLAGS)
%canon_reldir%_test_log_LDADD = $(NL_UNIT_LIBS)

check_PROGRAMS += %reldir%/test_pidfile
TESTS += %reldir%/test_pidfile
%canon_reldir%_test_pidfile_SOURCES = %reldir%/test_pidfile.c
%canon_reldir%_test_pidfile_CFLAGS = $(NL_UNIT_CFLAGS)
%canon_reldir%_test_pidfile_LDADD = $(NL_UNIT_LIBS)

check_PROGRAMS += %reldir%/test_transport
TESTS += %reldir%/test_transport
%canon_reldir%_test_transport_SOURCES = %reldir%/test_transport.c
%canon_reldir%_test_transport_CFLAGS = $(NL_UNIT_CFLAGS)
%canon_reldir%_test_transport_LDADD = $(NL_UNIT_LIBS)

check_PROGRAMS += %reldir%/test_models
TESTS += %reldir%/test_models
%canon_reldir%_test_models_SOURCES = %reldir%/test_models.c
%canon_reldir%_test_models_CFLAGS = $(NL_UNIT_CFLAGS)
%canon_reldir%_test_models_LDADD = $(NL_UNIT_LIBS)
endif
