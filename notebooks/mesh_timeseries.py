# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The mesh's QBER and fallback time series
#
# The default mesh (sims/mesh-default.toml) for 12 simulated hours (both attacks): its intercept-resend attacks
# raise the QBER of the attacked links past the threshold, the monitor moves them to the
# ML-KEM fallback, and the decision engine escalates. `qecnet.mesh` returns the summary and the
# paths of the per-link time series, read here with pandas. Runs as a plain script too; figures
# go to `notebooks-out/`.

# %%
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

import qecnet

OUT = Path("notebooks-out")
OUT.mkdir(exist_ok=True)

# %%
with tempfile.TemporaryDirectory() as tmp:
    summary = qecnet.mesh("sims/mesh-default.toml", duration="12h", db=Path(tmp) / "mesh.db", seed=1)
    links = pd.read_csv(summary["files"]["links"])
    verdict = qecnet.audit_verify(summary["files"]["db"])
print(f"{summary['links']} links, key delivered {summary['key_delivered_bits']:.3e} bits, "
      f"fallback {summary['fallback_seconds_total']:.0f} link-s, audit chain ok: {verdict['ok']}")
links["hours"] = links.time_s / 3600.0
links["fallback"] = (links["mode"] != "qkd").astype(int)

# %%
fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
for name, g in links.groupby("link"):
    top.plot(g.hours, 100 * g.qber, lw=1, label=name)
top.axhline(11.0, color="k", ls="--", lw=0.8, label="11 % threshold")
top.set_ylabel("QBER (%)")
top.legend(fontsize=6, ncol=4)
fallback = links.groupby("hours").fallback.sum()
bottom.step(fallback.index, fallback.values, where="post")
bottom.set_ylabel("links in fallback")
bottom.set_xlabel("simulated time (h)")
fig.suptitle("Default mesh: per-link QBER and fallback")
fig.tight_layout()
fig.savefig(OUT / "py-mesh-timeseries.png", dpi=120)
print("wrote", OUT / "py-mesh-timeseries.png")
