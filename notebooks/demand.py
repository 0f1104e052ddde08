# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Demand: validated data, price and promotion effects, the choice on validation windows
#
# dunnhumby frozen pizza (`data/retail_demand`): weekly units per store x product with shelf
# price, base price, display, feature ad and TPR. This walkthrough calls the same plain functions
# as `python -m services.demand.pipeline` (validate -> load -> backtest -> choose), on a SQLite
# warehouse in a temp folder. `NOTEBOOK_SMALL=1` runs small boosters on four products (the test
# suite does); figures are saved under `NOTEBOOK_OUTPUT` if set.

# %%
import os
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1] if "__file__" in globals() else Path.cwd().parent
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

from services.common.backtest import run as run_flow  # noqa: E402
from services.demand import models, pipeline  # noqa: E402
from services.demand.validation import PRICE_ABOVE_BASE_TOLERANCE  # noqa: E402
from services.demand.warehouse import Warehouse  # noqa: E402

SMALL = os.environ.get("NOTEBOOK_SMALL") == "1"
OUTPUT = Path(os.environ["NOTEBOOK_OUTPUT"]) if os.environ.get("NOTEBOOK_OUTPUT") else None
WORK = Path(tempfile.mkdtemp(prefix="demand-notebook-"))


def save(fig, name):
    if OUTPUT is not None:
        OUTPUT.mkdir(parents=True, exist_ok=True)
        fig.savefig(OUTPUT / f"{name}.png", dpi=90, bbox_inches="tight")
    plt.close(fig)


# %% [markdown]
# ## Validate (the circuit breaker) and load the warehouse
#
# Every pandera rule holds on the shipped file. The price-above-base tolerance comes from the
# data: the shelf price is above the base price on about 1% of rows, by at most 27%.

# %%
frame, report = pipeline.validate(pipeline.DATA, WORK / "report.txt")
print(report.text())
ratio = frame["price"] / frame["base_price"]
print(f"price above base: {(ratio > 1).sum()} rows, max ratio {ratio.max():.3f}; "
      f"tolerance {1 + PRICE_ABOVE_BASE_TOLERANCE:.2f}")
warehouse = Warehouse(f"sqlite:///{WORK / 'warehouse.db'}")
first, again = pipeline.load(frame, warehouse), pipeline.load(frame, warehouse)
print(f"first load inserted {first.inserted}, re-run inserted {again.inserted}; rows {again.after}")
rows = pipeline.read_rows(warehouse)
warehouse.dispose()
if SMALL:
    rows = rows[rows["product_id"].isin(sorted(rows["product_id"].unique())[:4])].reset_index(drop=True)
print(f"{len(rows)} rows, {rows['store_id'].nunique()} stores, {rows['product_id'].nunique()} products, "
      f"{rows['week_end_date'].nunique()} weeks")

# %% [markdown]
# ## Price and promotion drive units
#
# A sparse sample: each store x product has 1-27 of 135 weeks, so there are no usable lags of
# units. What is known at prediction time is the price, the base price, the promotion flags, the
# store and product (through their mean levels on the fitting weeks) and the calendar.

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
discount = 1 - rows["price"] / rows["base_price"]
promo = (rows["display"] | rows["feature"]).astype(bool)
axes[0].scatter(discount[~promo], rows.loc[~promo, "units"], s=4, alpha=0.3, label="no display/feature")
axes[0].scatter(discount[promo], rows.loc[promo, "units"], s=4, alpha=0.3, label="display or feature")
axes[0].set(xlabel="discount = 1 - price / base price", ylabel="units", yscale="log", title="units vs discount")
axes[0].legend()
means = rows.groupby(["display", "feature", "tpr"])["units"].mean()
means.plot.bar(ax=axes[1], title="mean units by (display, feature, tpr)")
save(fig, "demand_price_promotion")
print(means.round(2))

# %% [markdown]
# ## The split plan: validation windows choose, the latest 20 weeks test
#
# The kernel's rolling-origin plan on the week column: the test window is the latest 20 weeks,
# fitted on every earlier week; before it, three 20-week validation windows, each fitted on the
# weeks before it. Every model learns its encodings inside each fold.

