# examples/local.mk - the example handler a plugin author copies.  It is
# built here too (never installed from here), so that the suite tests it
# and -Wall -Wextra see it; it is installed as documentation, with the
# two-line Makefile that builds it out of the tree through pkg-config.
check_LTLIBRARIES += %reldir%/kv/kv.la
%canon_reldir%_kv_kv_la_SOURCES = %reldir%/kv/kv.c
%canon_reldir%_kv_kv_la_LDFLAGS = -module -avoid-version -shared -rpath /nowhere

kvexampledir = $(docdir)/examples/kv
dist_kvexample_DATA = %reldir%/kv/Makefile %reldir%/kv/kv.c
