"""`key_rate` with an array of distances is one call into Rust that equals the scalar call at
every point."""

from __future__ import annotations

import numpy as np

import qecnet


def test_vectorised_key_rate_equals_the_scalar_one_point_by_point():
    distances = np.linspace(0.0, 160.0, 33)
    for model in ["gllp", "decoy-vacuum-weak", "lim2014"]:
        many = qecnet.key_rate(model, distance_km=distances, mu=0.48, nu=0.1)
        assert many["model"] == model
        assert many["rate_per_pulse"].shape == distances.shape
        for i, d in enumerate(distances):
            one = qecnet.key_rate(model, distance_km=float(d), mu=0.48, nu=0.1)
            for key, value in one.items():
                if key == "model":
                    continue
                assert many[key][i] == value, (model, d, key)


def test_vectorised_key_rate_keeps_the_shape_and_falls_to_zero_at_long_distance():
    d = np.array([[10.0, 50.0], [100.0, 400.0]])
    rates = qecnet.key_rate("decoy-infinite", distance_km=d)["rate_per_pulse"]
    assert rates.shape == (2, 2)
    assert rates[0, 0] > rates[0, 1] > rates[1, 0] > 0.0
    assert rates[1, 1] == 0.0


def test_optimised_vectorised_key_rate_equals_the_scalar_optimum():
    d = np.array([20.0, 90.0])
    many = qecnet.key_rate("decoy-vacuum-weak", distance_km=d, optimise=True)
    for i, km in enumerate(d):
        one = qecnet.key_rate("decoy-vacuum-weak", distance_km=float(km), optimise=True)
        assert many["mu"][i] == one["mu"] and many["rate_per_pulse"][i] == one["rate_per_pulse"]
