# etc/local.mk - configuration files, the systemd unit, the man pages and
# the helper scripts.

# The annotated configuration is installed as an example, never over
# /etc/netlabd.conf.
examplesdir = $(docdir)/examples
dist_examples_DATA = %reldir%/netlabd.conf

# The systemd unit is only shipped: its paths (/usr/sbin/netlabd,
# /etc/netlabd.conf) are those of a distribution package, which installs it.
EXTRA_DIST += \
	%reldir%/netlabd.local.conf \
	systemd/netlabd.service \
	tools/bootstrap.sh \
	tools/run-local.sh \
	tools/test.sh

dist_man_MANS += \
	man/netlabd.8 \
	man/netlabd.conf.5 \
	man/netlabd-plugin.3
