# tests/fuzz/local.mk - the libFuzzer targets and their seed corpora.
#
# `make fuzz` builds them in a tree configured with
# CC=clang --enable-fuzzing, where every object (daemon/libnetlabd.a
# too) is compiled with coverage instrumentation and ASan+UBSan; only the
# targets link libFuzzer's main.  tools/fuzz.sh makes such a tree
# (build-fuzz/) and runs each target for a bounded time.  In another
# build `make fuzz` says how to get one.
NL_FUZZ_TARGETS = \
	%reldir%/fuzz_conf$(EXEEXT) \
	%reldir%/fuzz_session$(EXEEXT) \
	%reldir%/fuzz_control$(EXEEXT) \
	%reldir%/fuzz_proxy$(EXEEXT)
EXTRA_PROGRAMS += \
	%reldir%/fuzz_conf \
	%reldir%/fuzz_session \
	%reldir%/fuzz_control \
	%reldir%/fuzz_proxy
CLEANFILES += $(NL_FUZZ_TARGETS)

NL_FUZZ_LDADD = daemon/libnetlabd.a $(LIBCONFIG_LIBS) $(LIBEV_LIBS) \
	$(DL_LIBS) $(PTHREAD_LIBS)

%canon_reldir%_fuzz_conf_SOURCES = %reldir%/fuzz_conf.c %reldir%/fuzz.h
%canon_reldir%_fuzz_conf_CFLAGS = $(AM_CFLAGS) $(LIBCONFIG_CFLAGS)
%canon_reldir%_fuzz_conf_LDFLAGS = $(FUZZ_LINK_FLAGS)
%canon_reldir%_fuzz_conf_LDADD = $(NL_FUZZ_LDADD)

%canon_reldir%_fuzz_session_SOURCES = %reldir%/fuzz_session.c %reldir%/fuzz.h
%canon_reldir%_fuzz_session_LDFLAGS = $(FUZZ_LINK_FLAGS)
%canon_reldir%_fuzz_session_LDADD = $(NL_FUZZ_LDADD)

%canon_reldir%_fuzz_control_SOURCES = %reldir%/fuzz_control.c %reldir%/fuzz.h
%canon_reldir%_fuzz_control_LDFLAGS = $(FUZZ_LINK_FLAGS)
%canon_reldir%_fuzz_control_LDADD = $(NL_FUZZ_LDADD)

%canon_reldir%_fuzz_proxy_SOURCES = %reldir%/fuzz_proxy.c %reldir%/fuzz.h
%canon_reldir%_fuzz_proxy_LDFLAGS = $(FUZZ_LINK_FLAGS)
%canon_reldir%_fuzz_proxy_LDADD = $(NL_FUZZ_LDADD)

if FUZZING
# daemon/paths.h first: it is a BUILT_SOURCE, which only `all` and `check`
# make before anything else.
fuzz:
	$(MAKE) $(AM_MAKEFLAGS) $(BUILT_SOURCES)
	$(MAKE) $(AM_MAKEFLAGS) $(NL_FUZZ_TARGETS)
else
fuzz:
	@echo "make fuzz: configure with CC=clang --enable-fuzzing" \
	  "(or run tools/fuzz.sh, which does)" >&2; exit 1
endif
.PHONY: fuzz

EXTRA_DIST += \
	tools/fuzz.sh \
	%reldir%/README.md \
	%reldir%/conf \
	%reldir%/conf.dict \
	%reldir%/session \
	%reldir%/control \
	%reldir%/control.dict \
	%reldir%/proxy \
	%reldir%/lsan.supp \
	%reldir%/crashes-found
