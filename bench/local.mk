# bench/local.mk - the load generator (nlbench) and the benchmark script.
#
# Nothing here is built by `make` or run by `make check`: timings belong in
# the benchmark, never in the test suite.  `make bench` builds nlbench, the
# daemon and the handlers, then runs bench/run.sh against them; pass options
# with BENCH_FLAGS, e.g. `make bench BENCH_FLAGS="-c 50 -r 5"`.
EXTRA_PROGRAMS += %reldir%/nlbench
%canon_reldir%_nlbench_SOURCES = %reldir%/nlbench.c
%canon_reldir%_nlbench_LDADD = $(PTHREAD_LIBS)
CLEANFILES += %reldir%/nlbench$(EXEEXT)

EXTRA_DIST += \
	%reldir%/README.md \
	%reldir%/run.sh

BENCH_FLAGS =

bench: %reldir%/nlbench$(EXEEXT) daemon/netlabd$(EXEEXT) \
		$(pkglib_LTLIBRARIES)
	NLBENCH='$(abs_top_builddir)/%reldir%/nlbench$(EXEEXT)' \
	NETLABD='$(abs_top_builddir)/daemon/netlabd$(EXEEXT)' \
	NETLABD_PLUGIN_DIR='$(abs_top_builddir)/plugins/.libs' \
	bash '$(top_srcdir)/%reldir%/run.sh' $(BENCH_FLAGS)

.PHONY: bench
