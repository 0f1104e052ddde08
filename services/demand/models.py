"""Demand's baselines and candidates on the kernel's model interface (fit(frame) / predict(frame)).

Training code only (pandas, LightGBM, XGBoost); serving reads what `artifact()` writes and
computes the same numbers in services/demand/model.py without these libraries.

Frames are warehouse rows: week_end_date, store_id, product_id, price, base_price, display,
feature, tpr, units. Every model learns its encodings from the rows it is fitted on, so a
backtest fold never sees the weeks it predicts.

- store_product_mean (baseline): the kernel's MeanByKey over store x product.
- promo_adjusted_mean (baseline): the store x product mean over unpromoted weeks times the typical
  lift of the row's display/feature/TPR cell, in log1p space (a geometric mean, which suits
  counts skewed to the right), the pair's mean shrunk toward product + store by 3 pseudo-rows.
- lightgbm_tweedie / lightgbm_poisson / xgboost_poisson (candidates): gradient boosting with a
  count objective (so totals are unbiased in the fitting rows, unlike log1p training), monotone
  constraints on the price features and the promotion flags (features.MONOTONE).
- pooled_elasticity (baseline): the promotion-adjusted pair mean plus one price elasticity pooled
  over every product (capped at 0).
- blend (candidate): a log1p-space weighted mean of the LightGBM Tweedie booster and the
  promotion-adjusted baseline; both are monotone in price for fixed flags, so the blend is. Its
  weight is tuned inside fit on an inner window of its own fitting rows (nested).
- hierarchical_elasticity (candidate, issue 26): the pooled-elasticity curve with each product's own
  elasticity and cell lifts, shrunk toward the pooled ones by empirical Bayes (capped at 0).
- joint_pooled_elasticity / joint_hierarchical_elasticity (candidates): those curves with each pair's
  level learned from every week net of its promotion and price, fitted jointly (backfitting).
- EFFECTS: the boosters' optional feature groups, kept only with validation support (pipeline).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from services.common.baselines import MeanByKey
from services.common.export import check_parity, onnx_bytes
from services.common.modeling import shrink_to_prior

from .features import FEATURE_NAMES, MONOTONE, cell, feature_matrix, levels, pair_key, promo_log1p

PAIR_SHRINK = 3.0    # pseudo-rows pulling a store x product level toward product level + store effect
STORE_SHRINK = 5.0   # pseudo-rows pulling a store effect toward 0
ONNX_FILE = "model.onnx"
BLEND_WEIGHT = 1 / 3  # prior weight of the promotion-adjusted baseline (log1p space), when too few weeks to tune
INNER_WEEKS = 20      # the blend's inner validation window: the latest weeks of its own fitting rows
# Effects the boosters may use beyond price, promotion and the store x product levels, each a group of
# feature columns; the pipeline keeps one only with validation support (backtest.select_effects). A
# dropped effect's columns are held at 0 in the rows the booster fits, so no tree splits on them and
# the served feature function (which still computes them) cannot move the prediction.
EFFECTS = {"seasonality": ("week_sin", "week_cos"), "store_effect": ("store_effect",),
           "base_price_change": ("log_base_index",)}
WEIGHT_GRID = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
JOINT_TOLERANCE = 1e-4   # log1p units: JointLevels stops when no pair level moves by more
JOINT_MAX_ROUNDS = 50


def _log1p_units(frame: pd.DataFrame) -> np.ndarray:
    return np.log1p(frame["units"].to_numpy(float))


def plain_mask(frame: pd.DataFrame) -> np.ndarray:
    return cell(frame["display"], frame["feature"], frame["tpr"]) == 0


class Encodings:
    """Product, store and store x product levels of log1p(units) from fitting rows (features.py).

    `as_json()` is what the artifact ships; `rows(frame)` gives the level columns of any rows
    through features.levels (the function serving calls); `fitting_rows(frame)` gives them for the
    rows it was fitted on with each row's own units left out of its pair's levels, so a booster
    cannot learn to trust a level that contains the answer.
    """

    def fit(self, frame: pd.DataFrame, netted: np.ndarray | None = None) -> "Encodings":
        """`netted`: each row's log1p(units) less its promotion lift and price term (JointLevels);
        the base levels are then learned from every row of it instead of from the unpromoted rows."""
        ly = _log1p_units(frame)
        self.netted_ = netted is not None
        plain = plain_mask(frame) if netted is None else np.ones(len(frame), dtype=bool)
        d = pd.DataFrame({"s": frame["store_id"].astype(str).to_numpy(), "p": frame["product_id"].astype(str).to_numpy(),
                          "ly": ly, "lb": ly if netted is None else np.asarray(netted, dtype=float), "plain": plain})
        d["k"] = d["s"] + "|" + d["p"]
        product_level = d.groupby("p")["ly"].mean()
        product_base = d[d["plain"]].groupby("p")["lb"].mean().reindex(product_level.index).fillna(product_level)
        d["resid"] = d["ly"] - d["p"].map(product_level)
        d["resid_base"] = d["lb"] - d["p"].map(product_base)
        by_store = d.groupby("s")
        effect = by_store["resid"].sum() / (by_store.size() + STORE_SHRINK)
        plain_store = d[d["plain"]].groupby("s")
        base_effect = (plain_store["resid_base"].sum() / (plain_store.size() + STORE_SHRINK)).reindex(
            effect.index).fillna(0.0)
        self.global_level = float(ly.mean())
        self.global_base = float(d["lb"][plain].mean()) if plain.any() else self.global_level
        grouped = frame.assign(_p=d["p"].to_numpy()).groupby("_p")
        self.products = {
            p: {"level": float(product_level[p]), "base": float(product_base[p]),
                "usual_price": float(g["base_price"].median()), "min_price": float(g["price"].min()),
                "max_price": float(g["price"].max()), "rows": int(len(g)), "mean_units": float(g["units"].mean()),
                "manufacturer": str(g["manufacturer"].iloc[0]) if "manufacturer" in g else ""}
            for p, g in grouped}
        units = frame["units"].to_numpy(float)
        store_units = pd.Series(units).groupby(d["s"].to_numpy()).mean()
        store_rows = by_store.size()
        self.stores = {s: {"effect": float(effect[s]), "base_effect": float(base_effect[s]),
                           "rows": int(store_rows[s]), "mean_units": float(store_units[s])} for s in effect.index}
        all_sums = d.groupby("k")["ly"].agg(["sum", "size"])
        plain_sums = d[d["plain"]].groupby("k")["lb"].agg(["sum", "size"]).reindex(all_sums.index).fillna(0.0)
        store_of = all_sums.index.str.split("|").str[0]
        product_of = all_sums.index.str.split("|").str[1]
        prior = product_level.reindex(product_of).to_numpy() + effect.reindex(store_of).to_numpy()
        prior_base = product_base.reindex(product_of).to_numpy() + base_effect.reindex(store_of).to_numpy()
        total, n = all_sums["sum"].to_numpy(float), all_sums["size"].to_numpy(int)
        plain_total, plain_n = plain_sums["sum"].to_numpy(float), plain_sums["size"].to_numpy(int)
        level = (total + PAIR_SHRINK * prior) / (n + PAIR_SHRINK)
        base = (plain_total + PAIR_SHRINK * prior_base) / (plain_n + PAIR_SHRINK)
        keys = all_sums.index.tolist()
        self.sums = dict(zip(keys, zip(total.tolist(), n.tolist(), plain_total.tolist(), plain_n.tolist())))
        self.pairs = {k: {"level": float(a), "base": float(b)} for k, a, b in zip(keys, level, base)}
        return self

    def as_json(self) -> dict[str, Any]:
        return {"global_level": self.global_level, "global_base": self.global_base, "pair_shrink": PAIR_SHRINK,
                "store_shrink": STORE_SHRINK, "products": self.products, "stores": self.stores, "pairs": self.pairs}

    def rows(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        enc = self.as_json()
        cache: dict[tuple[str, str], dict[str, float]] = {}
        out = {n: np.empty(len(frame)) for n in ("pair_level", "pair_base", "product_level", "product_base",
                                                 "store_effect")}
        for i, (s, p) in enumerate(zip(frame["store_id"].astype(str), frame["product_id"].astype(str))):
            if (s, p) not in cache:
                cache[(s, p)] = levels(enc, s, p)
            for n, v in cache[(s, p)].items():
                out[n][i] = v
        return out

    def fitting_rows(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        if self.netted_:
            raise ValueError("leave-one-out levels are for boosters' encodings, which are never netted")
        out = self.rows(frame)
        ly, plain = _log1p_units(frame), plain_mask(frame)
        for i, (s, p) in enumerate(zip(frame["store_id"].astype(str), frame["product_id"].astype(str))):
            total, n, plain_total, plain_n = self.sums[pair_key(s, p)]
            prior = self.products[p]["level"] + self.stores[s]["effect"]
            out["pair_level"][i] = (total - ly[i] + PAIR_SHRINK * prior) / (n - 1 + PAIR_SHRINK)
            if plain[i]:
                prior_base = self.products[p]["base"] + self.stores[s]["base_effect"]
                out["pair_base"][i] = (plain_total - ly[i] + PAIR_SHRINK * prior_base) / (plain_n - 1 + PAIR_SHRINK)
        return out

    def usual_price(self, frame: pd.DataFrame) -> np.ndarray:
        return np.array([self.products[p]["usual_price"] if p in self.products else b
                         for p, b in zip(frame["product_id"].astype(str), frame["base_price"].to_numpy(float))])


def matrix(frame: pd.DataFrame, enc: Encodings, level_columns: dict[str, np.ndarray]) -> np.ndarray:
    """Feature rows of `frame` through the serving feature function."""
    weeks = pd.to_datetime(frame["week_end_date"]).dt.isocalendar().week.to_numpy(int)
    return feature_matrix(**level_columns, price=frame["price"].to_numpy(float),
                          base_price=frame["base_price"].to_numpy(float), usual_price=enc.usual_price(frame),
                          display=frame["display"].to_numpy(float), feature=frame["feature"].to_numpy(float),
                          tpr=frame["tpr"].to_numpy(float), iso_week=weeks)


def cells_of(frame: pd.DataFrame) -> np.ndarray:
    return cell(frame["display"], frame["feature"], frame["tpr"])


# ------------------------------------------------------------------------------------ baselines
class StoreProductMean(MeanByKey):
    """The kernel's mean per store x product (the overall mean for a pair never seen)."""

    name = "store_product_mean"

    def __init__(self):
        super().__init__(key=["store_id", "product_id"], target="units", name=self.name)

    def fit(self, frame: pd.DataFrame) -> "StoreProductMean":
        super().fit(frame.assign(store_id=frame["store_id"].astype(str), product_id=frame["product_id"].astype(str)))
        self.encodings_ = Encodings().fit(frame)
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return super().predict(frame.assign(store_id=frame["store_id"].astype(str),
                                            product_id=frame["product_id"].astype(str)))

    def artifact(self, out: Path, frame: pd.DataFrame) -> dict[str, Any]:
        return {"kind": "store_product_mean", "encodings": self.encodings_.as_json(),
                "means": {pair_key(s, p): v for (s, p), v in self.means_.items()}, "global_mean": self.global_mean_}


