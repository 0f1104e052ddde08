# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Demand: validated data, price and promotion effects, the model comparison
#
# dunnhumby frozen pizza (`data/retail_demand`): weekly units per store x product with shelf
# price, base price, display, feature ad and TPR. This walkthrough calls the same plain functions
# as `python -m services.demand.pipeline` (validate -> load -> features -> compare), on a SQLite
# warehouse in a temp folder. `NOTEBOOK_SMALL=1` runs a quick comparison on four products (the
# test suite does); figures are saved under `NOTEBOOK_OUTPUT` if set.

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

from services.demand import pipeline  # noqa: E402
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
rows = warehouse.read()
warehouse.dispose()
if SMALL:
    rows = rows[rows["product_id"].isin(sorted(rows["product_id"].unique())[:4])].reset_index(drop=True)
print(f"{len(rows)} rows, {rows['store_id'].nunique()} stores, {rows['product_id'].nunique()} products, "
      f"{rows['week_end_date'].nunique()} weeks")

# %% [markdown]
# ## Price and promotion drive units
#
# A sparse sample: each store x product has 1-24 of 135 weeks, so there are no usable lags of
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
# ## Features and the time-ordered hold-out (the latest 20 weeks)

# %%
data = pipeline.features(rows, holdout_weeks=20)
print(data.holdout)

# %% [markdown]
# ## Six models on the hold-out (MAE, RMSE, WAPE); the winner is the lowest MAE

# %%
table, winner, fitted = pipeline.compare(data, seed=42, quick=SMALL)
for name, row in sorted(table.items(), key=lambda kv: kv[1]["mae"]):
    print(f"{name:<20} MAE {row['mae']:.3f}  RMSE {row['rmse']:.3f}  WAPE {row['wape']:.1f}%")
baseline = table["store_product_mean"]["mae"]
verdict = "beats" if table[winner]["mae"] < baseline else "does NOT beat"
print(f"winner: {winner}; it {verdict} the store x product mean baseline (MAE {table[winner]['mae']:.3f} "
      f"vs {baseline:.3f})")
if "loglog_elasticity" in fitted:
    print("log-log model:", pipeline.elasticity(fitted["loglog_elasticity"]))

fig, ax = plt.subplots(figsize=(7, 3.5))
names = sorted(table, key=lambda n: table[n]["mae"])
ax.barh(names, [table[n]["mae"] for n in names], color=["tab:green" if n == winner else "tab:gray" for n in names])
ax.set(xlabel="hold-out MAE (units)", title="model comparison")
save(fig, "demand_comparison")

# %% [markdown]
# ## Predicted against actual on the hold-out, for the winner

# %%
actual = data.test["units"].to_numpy(float)
if winner in fitted:
    predicted = pipeline.to_units(fitted[winner].predict(data.x_test))
else:
    predicted = pipeline.mean_lookup(data.encodings, "store_product" if winner == "store_product_mean"
                                     else "product")(data.test)
fig, ax = plt.subplots(figsize=(4.5, 4.5))
ax.scatter(actual, predicted, s=5, alpha=0.4)
top = float(max(actual.max(), predicted.max()))
ax.plot([0, top], [0, top], color="black", linewidth=0.8)
ax.set(xlabel="actual units", ylabel="predicted units", title=f"{winner} on the hold-out")
save(fig, "demand_holdout_scatter")
print(f"hold-out MAE {np.mean(np.abs(actual - predicted)):.3f}")
