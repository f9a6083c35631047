# etc/local.mk - the example configuration, installed as
# $(sysconfdir)/netlabd.conf, and the helper scripts.

# etc/netlabd.conf is made from netlabd.conf.in with the configured folders
# (pidfile, control socket and unix sockets under $(runstatedir)/netlabd).
# It is installed twice: as the documentation's example, and as
# $(sysconfdir)/netlabd.conf unless a file is already there, since that one
# is the operator's.  Uninstalling removes the latter only while it is
# still the file that was installed.
examplesdir = $(docdir)/examples
nodist_examples_DATA = %reldir%/netlabd.conf
CLEANFILES += %reldir%/netlabd.conf
EXTRA_DIST += %reldir%/netlabd.conf.in

%reldir%/netlabd.conf: $(srcdir)/%reldir%/netlabd.conf.in Makefile
	$(AM_V_GEN)$(MKDIR_P) %reldir% && \
	$(nl_subst) $(srcdir)/%reldir%/netlabd.conf.in > $@-t && mv -f $@-t $@

install-data-hook:
	@conf='$(DESTDIR)$(sysconfdir)/netlabd.conf'; \
	if test -f "$$conf"; then \
	  echo "netlabd: $$conf exists, not replacing it (the new example is in $(DESTDIR)$(examplesdir))"; \
	else \
	  echo " $(MKDIR_P) '$(DESTDIR)$(sysconfdir)'"; \
	  $(MKDIR_P) '$(DESTDIR)$(sysconfdir)' || exit 1; \
	  echo " $(INSTALL_DATA) %reldir%/netlabd.conf '$$conf'"; \
	  $(INSTALL_DATA) %reldir%/netlabd.conf "$$conf" || exit 1; \
	fi

uninstall-hook:
	@conf='$(DESTDIR)$(sysconfdir)/netlabd.conf'; \
	if test ! -f "$$conf"; then \
	  :; \
	elif cmp -s %reldir%/netlabd.conf "$$conf"; then \
	  echo " rm -f '$$conf'"; \
	  rm -f "$$conf"; \
	else \
	  echo "netlabd: $$conf was changed since it was installed; not removing it"; \
	fi

EXTRA_DIST += \
	%reldir%/netlabd.local.conf \
	tools/bootstrap.sh \
	tools/run-local.sh \
	tools/test.sh

# The Debian packaging and its test, so that a release tarball builds a
# package too.
EXTRA_DIST += \
	debian/changelog \
	debian/control \
	debian/netlabd-dev.install \
	debian/netlabd.install \
	debian/netlabd.postinst \
	debian/netlabd.tmpfiles \
	debian/not-installed \
	debian/rules \
	debian/source/format \
	tools/test-deb.sh
