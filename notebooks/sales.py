# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Sales: data, features, evaluation
#
# Weekly sales of 45 Walmart stores (`data/walmart_sales`). This walkthrough uses the same
# functions as `python -m services.sales.train`: the feature function serving uses, the
# time-ordered hold-out (last 13 weeks) and the naive baselines. `NOTEBOOK_SMALL=1` runs it
# on two stores (the test suite does); figures are saved under `NOTEBOOK_OUTPUT` if set.

# %%
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from services.sales import train  # noqa: E402

SMALL = os.environ.get("NOTEBOOK_SMALL") == "1"
OUTPUT = Path(os.environ["NOTEBOOK_OUTPUT"]) if os.environ.get("NOTEBOOK_OUTPUT") else None
stores = [1, 2] if SMALL else None

# %% [markdown]
# ## Data

# %%
frame = train.load_data(stores=stores)
print(frame.shape, frame["Date"].min().date(), "..", frame["Date"].max().date())
print(frame.describe().T[["mean", "min", "max"]])

# %%
weekly_total = frame.groupby("Date")["Weekly_Sales"].sum()
fig, ax = plt.subplots(figsize=(10, 3))
weekly_total.plot(ax=ax, title="Total weekly sales")
for day in frame.loc[frame["Holiday_Flag"] == 1, "Date"].unique():
    ax.axvline(day, color="grey", alpha=0.3)

# %% [markdown]
# ## Features
# One row per (store, week) with 52 weeks of history, built by `services.sales.features.feature_row`,
# the function the server calls for a request.

# %%
store_means = frame.groupby("Store")["Weekly_Sales"].mean().to_dict()
x, rows = train.make_rows(frame, store_means)
print(x.shape, "features:", train.FEATURE_NAMES)

# %% [markdown]
# ## Evaluation on the last 13 weeks (never fitted)

# %%
metrics = train.evaluate(frame, seed=42, quiet=True)
for group in ("one_step", "multi_step"):
    print(group)
    for name, scores in metrics[group].items():
        print(f"  {name:20s} MAE {scores['mae']:>12,.0f}  MAPE {scores['mape']:6.2f}%")
print(metrics["summary"]["statement"])
print(metrics["forecast_summary"]["statement"])

# %%
fig2, ax2 = plt.subplots(figsize=(6, 3))
one_step = metrics["one_step"]
ax2.barh(list(one_step), [s["mae"] for s in one_step.values()])
ax2.set_xlabel("MAE on the hold-out (lower is better)")
ax2.set_title("One week ahead: models and baselines")
fig2.tight_layout()

# %%
if OUTPUT:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUTPUT / "sales_weekly_total.png")
    fig2.savefig(OUTPUT / "sales_evaluation.png")