class PromoAdjustedMean:
    """exp(pair_base + lift[cell]) - 1: the unpromoted store x product level times the cell's lift."""

    name = "promo_adjusted_mean"

    def fit(self, frame: pd.DataFrame) -> "PromoAdjustedMean":
        self.encodings_ = Encodings().fit(frame)
        base = self.encodings_.rows(frame)["pair_base"]
        resid = pd.Series(_log1p_units(frame) - base).groupby(cells_of(frame)).mean()
        self.lift_ = {str(int(c)): float(v) for c, v in resid.items()}
        return self

    def predict_log1p(self, frame: pd.DataFrame) -> np.ndarray:
        return promo_log1p(self.lift_, self.encodings_.rows(frame)["pair_base"], cells_of(frame))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.maximum(np.expm1(self.predict_log1p(frame)), 0.0)

    def artifact(self, out: Path, frame: pd.DataFrame) -> dict[str, Any]:
        return {"kind": "promo_adjusted_mean", "encodings": self.encodings_.as_json(), "lift": self.lift_}


class PooledElasticity(PromoAdjustedMean):
    """The promotion-adjusted pair mean plus one price elasticity pooled over every product:
    exp(pair_base + lift[cell] + b log(price / usual price)) - 1. b and the cell lifts are one least-squares
    fit of log1p(units) - pair_base with a fixed effect per cell (b is the within-cell slope), b capped at 0
    so units never rise with the price. What a practitioner tries after the pair mean: a log-log demand
    curve with promotion dummies."""

    name = "pooled_elasticity"

    def fit(self, frame: pd.DataFrame) -> "PooledElasticity":
        self.encodings_ = Encodings().fit(frame)
        return self._fit_curve(frame)

    def _fit_curve(self, frame: pd.DataFrame) -> "PooledElasticity":
        """The elasticity and cell lifts, on log1p(units) less the pair levels of `encodings_`."""
        r = pd.Series(_log1p_units(frame) - self.encodings_.rows(frame)["pair_base"])
        x = pd.Series(np.log(frame["price"].to_numpy(float) / self.encodings_.usual_price(frame)))
        cells = cells_of(frame)
        xc = x - x.groupby(cells).transform("mean")
        rc = r - r.groupby(cells).transform("mean")
        denominator = float((xc * xc).sum())
        self.elasticity_ = min(float((xc * rc).sum()) / denominator, 0.0) if denominator > 0 else 0.0
        resid = (r - self.elasticity_ * x).groupby(cells).mean()
        self.lift_ = {str(int(c)): float(v) for c, v in resid.items()}
        return self

    def predict_log1p(self, frame: pd.DataFrame) -> np.ndarray:
        x = np.log(frame["price"].to_numpy(float) / self.encodings_.usual_price(frame))
        return super().predict_log1p(frame) + self.elasticity_ * x

    def artifact(self, out: Path, frame: pd.DataFrame) -> dict[str, Any]:
        return {"kind": "pooled_elasticity", "encodings": self.encodings_.as_json(), "lift": self.lift_,
                "elasticity": self.elasticity_}


