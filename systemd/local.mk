# systemd/local.mk - netlabd.service and the socket activation examples,
# made from systemd/*.in with the configured folders and installed in
# --with-systemdsystemunitdir (by default $(prefix)/lib/systemd/system;
# not at all with --without-systemdsystemunitdir).  They are made even
# when they are not installed, for tests/integration/test_units.sh.
NL_UNITS = \
	%reldir%/netlabd.service \
	%reldir%/netlabd.socket \
	%reldir%/netlabd-greeter.socket

if SYSTEMD_UNITS
nodist_systemdsystemunit_DATA = $(NL_UNITS)
else
noinst_DATA += $(NL_UNITS)
endif
CLEANFILES += $(NL_UNITS)
EXTRA_DIST += $(NL_UNITS:=.in)

$(NL_UNITS): Makefile
	$(AM_V_GEN)$(MKDIR_P) %reldir% && \
	$(nl_subst) $(srcdir)/$@.in > $@-t && mv -f $@-t $@
%reldir%/netlabd.service: $(srcdir)/%reldir%/netlabd.service.in
%reldir%/netlabd.socket: $(srcdir)/%reldir%/netlabd.socket.in
%reldir%/netlabd-greeter.socket: $(srcdir)/%reldir%/netlabd-greeter.socket.in
