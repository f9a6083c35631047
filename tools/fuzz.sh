#!/bin/bash
# tools/fuzz.sh - build the libFuzzer targets and run each for a bounded time.
#
#   tools/fuzz.sh [SECONDS_TOTAL]     default 60, shared evenly by the targets
#
# Builds in build-fuzz/ (configured with CC=clang --enable-fuzzing; as root
# it first installs clang and libFuzzer's runtime when they are missing),
# then runs each target of tests/fuzz for its share of the time on its seed
# corpus, its dictionary and a working corpus kept in
# build-fuzz/tests/fuzz/corpus-TARGET (so that a later run starts from what
# an earlier one found).  Crashes, sanitizer reports, leaks and timeouts
# are written to build-fuzz/tests/fuzz/artifacts-TARGET/.
#
# Prints per target the executions, coverage (libFuzzer's final cov:),
# corpus size and crashes, and exits non-zero when any target crashed,
# reported anything or did not run.  NL_FUZZ_TARGETS="conf session"
# runs only those; NL_FUZZ_ARGS adds libFuzzer options (as -jobs=2).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
root=$(cd "$here/.." && pwd -P)
total=${1:-60}
case $total in
'' | *[!0-9]*)
    echo "usage: tools/fuzz.sh [SECONDS_TOTAL]" >&2
    exit 1
    ;;
esac
read -r -a targets <<<"${NL_FUZZ_TARGETS:-conf session control proxy}"
read -r -a extra <<<"${NL_FUZZ_ARGS:-}"
build=$root/build-fuzz
packages=(clang libclang-rt-14-dev)

say() {
    printf '==> %s\n' "$*" >&2
}

die() {
    printf 'fuzz.sh: %s\n' "$*" >&2
    exit 1
}

# clang and libFuzzer's runtime; the rest of what the build needs is
# bootstrap.sh's list.
# shellcheck source=tools/bootstrap.sh
. "$here/bootstrap.sh"
NL_PACKAGES+=("${packages[@]}")
nl_install_packages

cd "$root"
if nl_need_autoreconf; then
    say "autoreconf -fi"
    autoreconf -fi || die "autoreconf failed"
fi
mkdir -p "$build"
if [ ! -f "$build/config.status" ] || [ configure -nt "$build/config.status" ]; then
    say "configuring $build (CC=clang --enable-fuzzing)"
    (cd "$build" && ../configure -q CC=clang --enable-fuzzing) ||
        die "configure failed (see $build/config.log)"
fi
say "make fuzz"
make -C "$build" -j2 fuzz >"$build/fuzz-build.log" 2>&1 || {
    tail -n 40 "$build/fuzz-build.log" >&2
    die "make fuzz failed"
}

share=$((total / ${#targets[@]}))
[ "$share" -ge 5 ] || share=5
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$root/tests/fuzz/lsan.supp:print_suppressions=0

# The targets' private folders go here: libFuzzer can end a run without
# the targets' atexit() cleanup.
TMPDIR=$(mktemp -d /tmp/nlfuzz.XXXXXX)
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT

failed=0
rows=()
for t in "${targets[@]}"; do
    bin=$build/tests/fuzz/fuzz_$t
    seeds=$root/tests/fuzz/$t
    corpus=$build/tests/fuzz/corpus-$t
    artifacts=$build/tests/fuzz/artifacts-$t
    log=$build/tests/fuzz/fuzz-$t.log
    args=()

    [ -x "$bin" ] || die "no target $bin"
    [ -d "$seeds" ] || die "no seed corpus $seeds"
    mkdir -p "$corpus" "$artifacts"
    [ -f "$root/tests/fuzz/$t.dict" ] && args+=("-dict=$root/tests/fuzz/$t.dict")
    say "fuzz_$t for ${share}s"
    # Inputs of an earlier run stay for replaying; only new ones count.
    touch "$TMPDIR/start-$t"
    rc=0
    # -timeout: one input taking 10 s is a hang; the outer timeout is a
    # bound on the whole run should libFuzzer itself not stop.
    timeout --kill-after=10 $((share + 60)) \
        "$bin" -max_total_time="$share" -timeout=10 -rss_limit_mb=2048 \
        -max_len=8192 -print_final_stats=1 -artifact_prefix="$artifacts/" \
        "${args[@]}" "${extra[@]}" "$corpus" "$seeds" >"$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1 |
        sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(grep -E '^#[0-9]+.*ft: ' "$log" | tail -n 1 |
        sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    ncorpus=$(find "$corpus" -type f | wc -l)
    crashes=$(find "$artifacts" -type f -newer "$TMPDIR/start-$t" | wc -l)
    if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ] ||
        grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log"; then
        failed=1
        echo "----- fuzz_$t failed (exit $rc); end of $log:" >&2
        grep -E -A30 'ERROR: |runtime error:' "$log" | head -n 60 >&2 ||
            tail -n 30 "$log" >&2
        echo "----- inputs: $(find "$artifacts" -type f -newer "$TMPDIR/start-$t" |
            tr '\n' ' ')" >&2
    fi
    rows+=("$(printf '%-14s %12s %8s %8s %8s %8s %6s' "fuzz_$t" \
        "${execs:-?}" "${cov:-?}" "${ft:-?}" "$ncorpus" "$crashes" "$rc")")
done

printf '\n%-14s %12s %8s %8s %8s %8s %6s\n' target executions cov ft corpus \
    crashes exit
printf '%s\n' "${rows[@]}"
if [ "$failed" -ne 0 ]; then
    echo "fuzz.sh: FAILED: a target crashed or reported (inputs under $build/tests/fuzz/artifacts-*)"
    exit 1
fi
echo "fuzz.sh: no crash in ${share}s per target"