def monotone_in_flags(table) -> list[float]:
    """Lifts of the 8 display/feature/TPR cells (features.cell) raised where needed so that adding a flag
    never lowers the lift: a noisy per-product cell must not make a promotion sell less than none."""
    out = [float(v) for v in table]
    for c in sorted(range(8), key=lambda c: bin(c).count("1")):
        out[c] = max([out[c]] + [out[c & ~bit] for bit in (1, 2, 4) if c & bit])
    return out


class HierarchicalElasticity(PromoAdjustedMean):
    """The pooled-elasticity curve with each product's own elasticity and promotion lifts, partially
    pooled: exp(pair_base + lift[product, cell] + b[product] log(price / usual price)) - 1.

    A product's elasticity is its within-(product x cell) least-squares slope, shrunk toward the slope
    pooled over every product by empirical Bayes (services.common.modeling.shrink_to_prior: a product
    with few price changes keeps little of its own slope; no constant is tuned), then capped at 0 so
    units never rise with price. Its cell lifts are shrunk toward the pooled cell lifts the same way.
    The data hold one category (frozen pizza), so the pooled level is the category."""

    name = "hierarchical_elasticity"

    def fit(self, frame: pd.DataFrame) -> "HierarchicalElasticity":
        self.encodings_ = Encodings().fit(frame)
        return self._fit_curve(frame)

    def _fit_curve(self, frame: pd.DataFrame) -> "HierarchicalElasticity":
        """The elasticities and cell lifts, on log1p(units) less the pair levels of `encodings_`."""
        r = _log1p_units(frame) - self.encodings_.rows(frame)["pair_base"]
        x = np.log(frame["price"].to_numpy(float) / self.encodings_.usual_price(frame))
        cells, products = cells_of(frame), frame["product_id"].astype(str).to_numpy()
        d = pd.DataFrame({"r": r, "x": x, "c": cells, "p": products})
        within = d.groupby(["p", "c"])
        d["xc"], d["rc"] = d["x"] - within["x"].transform("mean"), d["r"] - within["r"].transform("mean")
        sxx = (d["xc"] ** 2).groupby(d["p"]).sum()
        sxy = (d["xc"] * d["rc"]).groupby(d["p"]).sum()
        pooled = min(float(sxy.sum() / sxx.sum()), 0.0) if sxx.sum() > 0 else 0.0
        moved = sxx[sxx > 1e-9]
        own = sxy[moved.index] / moved
        noise = d["rc"] - d["xc"] * d["p"].map(own).fillna(pooled)
        sigma2 = float((noise ** 2).sum() / max(len(d) - within.ngroups - len(moved), 1))
        shrunk, self.elasticity_tau2_ = shrink_to_prior(own.to_numpy(), sigma2 / moved.to_numpy(), pooled)
        self.elasticity_ = pooled
        self.product_elasticity_ = {p: min(float(b), 0.0) for p, b in zip(moved.index, shrunk)}
        resid = d["r"] - d["x"] * d["p"].map(self.product_elasticity_).fillna(pooled)
        cell_lift = resid.groupby(d["c"]).mean()
        self.lift_ = {str(int(c)): float(v) for c, v in cell_lift.items()}
        g = resid.groupby([d["p"], d["c"]]).agg(["mean", "size", "var"])
        within_var = float((g["var"].fillna(0.0) * (g["size"] - 1)).sum() / max(int((g["size"] - 1).sum()), 1))
        prior = cell_lift.reindex(g.index.get_level_values(1)).to_numpy()
        lifts, self.lift_tau2_ = shrink_to_prior(g["mean"].to_numpy(), within_var / g["size"].to_numpy(), prior)
        own: dict[str, dict[int, float]] = {}
        for (p, c), v in zip(g.index, lifts):
            own.setdefault(p, {})[int(c)] = float(v)
        pooled_table = promo_log1p(self.lift_, 0.0, np.arange(8))   # a cell a product never had: the pooled lift
        self.product_lift_ = {p: {str(c): v for c, v in enumerate(monotone_in_flags(
            [cells_.get(c, pooled_table[c]) for c in range(8)]))} for p, cells_ in own.items()}
        return self

    def predict_log1p(self, frame: pd.DataFrame) -> np.ndarray:
        x = np.log(frame["price"].to_numpy(float) / self.encodings_.usual_price(frame))
        products, cells = frame["product_id"].astype(str).to_numpy(), cells_of(frame)
        out = self.encodings_.rows(frame)["pair_base"] + np.array(
            [self.product_elasticity_.get(p, self.elasticity_) for p in products]) * x
        pooled = promo_log1p(self.lift_, 0.0, np.arange(8))
        for p in np.unique(products):
            rows = products == p
            own = self.product_lift_.get(p, {})
            out[rows] += np.array([own.get(str(c), pooled[c]) for c in range(8)])[cells[rows]]
        return out

    def artifact(self, out: Path, frame: pd.DataFrame) -> dict[str, Any]:
        return {"kind": "hierarchical_elasticity", "encodings": self.encodings_.as_json(), "lift": self.lift_,
                "elasticity": self.elasticity_, "product_elasticity": self.product_elasticity_,
                "product_lift": self.product_lift_,
                "pooling": {"elasticity_tau2": self.elasticity_tau2_, "lift_tau2": self.lift_tau2_,
                            "how": "empirical-Bayes shrinkage toward the pooled value (tau2 by moments)"}}


