# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Forecast: match attendance during a tournament, an honest interval and the fill rate
#
# Data: AFCON 2025 group stage (Morocco, the venue list's capacities) and FIFA World Cups 1930-2014
# (capacities per stadium and year from published figures, data/attendance/world_cup_capacities.csv,
# never from the crowds). The target is the fill rate; attendance = fill x capacity. Every match is
# described from what was known before its day: the tournament's earlier matches (venue and team
# crowds) and earlier tournaments. Run with `NOTEBOOK_SMALL=1` for a quick slice; figures are saved
# under `NOTEBOOK_OUTPUT` when it is set.

# %%
import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1] if "__file__" in globals() else Path.cwd().parent
sys.path.insert(0, str(ROOT))

from services.forecast import dataset, train  # noqa: E402
from services.forecast.features import STAGE_ORDER  # noqa: E402

SMALL = os.environ.get("NOTEBOOK_SMALL") == "1"
OUTPUT = Path(os.environ["NOTEBOOK_OUTPUT"]) if os.environ.get("NOTEBOOK_OUTPUT") else None


def save(fig, name):
    if OUTPUT is not None:
        OUTPUT.mkdir(parents=True, exist_ok=True)
        fig.savefig(OUTPUT / f"{name}.png", dpi=90, bbox_inches="tight")
    plt.close(fig)


# %% [markdown]
# ## The data, walked day by day (features from earlier days only)

# %%
raw = dataset.load_matches(limit=train.SMALL_LIMIT if SMALL else None)
frame, state = dataset.walk(raw)
frame["y"] = frame["fill"]
print(len(frame), "matches;", frame["tournament"].nunique(), "tournaments;", frame["stadium"].nunique(), "stadiums")
print(frame.groupby(["competition", "stage"])["fill"].agg(["mean", "count"]).round(3))

# %% [markdown]
# Knockout matches fill more of the seats their venue left empty so far (World Cups); the linear
# candidates carry this as the stage's headroom share (train.stage_uplift).

# %%
print({k: round(v, 3) for k, v in train.stage_uplift(frame).items()})
fig, ax = plt.subplots(1, 2, figsize=(11, 4))
order = list(STAGE_ORDER)
for competition, part in frame.groupby("competition"):
    means = part.groupby("stage")["fill"].mean().reindex(order)
    ax[0].plot(order, means.values, marker="o", label=competition)
ax[0].set_ylabel("mean fill rate")
ax[0].tick_params(axis="x", rotation=30)
ax[0].legend()
afcon = frame[frame["competition"] == "afcon"]
ax[1].scatter(afcon["venue_fill_so_far"], afcon["fill"], s=12)
ax[1].plot([0, 1], [0, 1], "k--", lw=1)
ax[1].set_xlabel("venue's fill so far (AFCON)")
ax[1].set_ylabel("fill rate")
save(fig, "fill_by_stage_and_venue")

# %% [markdown]
# ## Within-tournament rolling origins, one plan per competition
#
# Each matchday is predicted from everything before it; chosen on validation matchdays, reported on
# later test matchdays (AFCON: the third group round; World Cup: the last tournament).

# %%
results = train.evaluate(frame, seed=42, quiet=True)
metrics = train.metrics_of(results)
for competition, seg in metrics["segments"].items():
    for name, s in seg["test"].items():
        iv = seg["intervals"].get(name, {})
        print(f"{competition:<10} {name:<22} MAE {s['mae']:>8,.0f}  coverage {iv.get('coverage', float('nan')):.2f}")
    print(seg["verdict"]["statement"])

# %% [markdown]
# ## The AFCON test matchdays: predicted against actual

# %%
table = results["afcon"]["outcome"].table
chosen = results["afcon"]["outcome"].choice.chosen
rows = table[(table["role"] == "test") & (table["model"] == chosen)]
venue = table[(table["role"] == "test") & (table["model"] == "venue_fill_so_far")]
fig, ax = plt.subplots(figsize=(5.5, 5))
ax.scatter(rows["actual"] * rows["capacity"], rows["prediction"] * rows["capacity"], label=chosen)
ax.scatter(venue["actual"] * venue["capacity"], venue["prediction"] * venue["capacity"], marker="x",
           label="venue_fill_so_far")
top = float((rows["capacity"]).max())
ax.plot([0, top], [0, top], "k--", lw=1)
ax.set_xlabel("actual attendance")
ax.set_ylabel("predicted")
ax.legend()
save(fig, "afcon_test_predicted_vs_actual")
print("mean |error|:", round(float(np.mean(np.abs(rows["actual"] - rows["prediction"]) * rows["capacity"]))))
