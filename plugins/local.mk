# The handlers that ship: libtool modules installed in $(pkglibdir), one
# source file each, built from <netlabd/plugin.h> alone.
NL_PLUGIN_LDFLAGS = -module -avoid-version -shared

pkglib_LTLIBRARIES += \
	%reldir%/echo.la \
	%reldir%/greeter.la \
	%reldir%/logger.la \
	%reldir%/timestamp.la \
	%reldir%/upper.la

%canon_reldir%_echo_la_SOURCES = %reldir%/echo.c
%canon_reldir%_echo_la_LDFLAGS = $(NL_PLUGIN_LDFLAGS)

%canon_reldir%_greeter_la_SOURCES = %reldir%/greeter.c
%canon_reldir%_greeter_la_LDFLAGS = $(NL_PLUGIN_LDFLAGS)

%canon_reldir%_logger_la_SOURCES = %reldir%/logger.c
%canon_reldir%_logger_la_LDFLAGS = $(NL_PLUGIN_LDFLAGS)

%canon_reldir%_timestamp_la_SOURCES = %reldir%/timestamp.c
%canon_reldir%_timestamp_la_LDFLAGS = $(NL_PLUGIN_LDFLAGS)

%canon_reldir%_upper_la_SOURCES = %reldir%/upper.c
%canon_reldir%_upper_la_LDFLAGS = $(NL_PLUGIN_LDFLAGS)
