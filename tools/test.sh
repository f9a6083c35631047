#!/bin/bash
# tools/test.sh - build netlabd and run its tests (`make check`).
#
#   tools/test.sh                 build in build/ and test
#   tools/test.sh --sanitizers    the same in build-san/, configured with
#                                 --enable-sanitizers (ASan + UBSan)
#
# As root it first installs any missing Debian packages (tools/bootstrap.sh).
# When a test fails, its .log is printed.  The last line is a summary,
# "N passed, N failed" (and ", N skipped" when some were), counted from
# the tests' .trs files.  Exits non-zero when the build or a test failed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
bootstrap_args=()
for arg in "$@"; do
    case $arg in
    --sanitizers | --enable-sanitizers) bootstrap_args+=(--sanitizers) ;;
    -h | --help)
        sed -n '2,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
        exit 0
        ;;
    *)
        echo "test.sh: unknown argument: $arg (usage: tools/test.sh [--sanitizers])" >&2
        exit 1
        ;;
    esac
done

# shellcheck source=tools/bootstrap.sh
. "$here/bootstrap.sh"
nl_dirs "${bootstrap_args[@]}"
# In a subshell, so that a failed build still ends with the summary.
status=0
(nl_bootstrap "${bootstrap_args[@]}") || status=$?
if [ ! -f "$NL_BUILD_DIR/Makefile" ]; then
    echo "test.sh: no build in ${NL_BUILD_DIR}; see the messages above" >&2
    echo
    echo "0 passed, 0 failed"
    exit "$(( status ? status : 1 ))"
fi
cd "$NL_BUILD_DIR"

# Results of an earlier run must not be counted: make check only removes
# the logs of the tests it is about to run, and none if the build fails.
if [ -d tests ]; then
    find tests \( -name '*.trs' -o -name '*.log' \) -type f -delete
fi
rm -f test-suite.log

if [ "$status" -eq 0 ]; then
    make -j2 check || status=$?
else
    # The build failed: make check would only fail again the same way.
    echo "test.sh: the build failed; no test was run" >&2
fi

mapfile -t trs_files < <(find tests -name '*.trs' -type f 2>/dev/null | sort)

# Logs of the tests that failed.
for trs in "${trs_files[@]}"; do
    if grep -Eq '^:test-result: (FAIL|ERROR|XPASS)' "$trs"; then
        log=${trs%.trs}.log
        printf '\n===== %s =====\n' "${log#./}"
        if [ -f "$log" ]; then
            cat "$log"
        else
            echo "(no log file)"
        fi
    fi
done

read -r passed failed skipped < <(
    if [ "${#trs_files[@]}" -gt 0 ]; then
        cat "${trs_files[@]}"
    fi | awk '
        /^:test-result: (PASS|XFAIL)/       { p++ }
        /^:test-result: (FAIL|ERROR|XPASS)/ { f++ }
        /^:test-result: SKIP/               { s++ }
        END { printf "%d %d %d\n", p, f, s }')

if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
    echo
    echo "test.sh: exit status $status from the build or make check;" \
         "see the output above"
fi
if [ "$status" -eq 0 ] && [ "$failed" -ne 0 ]; then
    status=1
fi

echo
summary="$passed passed, $failed failed"
if [ "$skipped" -gt 0 ]; then
    summary+=", $skipped skipped"
fi
echo "$summary"
exit "$status"
