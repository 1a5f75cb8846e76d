#!/usr/bin/env bash
# The fuzz step of .ci/run (also runnable alone: `bash .ci/fuzz.sh`).
#
# Builds every target of fuzz/ once with cargo-fuzz on the nightly toolchain (release with
# debug assertions and overflow checks, no sanitizer: the workspace forbids unsafe code, and
# ASan would double the build and run times), runs each for FUZZ_SECONDS (default 8) on a
# scratch copy of its committed seed corpus (fuzz/corpus/<target>; the committed files are
# never written to), then replays every committed corpus with -runs=0. Any crash, leak, OOM
# (-rss_limit_mb) or timeout (-timeout) fails the step; the crashing input is left under
# fuzz/artifacts/<target>/ and its base64 is printed.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS="${FUZZ_SECONDS:-8}"
# Outside the clone, so CI runs on the same machine build incrementally (a cold build of
# every target is most of this step's time).
FUZZ_TARGET_DIR="${FUZZ_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/blocksmith/fuzz-target}"
RSS_MB="${FUZZ_RSS_MB:-2048}"
TIMEOUT_S="${FUZZ_TIMEOUT_S:-20}"

since() { echo "$(($(date +%s) - $1)) s"; }

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "FAIL: no nightly toolchain (cargo-fuzz needs one): rustup toolchain install nightly" >&2
    exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    t=$(date +%s)
    cargo install cargo-fuzz --locked
    echo "cargo-fuzz installed in $(since "$t")"
fi
cargo fuzz --version

t=$(date +%s)
# -O: optimised (the default, spelled out), -a: debug assertions and overflow checks,
# 16 codegen units: about half the build time of cargo-fuzz's default of 1.
mkdir -p "$FUZZ_TARGET_DIR"
(cd fuzz && cargo +nightly fuzz build -O -a -s none --codegen-units 16 --target-dir "$FUZZ_TARGET_DIR")
echo "fuzz build: $(since "$t")"

mapfile -t targets < <(cd fuzz && cargo fuzz list)
bin="$FUZZ_TARGET_DIR/x86_64-unknown-linux-gnu/release"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=()

report_crash() {
    local target=$1 log=$2
    failed+=("$target")
    echo "FAIL: fuzz target $target" >&2
    grep -E "panicked at|^(SUMMARY|==[0-9]+==ERROR)|Test unit written" "$log" | head -20 >&2 || true
    for a in fuzz/artifacts/"$target"/*; do
        [ -f "$a" ] || continue
        echo "reproducer $a (base64): $(head -c 4096 "$a" | base64 -w0)" >&2
    done
}

t=$(date +%s)
for target in "${targets[@]}"; do
    seeds="fuzz/corpus/$target"
    if [ ! -d "$seeds" ] || [ -z "$(ls -A "$seeds")" ]; then
        echo "FAIL: $target has no seed corpus in $seeds" >&2
        failed+=("$target")
        continue
    fi
    work="$scratch/$target"
    mkdir -p "$work" "fuzz/artifacts/$target"
    cp "$seeds"/* "$work"/
    log="$scratch/$target.log"
    s=$(date +%s)
    if "$bin/$target" "$work" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb="$RSS_MB" \
        -timeout="$TIMEOUT_S" -print_final_stats=1 \
        -artifact_prefix="fuzz/artifacts/$target/" >"$log" 2>&1; then
        runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo '?')
        echo "$target: ok, $runs runs, $(ls "$work" | wc -l) inputs, $(since "$s")"
    else
        report_crash "$target" "$log"
    fi
done
echo "fuzz runs: $(since "$t")"

t=$(date +%s)
for target in "${targets[@]}"; do
    [ -d "fuzz/corpus/$target" ] || continue
    log="$scratch/$target.replay.log"
    if ! "$bin/$target" -runs=0 -rss_limit_mb="$RSS_MB" -timeout="$TIMEOUT_S" \
        -artifact_prefix="fuzz/artifacts/$target/" "fuzz/corpus/$target" >"$log" 2>&1; then
        report_crash "$target (replay)" "$log"
    fi
done
echo "corpus replay: $(since "$t")"

if [ ${#failed[@]} -gt 0 ]; then
    echo "FAIL: ${#failed[@]} fuzz target(s) failed: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: ${#targets[@]} targets ran and replayed their corpora"
