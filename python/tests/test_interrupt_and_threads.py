"""Long calls release the GIL and stop on Ctrl-C: a signal raises `KeyboardInterrupt` and leaves
no partial file; two calls in threads give what they give one after the other."""

from __future__ import annotations

import _thread
import os
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest

import qecnet

from conftest import SIMS


def test_an_interrupted_link_simulation_raises_keyboard_interrupt():
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            qecnet.simulate_link(engine="pulse", pulses=1e12, seed=1)
    finally:
        timer.cancel()


def test_sigint_during_a_mesh_run_raises_keyboard_interrupt_and_leaves_no_file(tmp_path):
    # A child interpreter runs a long mesh; SIGINT arrives once the run has started (progress
    # was reported), as Ctrl-C in a notebook or a terminal would.
    script = f"""
import sys, qecnet
def progress(done, total):
    print("started", flush=True)
try:
    qecnet.mesh({str(SIMS / "mesh-default.toml")!r}, duration="1000h", db={str(tmp_path / "m.db")!r}, progress=progress)
except KeyboardInterrupt:
    print("KeyboardInterrupt", flush=True)
    sys.exit(130)
"""
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "started"
    child.send_signal(signal.SIGINT)
    out, _ = child.communicate(timeout=120)
    assert child.returncode == 130
    assert "KeyboardInterrupt" in out
    assert sorted(os.listdir(tmp_path)) == []


def test_a_failing_progress_callback_stops_the_run_with_its_error():
    def progress(done, total):
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        qecnet.simulate_link(engine="pulse", pulses=1e12, progress=progress)


def test_the_progress_callback_reaches_the_total():
    seen = []
    qecnet.simulate_link(engine="event", pulses=3e8, seed=2, progress=lambda d, t: seen.append((d, t)))
    assert seen and seen[-1] == (300_000_000, 300_000_000)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_two_calls_in_threads_equal_the_same_calls_in_sequence():
    calls = [
        lambda: qecnet.simulate_link(engine="event", pulses=2e7, seed=21, qber_stream=True),
        lambda: qecnet.simulate_link(engine="pulse", pulses=2e6, seed=22, set={"channel.length_km": 75.0}),
        lambda: qecnet.key_rate("lim2014", distance_km=np.linspace(0, 100, 11)),
    ]
    sequential = [call() for call in calls]
    results: list = [None] * len(calls)

    def run(i):
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(sequential, results):
        assert a.keys() == b.keys()
        for key in a:
            assert np.array_equal(a[key], b[key]) if isinstance(a[key], np.ndarray) else a[key] == b[key]
