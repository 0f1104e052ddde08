# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Forecast: match attendance, an honest interval and the fill rate
#
# Data: AFCON 2025 group stage (Morocco, real venue capacities) and FIFA World Cups 1930-2014
# (no capacity: the proxy is the largest crowd recorded at the stadium). The target is the fill
# rate; attendance = fill x capacity. Run with `NOTEBOOK_SMALL=1` for a quick slice; figures are
# saved under `NOTEBOOK_OUTPUT` when it is set.

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
from services.forecast.features import FEATURE_NAMES  # noqa: E402

SMALL = os.environ.get("NOTEBOOK_SMALL") == "1"
OUTPUT = Path(os.environ["NOTEBOOK_OUTPUT"]) if os.environ.get("NOTEBOOK_OUTPUT") else None


def save(fig, name):
    if OUTPUT is not None:
        OUTPUT.mkdir(parents=True, exist_ok=True)
        fig.savefig(OUTPUT / f"{name}.png", dpi=90, bbox_inches="tight")
    plt.close(fig)


# %% [markdown]
# ## The data after cleaning (duplicates dropped, names repaired, stages mapped)

# %%
frame = dataset.load_matches(limit=150 if SMALL else None)
print(len(frame), "matches;", frame["tournament"].nunique(), "tournaments;", frame["stadium"].nunique(), "stadiums")
print(frame.groupby("stage")["fill"].agg(["mean", "count"]).round(3))
print(frame.groupby(frame["tournament"].str.startswith("AFCON"))["fill"].mean().rename({True: "AFCON", False: "World Cup"}))

# %%
fig, ax = plt.subplots(1, 2, figsize=(11, 4))
order = list(train.STAGE_ORDER)
for label, part in frame.groupby(frame["tournament"].str.startswith("AFCON")):
    means = part.groupby("stage")["fill"].mean().reindex(order)
    ax[0].plot(order, means.values, marker="o", label="AFCON 2025" if label else "World Cup")
ax[0].set_ylabel("mean fill rate")
ax[0].tick_params(axis="x", rotation=30)
ax[0].legend()
ax[1].scatter(frame["hour"], frame["fill"], s=8, alpha=0.5)
ax[1].set_xlabel("kickoff hour (local)")
ax[1].set_ylabel("fill rate")
save(fig, "fill_by_stage_and_hour")

# %% [markdown]
# ## Hold-out evaluation (both models beside the baseline, interval coverage)
#
# Fit on the World Cups before 2014; predict World Cup 2014 and AFCON 2025. A second hold-out fits on
# everything before AFCON's last group matchday and predicts that matchday.

# %%
metrics, chosen = train.evaluate(frame, seed=42, quiet=True)
for group, models in metrics.items():
    if group in ("holdout", "summary", "selection"):
        continue
    for name, s in models.items():
        print(f"{group:<36} {name:<28} MAE {s['mae']:>8,.0f}  MAPE {s['mape']:6.1f}%  "
              f"coverage {s.get('coverage', float('nan')):.2f}")
print(metrics["summary"]["statement"])

# %% [markdown]
# ## Predicted against actual on the latest-tournaments hold-out

# %%
frame_g = train.add_groups(frame)
fit_mask = ((frame_g["year"] < 2014) & ~train.is_afcon(frame_g["tournament"])).to_numpy()
preds = train.fit_predict(frame_g, fit_mask, seed=42)
test = frame_g[~fit_mask]
half = metrics["latest_tournaments"][chosen]["half_width_fill"]
pred = np.clip(preds[chosen], 0, 1) * test["capacity"].to_numpy()
fig, ax = plt.subplots(figsize=(5.5, 5))
ax.errorbar(test["attendance"], pred, yerr=half * test["capacity"].to_numpy(), fmt="o", ms=3, alpha=0.5)
top = float(max(test["attendance"].max(), pred.max()))
ax.plot([0, top], [0, top], "k--", lw=1)
ax.set_xlabel("actual attendance")
ax.set_ylabel(f"predicted ({chosen}) with {train.INTERVAL_LEVEL:.0%} interval")
save(fig, "holdout_predicted_vs_actual")

# %% [markdown]
# ## What the forest looks at (impurity importances of a model fitted on all matches)

# %%
d = train.design(frame_g, np.ones(len(frame_g), dtype=bool))
forest = train.make_model("random_forest", 42).fit(d.x_fit, d.y_fit)
importances = sorted(zip(FEATURE_NAMES, forest.feature_importances_), key=lambda t: -t[1])
for name, value in importances:
    print(f"{name:<16} {value:.3f}")
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.barh([n for n, _ in importances][::-1], [v for _, v in importances][::-1])
ax.set_xlabel("importance")
save(fig, "feature_importance")
