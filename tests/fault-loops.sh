#!/usr/bin/env bash
# Fault loops (issues 11 and 15): SIGKILL mesh runs, sweeps and `qecnet serve` at random
# moments, again and again.
# After every kill of a mesh run its store must open and verify (or be the empty file of a
# writer killed while creating it, which the next --overwrite replaces); after every kill of
# a sweep the next `--resume` must continue it, and each finished CSV must equal an
# uninterrupted run's byte for byte.
#
#   tests/fault-loops.sh [KILLS]      # default 1000 kills, half of them of mesh runs
#   QECNET_BIN=path/to/qecnet tests/fault-loops.sh
#
# A served mesh is killed under load by the integration test `serve_faults` (50 kills in the
# ordinary test run); here it runs with QECNET_SERVE_KILLS (default 200) kills, which checks
# every key's fate after the last restart (no key twice, every uncollected key collectable).
#
# CI runs the default; the run stops by itself (each loop is bounded in count).
set -euo pipefail
cd "$(dirname "$0")/.."

kills_wanted=${1:-1000}
bin=${QECNET_BIN:-target/release/qecnet}
[ -x "$bin" ] || { echo "fault-loops: $bin is not built (cargo build --release)" >&2; exit 2; }
work=$(mktemp -d /tmp/qecnet-fault-loops.XXXXXX)
trap 'rm -rf "$work"' EXIT

fail() { echo "fault-loops: FAILED: $*" >&2; exit 1; }

# A random delay of 0 to $1 ms, as seconds for sleep.
delay() { printf '0.%03d' $((RANDOM % $1)); }

# Starts "$@" in the background, kills it with SIGKILL after a random delay of up to $max_ms,
# and sets `status` to its exit status (137 when the kill landed, 0 when it had finished).
max_ms=300
run_and_kill() {
  "$@" >/dev/null 2>"$work/stderr" &
  local pid=$!
  sleep "$(delay $max_ms)"
  kill -9 "$pid" 2>/dev/null || true
  status=0
  wait "$pid" 2>/dev/null || status=$?
}

# --- mesh runs ------------------------------------------------------------------------
mesh_kills=0
mesh_runs=0
db="$work/mesh.db"
while [ "$mesh_kills" -lt $((kills_wanted / 2)) ]; do
  mesh_runs=$((mesh_runs + 1))
  [ "$mesh_runs" -le $((kills_wanted * 3)) ] || fail "mesh: too few kills landed ($mesh_kills in $mesh_runs runs)"
  run_and_kill "$bin" mesh sims/mesh-default.toml --duration 1h --db "$db" --overwrite
  case $status in
    137) mesh_kills=$((mesh_kills + 1)) ;;
    0) ;;
    *) fail "mesh run $mesh_runs exited $status: $(cat "$work/stderr")" ;;
  esac
  if [ -s "$db" ]; then
    "$bin" audit verify "$db" >"$work/verify" 2>&1 ||
      fail "mesh run $mesh_runs (status $status): the store does not verify: $(cat "$work/verify")"
  fi
done
echo "fault-loops: $mesh_kills SIGKILLs in $mesh_runs mesh runs; every store verified"

# --- sweeps ---------------------------------------------------------------------------
cat >"$work/sweep.toml" <<'EOF'
[sweep]
name = "fault-loop"
kind = "link"
seed = 5
replicates = 2
outputs = ["detections", "qber", "signal_gain"]

[base.simulation]
engine = "event"
pulses = 2e7

[[axis]]
field = "channel.length_km"
linspace = [0, 100, 80]
EOF
"$bin" --threads 2 sweep run "$work/sweep.toml" --output "$work/reference.csv" >/dev/null 2>&1 ||
  fail "the uninterrupted sweep failed"
sweep_kills=0
sweep_runs=0
finished=0
while [ "$sweep_kills" -lt $((kills_wanted - kills_wanted / 2)) ]; do
  sweep_runs=$((sweep_runs + 1))
  [ "$sweep_runs" -le $((kills_wanted * 3)) ] || fail "sweep: too few kills landed ($sweep_kills in $sweep_runs runs)"
  run_and_kill "$bin" --threads 2 sweep run "$work/sweep.toml" --resume --output "$work/out.csv"
  case $status in
    137) sweep_kills=$((sweep_kills + 1)) ;;
    0)
      cmp -s "$work/reference.csv" "$work/out.csv" || fail "sweep run $sweep_runs: the resumed CSV differs"
      finished=$((finished + 1))
      rm -f "$work/out.csv" "$work"/out.csv.manifest.json
      ;;
    *) fail "sweep run $sweep_runs exited $status: $(cat "$work/stderr")" ;;
  esac
done
# Finish the last interrupted one.
"$bin" --threads 2 sweep run "$work/sweep.toml" --resume --output "$work/out.csv" >/dev/null 2>"$work/stderr" ||
  fail "the last resume failed: $(cat "$work/stderr")"
cmp -s "$work/reference.csv" "$work/out.csv" || fail "the last resumed CSV differs"
finished=$((finished + 1))
echo "fault-loops: $sweep_kills SIGKILLs in $sweep_runs sweep runs; $finished resumed sweeps equal the uninterrupted CSV"

# --- served keys ----------------------------------------------------------------------
serve_kills=${QECNET_SERVE_KILLS:-200}
QECNET_SERVE_KILLS=$serve_kills cargo test --release --test integration \
  serve_faults::sigkill_at_random_moments_under_load_loses_no_key_and_delivers_none_twice -- --exact \
  >"$work/serve.log" 2>&1 || fail "serve: $(tail -30 "$work/serve.log")"
grep -q "1 passed" "$work/serve.log" || fail "serve: the test did not run: $(tail -5 "$work/serve.log")"
echo "fault-loops: $serve_kills SIGKILLs of qecnet serve under load; no key lost or delivered twice"
echo "fault-loops: $((mesh_kills + sweep_kills + serve_kills)) passed, 0 failed"
