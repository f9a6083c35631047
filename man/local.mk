# man/local.mk - the man pages, made from man/*.in with the configured
# folders (the config file, the pidfile, the control socket, plugin_dir)
# filled in, so that FILES says where this build looks.
NL_MANS = \
	%reldir%/netlabctl.8 \
	%reldir%/netlabd.8 \
	%reldir%/netlabd.conf.5 \
	%reldir%/netlabd-plugin.3 \
	%reldir%/netlabd-plugin-run.1

nodist_man_MANS += $(NL_MANS)
CLEANFILES += $(NL_MANS)
EXTRA_DIST += $(NL_MANS:=.in)

$(NL_MANS): Makefile
	$(AM_V_GEN)$(MKDIR_P) %reldir% && \
	$(nl_subst) $(srcdir)/$@.in > $@-t && mv -f $@-t $@
%reldir%/netlabctl.8: $(srcdir)/%reldir%/netlabctl.8.in
%reldir%/netlabd.8: $(srcdir)/%reldir%/netlabd.8.in
%reldir%/netlabd.conf.5: $(srcdir)/%reldir%/netlabd.conf.5.in
%reldir%/netlabd-plugin.3: $(srcdir)/%reldir%/netlabd-plugin.3.in
%reldir%/netlabd-plugin-run.1: $(srcdir)/%reldir%/netlabd-plugin-run.1.in
