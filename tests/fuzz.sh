#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets) for a bounded time, starting from the
# committed seed corpus in fuzz/corpus/<target>. New inputs go to a temporary directory, so the
# repository is not grown; a crash fails the run and leaves its input in fuzz/artifacts/.
#
#   tests/fuzz.sh [SECONDS_PER_TARGET]     # default 45
#
# cargo-fuzz needs nightly flags; on the stable toolchain RUSTC_BOOTSTRAP=1 allows them. The
# sanitizer is off: the targets are safe Rust over SQLite, and coverage guidance is what we need.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-45}
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
cargo fuzz build --sanitizer none
work=$(mktemp -d /tmp/qecnet-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
targets=$(cargo fuzz list)
for target in $targets; do
  mkdir -p "$work/$target"
  echo "fuzz: $target for ${seconds} s"
  status=0
  cargo fuzz run --sanitizer none "$target" "$work/$target" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=4096 >"$work/$target.log" 2>&1 || status=$?
  grep -E "^(#[0-9]+ +DONE|Done)|panicked|ERROR|SUMMARY|artifact" "$work/$target.log" | head -20 || true
  if [ "$status" -ne 0 ]; then
    tail -40 "$work/$target.log" >&2
    echo "fuzz: $target failed (status $status; a crashing input is in fuzz/artifacts/$target)" >&2
    exit 1
  fi
done
echo "fuzz: $(echo "$targets" | wc -w) targets ran ${seconds} s each without a crash"
