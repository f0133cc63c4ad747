"""Figures for docs/python.md: the per-call overhead of `key_rate`, the vectorised throughput,
and a long `simulate_link` beside the CLI's own timing of the same run.

    python python/benchmarks/bench.py [--pulses 1e10]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import time
from pathlib import Path

import numpy as np

import qecnet

REPO = Path(__file__).resolve().parents[2]


def best_of(n: int, call) -> float:
    best = float("inf")
    for _ in range(n):
        t = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pulses", type=float, default=1e10)
    args = parser.parse_args()

    def refused() -> None:
        try:
            qecnet.key_rate("decoy-infinite", distance_km=-1.0)
        except qecnet.QecnetError:
            pass

    calls = 2000
    t = best_of(3, lambda: [refused() for _ in range(calls)])
    print(f"key_rate overhead (a call refused after the scenario is built and validated): "
          f"{t / calls * 1e6:.1f} µs per call")
    for model in ["decoy-infinite", "decoy-vacuum-weak", "lim2014"]:
        calls = 2000
        t = best_of(3, lambda: [qecnet.key_rate(model, distance_km=50.0) for _ in range(calls)])
        print(f"key_rate({model!r}, distance_km=50.0): {t / calls * 1e6:.1f} µs per call")
        d = np.linspace(0.0, 150.0, 100_000)
        t = best_of(3, lambda: qecnet.key_rate(model, distance_km=d))
        print(f"key_rate({model!r}, distance_km=<{d.size} values>): {d.size / t:.3e} evaluations/s")

    pulses = int(args.pulses)
    t = time.perf_counter()
    out = qecnet.simulate_link(engine="event", pulses=pulses, seed=1)
    py_s = time.perf_counter() - t
    print(f"simulate_link(engine='event', pulses={pulses:.0e}) from Python: {py_s:.2f} s "
          f"({pulses / py_s:.3e} pulses/s), QBER {out['qber']:.5f}")
    exe = REPO / "target" / "release" / "qecnet"
    t = time.perf_counter()
    done = subprocess.run([str(exe), "link", "--json", "--engine", "event", "--pulses", str(pulses), "--seed", "1"],
                          capture_output=True, text=True, check=True)
    cli_s = time.perf_counter() - t
    inner = re.search(r"in ([0-9.]+) s", done.stderr)
    print(f"qecnet link --engine event --pulses {pulses:.0e}: {cli_s:.2f} s wall "
          f"({inner.group(1) if inner else '?'} s simulating), same JSON: {__import__('json').loads(done.stdout) == out}")


if __name__ == "__main__":
    main()