class JointLevels:
    """A price curve whose pair levels are learned from every week, not only the unpromoted ones (mixed in
    before PooledElasticity or HierarchicalElasticity, whose `_fit_curve` it alternates with).

    The curve's own levels are means over each pair's unpromoted weeks, at whatever prices those weeks
    had, and leave out its promoted weeks (a third of the rows). Here the levels and the curve are
    fitted jointly, by alternating: the levels (shrunk as before) on log1p(units) less each row's curve,
    then the curve on log1p(units) less the levels, until no level moves by more than JOINT_TOLERANCE
    (a two-way fixed-effects fit, by backfitting). Served like the curve it extends: only the pair
    levels differ."""

    def fit(self, frame: pd.DataFrame):
        super().fit(frame)                          # levels from unpromoted weeks: the starting point
        ly = _log1p_units(frame)
        base = self.encodings_.rows(frame)["pair_base"]
        # each row's curve is taken relative to an unpromoted week at the usual price (a product's median
        # base price, which netting leaves alone), fixing the constant levels and lifts could trade
        plain_week = frame.assign(display=0, feature=0, tpr=0, price=self.encodings_.usual_price(frame))
        for self.rounds_ in range(1, JOINT_MAX_ROUNDS + 1):
            curve = self.predict_log1p(frame) - self.predict_log1p(plain_week)
            self.encodings_ = Encodings().fit(frame, netted=ly - curve)
            new_base = self.encodings_.rows(frame)["pair_base"]
            moved, base = float(np.abs(new_base - base).max()), new_base
            self._fit_curve(frame)
            if moved < JOINT_TOLERANCE:
                break
        return self

    def _fit_curve(self, frame: pd.DataFrame):
        """The curve's fit, with its pooled cell lifts never lower with a flag added: netted levels can
        leave the TPR cell below the unpromoted one, and TPR is derived from the price (a cut below the
        base price sets it), so such a lift would make units rise with the price."""
        super()._fit_curve(frame)
        self.lift_ = {str(c): v for c, v in enumerate(monotone_in_flags(promo_log1p(self.lift_, 0.0, np.arange(8))))}
        return self

    def artifact(self, out: Path, frame: pd.DataFrame) -> dict[str, Any]:
        return {**super().artifact(out, frame), "pair_levels": (
            f"every week, net of the curve (fitted jointly with it, {self.rounds_} rounds of backfitting)")}


