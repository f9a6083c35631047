# The daemon.  Everything but main.c goes into a static library, so that
# each unit test links its module (and only what that module pulls in).
noinst_LIBRARIES = %reldir%/libnetlabd.a
%canon_reldir%_libnetlabd_a_CFLAGS = $(AM_CFLAGS) $(LIBCONFIG_CFLAGS)
%canon_reldir%_libnetlabd_a_SOURCES = \
	%reldir%/activation.c \
	%reldir%/activation.h \
	%reldir%/admit.c \
	%reldir%/admit.h \
	%reldir%/access.c \
	%reldir%/access.h \
	%reldir%/blocking.c \
	%reldir%/blocking.h \
	%reldir%/buf.c \
	%reldir%/buf.h \
	%reldir%/commands.c \
	%reldir%/commands.h \
	%reldir%/conf.c \
	%reldir%/conf.h \
	%reldir%/conf_include.c \
	%reldir%/conf_include.h \
	%reldir%/conf_int.h \
	%reldir%/conf_keys.c \
	%reldir%/conf_kinds.c \
	%reldir%/conf_listener.c \
	%reldir%/conf_value.c \
	%reldir%/control.c \
	%reldir%/control.h \
	%reldir%/drain.c \
	%reldir%/drain.h \
	%reldir%/errs.c \
	%reldir%/errs.h \
	%reldir%/json.c \
	%reldir%/json.h \
	%reldir%/log.c \
	%reldir%/log.h \
	%reldir%/master.c \
	%reldir%/master.h \
	%reldir%/master_int.h \
	%reldir%/metrics.c \
	%reldir%/metrics.h \
	%reldir%/metrics_http.c \
	%reldir%/metrics_http.h \
	%reldir%/model.c \
	%reldir%/model.h \
	%reldir%/model_libev.c \
	%reldir%/model_prefork.c \
	%reldir%/model_threads.c \
	%reldir%/notify.c \
	%reldir%/notify.h \
	%reldir%/pidfile.c \
	%reldir%/pidfile.h \
	%reldir%/pool.c \
	%reldir%/pool.h \
	%reldir%/plugin_check.c \
	%reldir%/plugin_check.h \
	%reldir%/plugins.c \
	%reldir%/plugins.h \
	%reldir%/preflight.c \
	%reldir%/preflight.h \
	%reldir%/privs.c \
	%reldir%/privs.h \
	%reldir%/proxy.c \
	%reldir%/proxy.h \
	%reldir%/reload.c \
	%reldir%/reload.h \
	%reldir%/reload_apply.c \
	%reldir%/sdnotify.c \
	%reldir%/sdnotify.h \
	%reldir%/sources.c \
	%reldir%/sources.h \
	%reldir%/serve.c \
	%reldir%/serve.h \
	%reldir%/session.c \
	%reldir%/session.h \
	%reldir%/session_int.h \
	%reldir%/session_proxy.c \
	%reldir%/stats.c \
	%reldir%/stats.h \
	%reldir%/supervisor.c \
	%reldir%/supervisor.h \
	%reldir%/transport.c \
	%reldir%/transport.h \
	%reldir%/transport_inet.c \
	%reldir%/transport_plain.c \
	%reldir%/transport_sock.c \
	%reldir%/transport_unix.c \
	%reldir%/util.c \
	%reldir%/util.h

NL_DAEMON_LIBS = %reldir%/libnetlabd.a $(LIBCONFIG_LIBS) $(LIBEV_LIBS) \
	$(DL_LIBS) $(PTHREAD_LIBS)

sbin_PROGRAMS += %reldir%/netlabd
%canon_reldir%_netlabd_SOURCES = %reldir%/main.c
%canon_reldir%_netlabd_LDADD = $(NL_DAEMON_LIBS)

# daemon/paths.h: the configured folders, made from paths.h.in by make.
# The objects that include it depend on it (automake's dependency
# tracking), so a reconfigure that changes a folder recompiles them; a
# reconfigure that changes none leaves it, and them, untouched (the stamp
# is what is compared with Makefile).
BUILT_SOURCES += %reldir%/paths.h
DISTCLEANFILES += %reldir%/paths.h %reldir%/paths.stamp
EXTRA_DIST += %reldir%/paths.h.in

%reldir%/paths.h: %reldir%/paths.stamp
	@test -f $@ || { rm -f %reldir%/paths.stamp; \
	  $(MAKE) $(AM_MAKEFLAGS) %reldir%/paths.stamp; }
%reldir%/paths.stamp: $(srcdir)/%reldir%/paths.h.in Makefile
	$(AM_V_GEN)$(MKDIR_P) %reldir% && \
	$(nl_subst) $(srcdir)/%reldir%/paths.h.in > %reldir%/paths.h-t && \
	if cmp -s %reldir%/paths.h-t %reldir%/paths.h; then \
	  rm -f %reldir%/paths.h-t; \
	else \
	  mv -f %reldir%/paths.h-t %reldir%/paths.h; \
	fi && touch $@
