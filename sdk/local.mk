# sdk/local.mk - what a handler author uses besides <netlabd/plugin.h> and
# netlabd-plugin.pc (see Makefile.am): netlabd-plugin-run, which serves
# standard input to a handler through the daemon's own loader and session
# code, linked from daemon/libnetlabd.a.
bin_PROGRAMS += %reldir%/netlabd-plugin-run
%canon_reldir%_netlabd_plugin_run_SOURCES = %reldir%/plugin_run.c
%canon_reldir%_netlabd_plugin_run_LDADD = $(NL_DAEMON_LIBS)

# Its man page, netlabd-plugin-run(1), is made in man/local.mk.