class JointPooledElasticity(JointLevels, PooledElasticity):
    """pooled_elasticity with its pair levels fitted jointly with the curve (JointLevels)."""

    name = "joint_pooled_elasticity"


class JointHierarchicalElasticity(JointLevels, HierarchicalElasticity):
    """hierarchical_elasticity with its pair levels fitted jointly with the curve (JointLevels)."""

    name = "joint_hierarchical_elasticity"


# ------------------------------------------------------------------------------------ candidates
def make_estimator(library: str, objective: str, seed: int, small: bool):
    constraints = [MONOTONE.get(n, 0) for n in FEATURE_NAMES]
    trees = 100 if small else 400
    if library == "lightgbm":
        from lightgbm import LGBMRegressor
        return LGBMRegressor(objective=objective, n_estimators=trees, learning_rate=0.03 * (400 / trees) ** 0.5,
                             num_leaves=15, min_child_samples=20, subsample=0.8, subsample_freq=1,
                             colsample_bytree=0.8, reg_lambda=1.0, monotone_constraints=constraints,
                             monotone_constraints_method="advanced", random_state=seed, n_jobs=1, verbose=-1)
    if library == "xgboost":
        from xgboost import XGBRegressor
        return XGBRegressor(objective=f"count:{objective}", n_estimators=trees, learning_rate=0.05 * (400 / trees) ** 0.5,
                            max_depth=4, min_child_weight=5, subsample=0.8, colsample_bytree=0.8, tree_method="hist",
                            monotone_constraints=tuple(constraints), random_state=seed,
                            n_jobs=1)  # one thread: OpenMP spinning on a shared 2-core box costs more
    raise ValueError(library)


