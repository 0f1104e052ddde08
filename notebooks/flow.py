# %% [markdown]
# # Flow: simulated gate queues, Little's law and the LightGBM wait model
#
# Runs top to bottom: `python notebooks/flow.py`. With `NOTEBOOK_SMALL=1` it simulates and trains on a
# small slice; figures go to the folder named by `NOTEBOOK_OUTPUT` (nothing is saved otherwise).

# %%
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path.cwd())) if (Path.cwd() / "services").is_dir() else sys.path.insert(
    0, str(Path(__file__).resolve().parents[1]))
from services.flow import train  # noqa: E402
from services.flow.simulate import simulate_day  # noqa: E402
from services.flow.stadiums import load_stadiums  # noqa: E402

SMALL = os.environ.get("NOTEBOOK_SMALL") == "1"
OUTPUT = Path(os.environ["NOTEBOOK_OUTPUT"]) if os.environ.get("NOTEBOOK_OUTPUT") else None


def save(fig, name):
    if OUTPUT is not None:
        OUTPUT.mkdir(parents=True, exist_ok=True)
        fig.savefig(OUTPUT / name, dpi=90)
    plt.close(fig)


# %% [markdown]
# ## One match day at one gate: queue, lanes and every fan's true wait

# %%
stadium = load_stadiums()["RABAT"]
rows = simulate_day(stadium, 3, datetime(2025, 12, 21, 15, 30, tzinfo=timezone.utc), gates=["G1", "G2"])
g1 = [r for r in rows if r["gateId"] == "G1"]
minutes = np.arange(len(g1))
fig, ax = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
ax[0].plot(minutes, [r["queueLength"] for r in g1], label="queue length")
ax[0].plot(minutes, [r["perMinuteCount"] for r in g1], label="fans through per minute")
ax[0].legend()
true_wait = np.array([np.nan if r["true_wait"] is None else r["true_wait"] for r in g1])
little = np.array([r["queueLength"] * r["avgProcessingTime"] / max(r["openLanes"], 1) / 60 for r in g1])  # queue x processing / lanes
ax[1].plot(minutes, true_wait, label="true wait (fans joining next minute)")
ax[1].plot(minutes, little, label="Little's law", alpha=0.7)
ax[1].set_xlabel("minutes after the gates open")
ax[1].legend()
save(fig, "flow_day.png")
print("anomalies at G1:", sorted({r["anomaly_kind"] for r in g1 if r["anomaly"]}))

# %% [markdown]
# ## Train and evaluate on held-out simulated days (what `python -m services.flow.train` does)

# %%
days = train.simulate_days(18 if SMALL else 144, 42, quiet=True)
frame = train.frame_of(days)
outcome, wait_test = train.evaluate_wait(frame, 42, 60 if SMALL else 400)
for name, scores in outcome.validation.items():
    print(f"validation {name:32s} MAE {scores['mae']:.3f}")
print("chosen on validation regimes:", outcome.choice.chosen)
for group, row in wait_test.items():
    print(f"test {group:36s} ratio to the stronger on validation of Little's law (observed rate) and queue x processing / lanes: "
          f"{row['model_mae_ratio_to_strongest_baseline']:.2f}")
anomaly, served, threshold, _ = train.evaluate_anomaly(frame, 42)
for name, a in anomaly["test"].items():
    print(f"{name:20s} recall within 3 min {a['recall_3min']:.2f} [{a['recall_3min_ci95_lo']:.2f}, "
          f"{a['recall_3min_ci95_hi']:.2f}], false alarms per gate-hour {a['false_alarms_per_gate_hour']:.2f}")
print("served anomaly detector:", served)

# %%
fig, ax = plt.subplots(figsize=(7, 4))
row = wait_test["all held-out regimes"]
names = [k for k in row if k.endswith("_mae")]
ax.bar([n.removesuffix("_mae") for n in names], [row[n] for n in names])
ax.set_ylabel("MAE, minutes (held-out regimes)")
ax.tick_params(axis="x", labelrotation=15)
fig.tight_layout()
save(fig, "flow_mae.png")