# %%
plan = pipeline.split_plan()
for fold in plan.describe(rows)["folds"]:
    print(fold["role"], "fit", fold["fit"]["rows"], "rows up to", fold["fit"]["last"][:10], "-> predict",
          fold["predict"]["rows"], "rows", fold["predict"]["first"][:10], "..", fold["predict"]["last"][:10])

# %% [markdown]
# ## Candidates and baselines through the kernel's flow
#
# Baselines: the store x product mean, and the promotion-adjusted mean (the unpromoted store x
# product level times the lift of the row's display/feature/TPR cell). Candidates: boosters with a
# count objective and monotone price constraints, and their blend with the promotion baseline.
# The choice reads the validation windows only; the test window is scored afterwards.

# %%
outcome = run_flow(rows, plan, candidates=models.candidates(42, small=SMALL), baselines=models.baselines(),
                   metrics=pipeline.METRICS, metric="mae", target="units", keys=["store_id", "product_id"],
                   carry=["week_end_date"], by_horizon=False)
chosen = outcome.choice.chosen
for role, scores in (("validation", outcome.validation), ("test", outcome.test)):
    print(role)
    for name, row in scores.items():
        print(f"  {name:<30} MAE {row['mae']:.3f}  WAPE {row['wape']:.1f}%  bias {row['bias_pct']:+.1f}%")
print(f"chosen: {chosen} ({outcome.choice.reason})")
print(pipeline.target_check(outcome.test, chosen)["statement"])
print(outcome.summary["statement"])  # the chosen model against the strongest baseline on the test window

fig, ax = plt.subplots(figsize=(7, 3.5))
names = list(outcome.validation)
y = np.arange(len(names))
ax.barh(y - 0.2, [outcome.validation[n]["mae"] for n in names], height=0.4, label="validation")
ax.barh(y + 0.2, [outcome.test[n]["mae"] for n in names], height=0.4, label="test")
ax.set_yticks(y, [f"{n} *" if n == chosen else n for n in names])
ax.set(xlabel="MAE (units)", title="validation chooses (*), test reports")
ax.legend()
save(fig, "demand_comparison")

# %% [markdown]
# ## Predicted against actual on the test window, for the chosen model

# %%
test_rows = outcome.rows("test")
actual, predicted = test_rows["actual"].to_numpy(), test_rows["prediction"].to_numpy()
fig, ax = plt.subplots(figsize=(4.5, 4.5))
ax.scatter(actual, predicted, s=5, alpha=0.4)
top = float(max(actual.max(), predicted.max()))
ax.plot([0, top], [0, top], color="black", linewidth=0.8)
ax.set(xlabel="actual units", ylabel="predicted units", title=f"{chosen} on the test window")
save(fig, "demand_holdout_scatter")
print(f"test MAE {np.mean(np.abs(actual - predicted)):.3f}; total predicted / actual "
      f"{predicted.sum() / actual.sum():.3f}")

# %% [markdown]
# ## The price response of the refitted chosen model is monotone
#
# For fixed promotion flags a higher shelf price never gives more units (monotone constraints in
# the booster; the promotion baseline is flat in price within a cell).

# %%
product = rows["product_id"].iloc[0]
store = rows.loc[rows["product_id"] == product, "store_id"].iloc[0]
grid = np.linspace(rows.loc[rows["product_id"] == product, "price"].min() * 0.7,
                   rows.loc[rows["product_id"] == product, "price"].max() * 1.3, 40)
usual = float(rows.loc[rows["product_id"] == product, "base_price"].median())
fig, ax = plt.subplots(figsize=(6, 3.5))
for flags in ((0, 0, 0), (0, 0, 1), (1, 1, 0)):
    sweep = pd.DataFrame({"week_end_date": pd.Timestamp("2011-06-15"), "store_id": store, "product_id": product,
                          "price": grid, "base_price": usual, "display": flags[0], "feature": flags[1],
                          "tpr": flags[2], "manufacturer": ""})
    units = outcome.model.predict(sweep)
    assert np.all(np.diff(units) <= 0)
    ax.plot(grid, units, label="display/feature/tpr = %d/%d/%d" % flags)
ax.set(xlabel="shelf price (USD)", ylabel="units", title=f"store {store}, product {product}")
ax.legend()
save(fig, "demand_price_response")