class Booster:
    """Gradient boosting on the feature rows with a count objective and monotone constraints."""

    def __init__(self, library: str, objective: str, seed: int = 42, small: bool = False,
                 effects: tuple[str, ...] = tuple(EFFECTS)):
        self.library, self.objective, self.seed, self.small = library, objective, seed, small
        self.effects = tuple(effects)
        self.name = f"{library}_{objective}"

    def seeded(self, seed: int) -> "Booster":
        """The same booster with another random seed (row and column subsampling); for the seed spread."""
        copy_ = Booster(self.library, self.objective, seed, self.small, self.effects)
        copy_.name = self.name
        return copy_

    def _held(self, x: np.ndarray) -> np.ndarray:
        """The feature rows with the columns of effects not used held at 0."""
        for effect, columns in EFFECTS.items():
            if effect not in self.effects:
                x[:, [FEATURE_NAMES.index(c) for c in columns]] = 0.0
        return x

    def fit(self, frame: pd.DataFrame) -> "Booster":
        self.encodings_ = Encodings().fit(frame)
        x = self._held(matrix(frame, self.encodings_, self.encodings_.fitting_rows(frame)))
        self.estimator_ = make_estimator(self.library, self.objective, self.seed, self.small)
        self.estimator_.fit(x, frame["units"].to_numpy(float))
        return self

    def rows(self, frame: pd.DataFrame) -> np.ndarray:
        return self._held(matrix(frame, self.encodings_, self.encodings_.rows(frame)))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.estimator_.predict(self.rows(frame)), dtype=float).ravel()

    def export_onnx(self, out: Path, frame: pd.DataFrame) -> dict[str, Any]:
        """model.onnx, checked against the native booster on every row of `frame` (kernel parity)."""
        blob = onnx_bytes(self.estimator_, len(FEATURE_NAMES), f"demand_{self.name}")
        x = self.rows(frame)
        gap = check_parity(blob, x, self.estimator_.predict(x), label=self.name)
        (out / ONNX_FILE).write_bytes(blob)
        return {"onnx_file": ONNX_FILE, "parity_max_relative_gap": gap, "parity_rows": int(len(x))}

    def artifact(self, out: Path, frame: pd.DataFrame) -> dict[str, Any]:
        return {"kind": "booster", "encodings": self.encodings_.as_json(), **self.export_onnx(out, frame)}


