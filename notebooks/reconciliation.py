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
# # Reconciliation: efficiency and round trips vs QBER
#
# The reconciliation figure of issue 16 from Python, on a small study (seconds): Cascade
# (the original protocol and option 7 of Martinez-Mateo et al. 2015) against rate-adaptive
# LDPC (Elkouss et al. 2010, arXiv:1006.2660) and blind LDPC (Martinez-Mateo et al. 2012)
# on 2000-bit frames of a binary symmetric channel. `qecnet.reconcile_study` returns the
# rows of `qecnet reconcile-study` as a DataFrame: the efficiency f = leak / (n·h(QBER)) over
# the frames verification accepts, the frame error rate, the round trips and messages per
# frame, and the throughput (sifted bits per CPU second of one core). The full-size figure
# (10⁴ and 10⁵ bits) is `qecnet plot --recipe reconcile-study` on `datasets/reconcile-study/`.
# Runs as a plain script too; the figure goes to `notebooks-out/`.

# %%
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import qecnet

OUT = Path("notebooks-out")
OUT.mkdir(exist_ok=True)

# %%
qber = np.array([0.01, 0.02, 0.03, 0.05, 0.08])
rows = qecnet.reconcile_study(
    qber,
    block_size=2000,
    runs=4,
    reconciler=["cascade-original", "cascade-option7", "ldpc", "ldpc-blind"],
    seed=1,
)
print(rows[["reconciler", "qber", "efficiency_mean", "frame_error_rate", "round_trips"]].to_string(index=False))

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
for name, g in rows.groupby("reconciler", sort=False):
    left.errorbar(100 * g.qber, g.efficiency_mean, yerr=g.efficiency_std, marker="o", ms=4, capsize=2, label=name)
    right.plot(100 * g.qber, g.round_trips, marker="o", ms=4, label=name)
left.axhline(1.0, color="k", lw=0.8, ls="--", label="Shannon limit f = 1")
left.set_xlabel("QBER (%)")
left.set_ylabel("efficiency f = leak / (n·h(QBER))")
left.legend(fontsize=8)
right.set_yscale("log")
right.set_xlabel("QBER (%)")
right.set_ylabel("round trips per frame")
fig.suptitle(f"Reconciliation on {rows.block_size.iloc[0]}-bit frames, {rows.runs.iloc[0]} frames per point")
fig.tight_layout()
fig.savefig(OUT / "py-reconciliation.png", dpi=120)
print("wrote", OUT / "py-reconciliation.png")
