# ctl/local.mk - netlabctl, the control socket's client.  It reads the
# daemon's JSON answers with json-c, which only netlabctl links.  The
# default socket is the daemon's default `control` (NL_DEFAULT_CONTROL,
# daemon/paths.h); NETLABD_CONTROL or -s override it at run time.  It goes
# in bindir: members of the control socket's group use it, not only root.
bin_PROGRAMS += %reldir%/netlabctl
%canon_reldir%_netlabctl_SOURCES = \
	%reldir%/answer.c \
	%reldir%/answer.h \
	%reldir%/netlabctl.c \
	%reldir%/print.c \
	%reldir%/print.h \
	%reldir%/talk.c \
	%reldir%/talk.h
%canon_reldir%_netlabctl_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
%canon_reldir%_netlabctl_LDADD = $(JSONC_LIBS)
