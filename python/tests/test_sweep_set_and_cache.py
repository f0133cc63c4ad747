"""`sweep(set=...)` is the CLI's `sweep run --set`, and `key_rate`'s cache of parsed scenarios
gives the CLI's numbers, reading a scenario file again when it changes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

import qecnet

from conftest import SIMS, cli_json, run_cli

SWEEP = """[sweep]
name = "py-set"
kind = "keyrate"
base = {base}
models = ["decoy-vacuum-weak", "gllp"]
output = "unused.csv"

[[axis]]
field = "channel.length_km"
values = [5.0, 40.0, 80.0]
"""


def write_sweep(dir: Path) -> Path:
    path = dir / "sweep.toml"
    path.write_text(SWEEP.format(base=json.dumps(str(SIMS / "link-gys.toml"))))
    return path


def test_sweep_with_set_equals_the_cli_sweep_run_with_set(tmp_path):
    path = write_sweep(tmp_path)
    ours = qecnet.sweep(path, set={"detector.dark_count_probability": 2e-5, "source.signal_intensity": 0.4},
                        output=tmp_path / "ours.csv")
    run_cli("sweep", "run", str(path), "--output", str(tmp_path / "theirs.csv"),
            "--set", "detector.dark_count_probability=2e-05", "--set", "source.signal_intensity=0.4")
    assert (tmp_path / "ours.csv").read_bytes() == (tmp_path / "theirs.csv").read_bytes()
    pd.testing.assert_frame_equal(ours, pd.read_csv(tmp_path / "theirs.csv", comment="#"))
    plain = qecnet.sweep(path, output=tmp_path / "plain.csv")
    assert not ours.equals(plain), "the overrides changed nothing"


def test_a_bad_sweep_set_raises_the_cli_message_naming_the_field(tmp_path):
    path = write_sweep(tmp_path)
    out = tmp_path / "out.csv"
    with pytest.raises(qecnet.QecnetError, match=r"detector\.dark_count_probability = 2: must be a probability"):
        qecnet.sweep(path, set={"detector.dark_count_probability": 2}, output=out)
    with pytest.raises(qecnet.QecnetError, match=r"--set detector\.dark_count: unknown field"):
        qecnet.sweep(path, set={"detector.dark_count": 1e-5}, output=out)
    with pytest.raises(qecnet.QecnetError, match=r"channel\.length_km is swept by axis 1"):
        qecnet.sweep(path, set={"channel.length_km": 5}, output=out)
    assert not out.exists()


def test_repeated_key_rate_calls_on_a_scenario_file_equal_the_cli():
    cfg = str(SIMS / "link-snspd.toml")
    for _ in range(2):  # the second pass is served from the cache
        for km, mu in [(20.0, None), (75.5, 0.45)]:
            ours = qecnet.key_rate("decoy-vacuum-weak", cfg, distance_km=km, mu=mu,
                                   set={"detector.efficiency": 0.6})
            args = ["keyrate", "--config", cfg, "--model", "decoy-vacuum-weak", "--distance-km", str(km),
                    "--set", "detector.efficiency=0.6", "--json"]
            if mu is not None:
                args += ["--mu", str(mu)]
            assert ours == cli_json(*args), (km, mu)
        ours = qecnet.key_rate("lim2014", cfg, distance_km=30.0, block_size=1e9)
        assert ours == cli_json("keyrate", "--config", cfg, "--model", "lim2014", "--distance-km", "30.0",
                                "--block-size", "1000000000", "--json")


def test_a_rewritten_scenario_file_is_read_again(tmp_path):
    cfg = tmp_path / "link.toml"
    text = (SIMS / "link-gys.toml").read_text()
    cfg.write_text(text)
    before = qecnet.key_rate("decoy-vacuum-weak", cfg, distance_km=10.0)
    assert "efficiency = 0.045 " in text
    cfg.write_text(text.replace("efficiency = 0.045 ", "efficiency = 0.0300", 1))  # same size
    st = os.stat(cfg)
    os.utime(cfg, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    after = qecnet.key_rate("decoy-vacuum-weak", cfg, distance_km=10.0)
    assert after == cli_json("keyrate", "--config", str(cfg), "--model", "decoy-vacuum-weak", "--distance-km", "10.0", "--json")
    assert 0 < after["rate_per_pulse"] < before["rate_per_pulse"]


def test_a_bad_keyword_after_a_cached_call_still_names_the_keyword():
    cfg = str(SIMS / "link-gys.toml")
    qecnet.key_rate("gllp", cfg, distance_km=10.0)
    with pytest.raises(qecnet.QecnetError, match=r"mu \(source\.signal_intensity\) = -0\.5"):
        qecnet.key_rate("gllp", cfg, distance_km=10.0, mu=-0.5)
    with pytest.raises(qecnet.QecnetError, match=r"block_size"):
        qecnet.key_rate("lim2014", cfg, distance_km=10.0, block_size=2**63)
