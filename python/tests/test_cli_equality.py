"""The package and the CLI give the same numbers for the same seed and input: the same library
functions run behind both (src/api/)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

import qecnet

from conftest import SIMS, cli_json, run_cli


def test_simulate_link_equals_the_cli_json_for_the_same_seed():
    ours = qecnet.simulate_link(engine="event", pulses=3e6, seed=7, set={"channel.length_km": 30.0})
    theirs = cli_json("link", "--json", "--engine", "event", "--pulses", "3000000", "--seed", "7",
                      "--set", "channel.length_km=30.0")
    assert ours == theirs
    assert ours["pulses"] == 3_000_000


def test_simulate_link_of_a_scenario_file_with_the_pulse_engine_equals_the_cli():
    cfg = str(SIMS / "link-gys.toml")
    ours = qecnet.simulate_link(cfg, engine="pulse", pulses=1_000_000, seed=3)
    theirs = cli_json("link", "--config", cfg, "--json", "--engine", "pulse", "--pulses", "1000000", "--seed", "3")
    assert ours == theirs


def test_post_processed_link_equals_the_cli(tmp_path):
    args = {"postprocess.block_size": 100000, "channel.length_km": 10.0}
    ours = qecnet.simulate_link(engine="event", pulses=2e7, seed=5, set=args, postprocess=True)
    theirs = cli_json("link", "--json", "--engine", "event", "--pulses", "20000000", "--seed", "5",
                      "--set", "postprocess.block_size=100000", "--set", "channel.length_km=10.0", "--postprocess")
    assert ours == theirs
    assert ours["blocks"] >= 1


def test_the_qber_stream_is_the_cli_csv(tmp_path):
    csv = tmp_path / "stream.csv"
    ours = qecnet.simulate_link(engine="event", pulses=5e6, seed=11, qber_stream=True)
    run_cli("link", "--json", "--engine", "event", "--pulses", "5000000", "--seed", "11", "--qber-stream", str(csv))
    theirs = pd.read_csv(csv)
    stream = ours.pop("qber_stream")
    assert len(stream) == len(theirs) == ours["qber_blocks"]
    assert list(stream) == list(theirs["errors"] / theirs["bits"])


def test_key_rate_equals_the_cli_json():
    for model in ["gllp", "decoy-vacuum-weak", "lim2014"]:
        ours = qecnet.key_rate(model, distance_km=42.5)
        theirs = cli_json("keyrate", "--model", model, "--distance-km", "42.5", "--json")
        assert ours == theirs, model


def test_optimised_key_rate_and_max_distance_equal_the_cli_json():
    ours = qecnet.key_rate("decoy-vacuum-weak", distance_km=80, optimise=True)
    assert ours == cli_json("keyrate", "--model", "decoy-vacuum-weak", "--distance-km", "80", "--optimise", "--json")
    reach = qecnet.max_distance("decoy-vacuum-weak", mu=0.5, nu=0.1)
    assert reach == cli_json("keyrate", "--model", "decoy-vacuum-weak", "--mu", "0.5", "--nu", "0.1",
                             "--max-distance", "--json")
    assert reach["max_distance_km"] > 50


def write_sweep(dir: Path, output: str) -> Path:
    path = dir / "sweep.toml"
    path.write_text(
        f"""[sweep]
name = "py-test"
kind = "link"
base = {json.dumps(str(SIMS / "link-gys.toml"))}
seed = 9
replicates = 2
output = {json.dumps(output)}

[[axis]]
field = "channel.length_km"
linspace = [0.0, 60.0, 3]

[[axis]]
field = "simulation.pulses"
values = [1000000]
"""
    )
    return path


def test_sweep_returns_the_cli_csv_as_a_data_frame(tmp_path):
    path = write_sweep(tmp_path, "ours.csv")
    ours = qecnet.sweep(path, threads=2)
    run_cli("sweep", "run", str(path), "--output", str(tmp_path / "theirs.csv"))
    assert (tmp_path / "ours.csv").read_bytes() == (tmp_path / "theirs.csv").read_bytes()
    theirs = pd.read_csv(tmp_path / "theirs.csv", comment="#")
    pd.testing.assert_frame_equal(ours, theirs)
    assert len(ours) == 6


def test_mesh_summary_and_audit_verdict_equal_the_cli(tmp_path):
    scenario = str(SIMS / "mesh-one-link.toml")
    ours = qecnet.mesh(scenario, duration="20m", db=tmp_path / "ours.db", seed=4)
    theirs = cli_json("mesh", scenario, "--duration", "20m", "--db", str(tmp_path / "theirs.db"), "--seed", "4",
                      "--json")
    files = ours.pop("files")
    assert Path(files["db"]) == tmp_path / "ours.db" and Path(files["links"]).is_file()
    assert ours == theirs
    verdict = qecnet.audit_verify(tmp_path / "ours.db")
    assert verdict["ok"] is True
    cli_verdict = json.loads(run_cli("audit", "verify", str(tmp_path / "ours.db"), "--json"))
    assert verdict == cli_verdict


def test_cascade_study_equals_the_cli_csv(tmp_path):
    ours = qecnet.cascade_study([0.02, 0.05], block_size=4096, runs=3, variant=["original", "option7"], seed=2)
    text = run_cli("cascade-study", "--qber", "0.02,0.05", "--block-size", "4096", "--runs", "3",
                   "--variant", "original,option7", "--seed", "2")
    theirs = pd.read_csv(__import__("io").StringIO(text))
    # Throughput is a timing; every other column is a function of the seed.
    timing = "throughput_bits_per_s"
    pd.testing.assert_frame_equal(ours.drop(columns=timing), theirs.drop(columns=timing))
    assert len(ours) == 4


def test_reconcile_study_equals_the_cli_json():
    ours = qecnet.reconcile_study([0.02, 0.05], block_size=4096, runs=3, reconciler=["cascade-option7", "ldpc"], seed=2)
    text = run_cli("reconcile-study", "--qber", "0.02,0.05", "--block-size", "4096", "--runs", "3",
                   "--reconciler", "cascade-option7,ldpc", "--seed", "2", "--json")
    theirs = pd.DataFrame(json.loads(text))
    assert list(ours.columns) == list(theirs.columns)
    # Throughput is a timing; every other column is a function of the seed.
    timing = "throughput_bits_per_s"
    pd.testing.assert_frame_equal(ours.drop(columns=timing), theirs.drop(columns=timing), check_dtype=False)
    assert list(ours["reconciler"]) == ["cascade-option7", "cascade-option7", "ldpc", "ldpc"]
    assert (ours[timing] > 0).all()