class Blend:
    """expm1((1 - w) log1p(booster) + w log1p(promotion-adjusted baseline)): the booster pulled
    toward the baseline.

    The weight is tuned inside `fit`, on the rows it is given only (nested): the latest
    INNER_WEEKS weeks of the fitting rows are an inner validation window; booster and baseline are
    fitted on the weeks before it, w is the grid value with the lowest MAE there (ties: the smaller w),
    and both parts are then refitted on every fitting row. A backtest fold's weight therefore never
    sees the window the fold predicts, and the choice among models (on the outer validation windows)
    is made on windows the weight was not tuned on. `weight=` fixes it instead (no tuning)."""

    def __init__(self, booster: Booster, weight: float | None = None):
        self.booster, self.weight = booster, weight
        self.name = f"blend_{booster.name}_promo"

    def seeded(self, seed: int) -> "Blend":
        copy_ = Blend(self.booster.seeded(seed), self.weight)
        copy_.name = self.name
        return copy_

    def _parts(self, frame: pd.DataFrame) -> tuple["Booster", "PromoAdjustedMean"]:
        return (Booster(self.booster.library, self.booster.objective, self.booster.seed, self.booster.small,
                        self.booster.effects).fit(frame),
                PromoAdjustedMean().fit(frame))

    @staticmethod
    def _mix(booster_units: np.ndarray, promo_log1p: np.ndarray, w: float) -> np.ndarray:
        return np.maximum(np.expm1((1 - w) * np.log1p(booster_units) + w * promo_log1p), 0.0)

    def tune(self, frame: pd.DataFrame) -> dict[str, Any]:
        weeks = pd.to_datetime(frame["week_end_date"])
        distinct = np.sort(weeks.unique())
        if len(distinct) <= 2 * INNER_WEEKS:
            return {"weight": BLEND_WEIGHT, "why": f"too few weeks ({len(distinct)}) for an inner window; prior"}
        cut = distinct[-INNER_WEEKS]
        early, late = frame[weeks < cut], frame[weeks >= cut]
        booster, promo = self._parts(early)
        hidden = late.drop(columns=["units"])
        b, p, y = booster.predict(hidden), promo.predict_log1p(hidden), late["units"].to_numpy(float)
        maes = {float(w): float(np.mean(np.abs(self._mix(b, p, w) - y))) for w in WEIGHT_GRID}
        best = min(maes, key=lambda w: (round(maes[w], 12), w))
        return {"weight": best, "inner_first_week": pd.Timestamp(cut).date().isoformat(),
                "inner_rows": int(len(late)), "inner_mae_by_weight": maes}

    def fit(self, frame: pd.DataFrame) -> "Blend":
        self.tuning_ = {"weight": self.weight, "why": "fixed"} if self.weight is not None else self.tune(frame)
        self.weight_ = float(self.tuning_["weight"])
        self.booster_, self.promo_ = self._parts(frame)
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self._mix(self.booster_.predict(frame), self.promo_.predict_log1p(frame), self.weight_)

    def artifact(self, out: Path, frame: pd.DataFrame) -> dict[str, Any]:
        return {"kind": "blend", "encodings": self.booster_.encodings_.as_json(), "lift": self.promo_.lift_,
                "blend_weight": self.weight_, "blend_tuning": self.tuning_, "booster": self.booster_.name,
                **self.booster_.export_onnx(out, frame)}


def blend(seed: int, small: bool, effects: tuple[str, ...] = tuple(EFFECTS)) -> Blend:
    return Blend(Booster("lightgbm", "tweedie", seed, small, tuple(effects)))


def candidates(seed: int, small: bool, effects: tuple[str, ...] = tuple(EFFECTS)) -> list[Any]:
    """The boosters and the blend, each using the effects kept (selected on validation for the blend), and
    the pooled and hierarchical price curves with their levels fitted jointly, and the hierarchical one
    with its levels from unpromoted weeks (no booster, no effects)."""
    effects = tuple(effects)
    return [Booster("lightgbm", "tweedie", seed, small, effects), Booster("lightgbm", "poisson", seed, small, effects),
            Booster("xgboost", "poisson", seed, small, effects), blend(seed, small, effects), HierarchicalElasticity(),
            JointPooledElasticity(), JointHierarchicalElasticity()]


def baselines() -> list[Any]:
    return [StoreProductMean(), PromoAdjustedMean(), PooledElasticity()]
