#!/usr/bin/env bash
# Regenerates the committed seed corpus of the fuzz targets, fuzz/corpus/<target>/.
#
# Seeds come from fuzz/examples/seeds.rs: valid inputs made by the crates' own encoders,
# engines and fixtures (tsz chunks, geo snapshots, feed records, sketches, vault envelopes and
# share bundles, store records as each engine writes them, QR/EAN PNGs, ...) plus edge cases
# (empty, truncated, one byte flipped). It runs on the stable toolchain and needs no
# cargo-fuzz. The directory is replaced whole, so minimized crash reproducers that were added
# by hand (fuzz/corpus/<target>/crash-*) are kept aside and restored.
#
#   scripts/fuzz_seeds.sh            # writes fuzz/corpus
#   scripts/fuzz_seeds.sh /tmp/seeds # writes elsewhere
#
# Vault ids, keys and nonces are random, so their seeds change on every run; everything
# else is deterministic. The program refuses to write more than 2 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-fuzz/corpus}"
keep=$(mktemp -d)
trap 'rm -rf "$keep"' EXIT
if [ -d "$out" ]; then
    (cd "$out" && find . -name 'crash-*' -exec cp --parents {} "$keep"/ \;)
fi
cargo run --quiet --manifest-path fuzz/Cargo.toml --example seeds -- "$(realpath -m "$out")"
cp -r "$keep"/. "$out"/
du -sh "$out"
