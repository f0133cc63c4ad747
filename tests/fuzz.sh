#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets) for a bounded time, one per core at a time,
# starting from the committed seed corpus in fuzz/corpus/<target>. New inputs go to a temporary
# directory, so the repository is not grown; a crash fails the run and leaves its input in fuzz/artifacts/.
#
#   tests/fuzz.sh [SECONDS_PER_TARGET]     # default 45
#
# cargo-fuzz needs nightly flags; on the stable toolchain RUSTC_BOOTSTRAP=1 allows them. The
# sanitizer is off: the targets are safe Rust over SQLite, and coverage guidance is what we need.
# cargo-fuzz compiles every crate as one codegen unit unless told otherwise (faster targets, by
# cross-function inlining); on 2 cores that makes qecnet's own crate a serial step of about
# 175 CPU seconds (measured, session 13), so the build uses 16 units: a bounded run from the
# corpus cares more about the build's wall time than about executions per second. `run` must
# get the same flags as `build`, or it rebuilds everything.
build_flags=(--sanitizer none --codegen-units 16)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-45}
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
cargo fuzz build "${build_flags[@]}"
work=$(mktemp -d /tmp/qecnet-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
targets=$(cargo fuzz list)
# One target on each of the machine's cores at a time (libFuzzer runs one process per target).
jobs=$(nproc 2>/dev/null || echo 2)
run_target() {
  local target=$1 status=0
  mkdir -p "$work/$target"
  cargo fuzz run "${build_flags[@]}" "$target" "$work/$target" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=4096 >"$work/$target.log" 2>&1 || status=$?
  echo "$status" >"$work/$target.status"
}
set -- $targets
while [ $# -gt 0 ]; do
  batch=()
  while [ $# -gt 0 ] && [ ${#batch[@]} -lt "$jobs" ]; do
    batch+=("$1")
    shift
  done
  echo "fuzz: ${batch[*]} for ${seconds} s"
  for target in "${batch[@]}"; do run_target "$target" & done
  wait
  for target in "${batch[@]}"; do
    grep -E "^(#[0-9]+ +DONE|Done)|panicked|ERROR|SUMMARY|artifact" "$work/$target.log" | sed "s/^/$target: /" | head -20 || true
    status=$(cat "$work/$target.status")
    if [ "$status" -ne 0 ]; then
      tail -40 "$work/$target.log" >&2
      echo "fuzz: $target failed (status $status; a crashing input is in fuzz/artifacts/$target)" >&2
      exit 1
    fi
  done
done
echo "fuzz: $(echo "$targets" | wc -w) targets ran ${seconds} s each without a crash"
