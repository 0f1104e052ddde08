# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Sales: data, features, backtest
#
# Weekly sales of 45 Walmart stores (`data/walmart_sales`). This walkthrough uses the same
# functions as `python -m services.sales.train`: the stacked frame of features computed at each
# origin (the function serving calls at load), the rolling-origin plan, the candidates and
# baselines through the kernel's flow, and the conformal intervals. `NOTEBOOK_SMALL=1` runs it on
# three stores (the test suite does); figures are saved under `NOTEBOOK_OUTPUT` if set.

# %%
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from services.sales import train  # noqa: E402

SMALL = os.environ.get("NOTEBOOK_SMALL") == "1"
OUTPUT = Path(os.environ["NOTEBOOK_OUTPUT"]) if os.environ.get("NOTEBOOK_OUTPUT") else None
stores = [1, 2, 3] if SMALL else None

# %% [markdown]
# ## Data
# Every week is Saturday..Friday, named by its Friday; the same week last year is 52 weeks
# (364 days) earlier, so Easter and the first days of a month move between weeks from one year
# to the next, which the global linear model's calendar effects account for.

# %%
frame = train.load_data(stores=stores)
print(frame.shape, frame["Date"].min().date(), "..", frame["Date"].max().date())
weekly_total = frame.groupby("Date")["Weekly_Sales"].sum()
fig, ax = plt.subplots(figsize=(10, 3))
weekly_total.plot(ax=ax, title="Total weekly sales (grey: holiday weeks)")
for day in frame.loc[frame["Holiday_Flag"] == 1, "Date"].unique():
    ax.axvline(day, color="grey", alpha=0.3)

# %% [markdown]
# ## The stacked frame
# One row per store x origin x horizon (1..13); features from the weeks up to the origin only.

# %%
ids, weeks, sales = train.sales_matrix(frame)
stacked = train.stacked_frame(ids, weeks, sales, train.holiday_flags(frame))
print(stacked.shape)
print(stacked.dropna().head(3).T)

# %% [markdown]
# ## Backtest: choose on validation origins, report on test origins

# %%
outcome, served, groups, interval_spec = train.forecast_evaluation(stacked, seed=42, quiet=True)
print(outcome.choice.reason)
print(pd.DataFrame(groups["test_wmae_by_band"]).T.round(0))
print(pd.DataFrame(groups["test_ratio_to_level_adjusted_seasonal_naive_by_band"]).T.round(3))
print(pd.DataFrame(groups["test_coverage"]["band"]["segments"]).T.round(3))
print(outcome.summary["statement"])

# %%
by_origin = pd.DataFrame(groups["test_wmae_by_origin"]).drop(index="all")
fig2, ax2 = plt.subplots(figsize=(9, 3))
by_origin[["global_linear", "global_gbm", "arima", "level_adjusted_seasonal_naive"]].plot(ax=ax2, marker="o")
ax2.set_ylabel("WMAE, 13 weeks (lower is better)")
ax2.set_title("Test origins: candidates and the strongest baseline")
fig2.tight_layout()

# %%
if OUTPUT:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUTPUT / "sales_weekly_total.png")
    fig2.savefig(OUTPUT / "sales_backtest.png")
