# bench/local.mk - the load generator (nlbench), the baseline server
# (nlbase) and the benchmark script.
#
# Nothing here is run by `make check`: timings belong in the benchmark,
# never in the test suite.  `make bench` builds nlbench, nlbase, the daemon
# and the handlers, then runs bench/run.sh against them; pass options with
# BENCH_FLAGS, e.g. `make bench BENCH_FLAGS="-c 50 -r 5"`.
#
# Both programs are built for make check: tests/integration/
# test_bench_base.py checks that nlbase answers as netlabd's handlers do,
# and test_nlbench.py that every nlbench mode counts what it should (what
# they do, never how fast).
check_PROGRAMS += %reldir%/nlbench
%canon_reldir%_nlbench_SOURCES = \
	%reldir%/nlbench.c \
	%reldir%/nlbench.h \
	%reldir%/nlbench_stream.c \
	%reldir%/nlbench_udp.c
%canon_reldir%_nlbench_LDADD = $(PTHREAD_LIBS)

# The baseline server the benchmark quotes netlabd against.
check_PROGRAMS += %reldir%/nlbase
%canon_reldir%_nlbase_SOURCES = %reldir%/nlbase.c
%canon_reldir%_nlbase_LDADD = $(PTHREAD_LIBS)

EXTRA_DIST += \
	%reldir%/README.md \
	%reldir%/callgrind.sh \
	%reldir%/listeners.py \
	%reldir%/peers/pyecho.py \
	%reldir%/peers/twecho.py \
	%reldir%/peers/xinetd.sh \
	%reldir%/plot.gp \
	%reldir%/run.sh

BENCH_FLAGS =

bench: %reldir%/nlbench$(EXEEXT) %reldir%/nlbase$(EXEEXT) \
		daemon/netlabd$(EXEEXT) $(pkglib_LTLIBRARIES)
	NLBENCH='$(abs_top_builddir)/%reldir%/nlbench$(EXEEXT)' \
	NLBASE='$(abs_top_builddir)/%reldir%/nlbase$(EXEEXT)' \
	NETLABD='$(abs_top_builddir)/daemon/netlabd$(EXEEXT)' \
	NETLABD_PLUGIN_DIR='$(abs_top_builddir)/plugins/.libs' \
	bash '$(top_srcdir)/%reldir%/run.sh' $(BENCH_FLAGS)

.PHONY: bench
