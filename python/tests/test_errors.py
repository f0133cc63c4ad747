"""Bad input raises `qecnet.QecnetError`, a `ValueError`, with the CLI's message naming the
field (and the keyword that set it), the value and the allowed range."""

from __future__ import annotations

import numpy as np
import pytest

import qecnet

from conftest import SIMS


def test_the_error_is_a_value_error():
    assert issubclass(qecnet.QecnetError, ValueError)


def test_zero_pulses_names_the_keyword_the_field_and_the_range():
    with pytest.raises(qecnet.QecnetError, match=r"pulses \(simulation\.pulses\) = 0: must be at least 1"):
        qecnet.simulate_link(pulses=0)


def test_a_negative_distance_names_the_field():
    with pytest.raises(qecnet.QecnetError, match=r"distance_km \(channel\.length_km\) = -1"):
        qecnet.key_rate("gllp", distance_km=-1.0)


def test_a_bad_distance_in_an_array_names_its_index():
    with pytest.raises(qecnet.QecnetError, match=r"distance_km\[2\] \(channel\.length_km\) = NaN: must be finite"):
        qecnet.key_rate("gllp", distance_km=np.array([1.0, 2.0, np.nan]))


def test_a_bad_set_field_is_named():
    with pytest.raises(ValueError, match=r"detector\.efficiency"):
        qecnet.simulate_link(pulses=1000, set={"detector.efficiency": 1.5})


def test_an_unknown_engine_lists_the_choices():
    with pytest.raises(qecnet.QecnetError, match=r'engine = "warp": must be one of pulse, event, block'):
        qecnet.simulate_link(engine="warp")


def test_an_unknown_model_lists_the_choices():
    with pytest.raises(qecnet.QecnetError, match=r'model = "bb85": must be one of'):
        qecnet.key_rate("bb85", distance_km=10)


def test_a_fractional_pulse_count_is_refused():
    with pytest.raises(qecnet.QecnetError, match=r"pulses = 1\.5"):
        qecnet.simulate_link(pulses=1.5)


def test_a_bad_cascade_qber_is_named():
    with pytest.raises(qecnet.QecnetError, match=r"0\.7"):
        qecnet.cascade_study([0.7], block_size=1024, runs=1)


def test_a_bad_mesh_duration_is_named(tmp_path):
    with pytest.raises(qecnet.QecnetError, match=r'duration = "soon"'):
        qecnet.mesh(SIMS / "mesh-one-link.toml", duration="soon", db=tmp_path / "m.db")
    assert list(tmp_path.iterdir()) == []


def test_a_missing_store_is_an_error(tmp_path):
    with pytest.raises(qecnet.QecnetError, match="nothing.db"):
        qecnet.audit_verify(tmp_path / "nothing.db")
