"""Demand inference: the chosen model, served from ONNX and/or JSON (services/demand/models.py).

Loaded from a verified version folder; imports no training library and unpickles nothing.
A request becomes float32 rows through the same feature function training used; a price curve
is one batch (one ONNX call for every price, with and without promotion). The kinds:

- booster: units = ONNX(rows)
- blend: units = expm1((1 - w) log1p(ONNX(rows)) + w (pair_base + lift[cell]))
- promo_adjusted_mean: units = expm1(pair_base + lift[cell])
- pooled_elasticity: units = expm1(pair_base + lift[cell] + elasticity * log(price / usual price)), one
  elasticity (<= 0) pooled over every product
- hierarchical_elasticity: the same with the product's own elasticity (<= 0) and cell lifts, partially
  pooled at training (a product or cell the artifact lacks takes the pooled value)
- store_product_mean: units = the pair's mean (the overall mean for a pair never seen)
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from services.common.errors import InputError
from services.common.onnx import OnnxModel

from .features import FEATURE_NAMES, cell, feature_matrix, feature_row, levels, pair_key, promo_log1p, week_ending

CATALOG_HINT = "see GET /api/demand/catalog for the accepted ids"
TPR_EPSILON = 0.005  # in the data, TPR_ONLY = 1 exactly when price < base_price - 0.005 and no display/feature
KINDS = ("booster", "blend", "promo_adjusted_mean", "pooled_elasticity", "hierarchical_elasticity",
         "store_product_mean")


class UnknownInput(InputError):
    """A request the model cannot answer, with the field to blame (answered as a 400)."""


@dataclass
class Promotion:
    display: int
    feature: int
    tpr: int | None  # None: derive from price vs base price


def derived_tpr(price: np.ndarray, base_price: float, display: int, feature: int) -> np.ndarray:
    reduced = np.asarray(price, dtype=float) < base_price - TPR_EPSILON
    return (reduced & (display == 0) & (feature == 0)).astype(float)


class DemandModel:
    def __init__(self, directory: Path, manifest: dict[str, Any]):
        self.version = manifest["version"]
        art = json.loads((directory / "demand.json").read_text())
        if art.get("feature_names") != FEATURE_NAMES:
            raise ValueError("demand.json was built for other features than this code computes")
        self.name = art["model"]
        self.kind = art["kind"]
        if self.kind not in KINDS:
            raise ValueError(f"unknown model kind {self.kind!r}")
        self.encodings = art["encodings"]
        self.products: dict[str, dict[str, Any]] = self.encodings["products"]
        self.stores: dict[str, dict[str, Any]] = self.encodings["stores"]
        self.catalog = art["catalog"]
        self.promotion = art["promotion_means"]
        self.lift: dict[str, float] = art.get("lift", {})
        self.weight = float(art.get("blend_weight", 0.0))
        self.elasticity = float(art.get("elasticity", 0.0))
        # the baselines' own parameters (refitted on the same rows), for live monitoring's comparison
        self.baselines: dict[str, Any] = art.get("baselines", {})
        self.means: dict[str, float] = art.get("means", {})
        self.global_mean = float(art.get("global_mean", 0.0))
        # promo_log1p's lift per promotion cell, as an array once per load rather than per request
        self._lift_table = np.array([self.lift.get(str(c), self.lift.get(str(c & ~1), 0.0)) for c in range(8)])
        # hierarchical_elasticity: per product, its elasticity and its lift per cell (the pooled ones where absent)
        self.product_elasticity: dict[str, float] = art.get("product_elasticity", {})
        self._product_lift_tables = {
            p: np.array([lifts.get(str(c), self._lift_table[c]) for c in range(8)])
            for p, lifts in art.get("product_lift", {}).items()}
        # history.json (actual weeks and the test window's held-out predictions); older artifacts have none
        history = directory / "history.json"
        self.history_table: dict[str, Any] | None = json.loads(history.read_text()) if history.exists() else None
        self.onnx: OnnxModel | None = None
        if self.kind in ("booster", "blend"):
            self.onnx = OnnxModel(directory / art["onnx_file"])
            if self.onnx.n_features not in (None, len(FEATURE_NAMES)):
                raise ValueError(f"model.onnx takes {self.onnx.n_features} features, code computes {len(FEATURE_NAMES)}")
        # Smoke test: a model that cannot answer one request must not be swapped in.
        store, product = next(iter(self.stores)), next(iter(self.products))
        usual = self.usual_price(product)
        units = self.units(store, product, date(2011, 1, 5), np.array([usual]), usual, Promotion(0, 0, None))
        if not np.all(np.isfinite(units)):
            raise ValueError("the model gives a non-finite prediction")

    # ------------------------------------------------------------------
    def check(self, store_id: str, product_id: str) -> None:
        if store_id not in self.stores:
            raise UnknownInput("store_id", f"unknown store {store_id!r}; {CATALOG_HINT} "
                                           f"({len(self.stores)} stores)")
        if product_id not in self.products:
            raise UnknownInput("product_id", f"unknown product {product_id!r}; {CATALOG_HINT} "
                                             f"({len(self.products)} products)")

    def usual_price(self, product_id: str) -> float:
        return float(self.products[product_id]["usual_price"])

    def seen_prices(self, product_id: str) -> tuple[float, float]:
        product = self.products[product_id]
        return float(product["min_price"]), float(product["max_price"])

    def _lifts(self, product_id: str) -> np.ndarray:
        """The lift per promotion cell: the product's own for the hierarchical curve, else the pooled ones."""
        if self.kind == "hierarchical_elasticity":
            return self._product_lift_tables.get(product_id, self._lift_table)
        return self._lift_table

    def _elasticity(self, product_id: str) -> float:
        if self.kind == "hierarchical_elasticity":
            return float(self.product_elasticity.get(product_id, self.elasticity))
        return self.elasticity

    def _run(self, x: np.ndarray, store_id: str, product_id: str, cells: np.ndarray, prices=None) -> np.ndarray:
        """Units for feature rows `x` of one store x product (cells: each row's promotion cell)."""
        if self.kind == "store_product_mean":
            value = self.means.get(pair_key(store_id, product_id), self.global_mean)
            return np.full(x.shape[0], float(value))
        if self.kind != "booster":
            pair_base = levels(self.encodings, store_id, product_id)["pair_base"]
            promo = pair_base + self._lifts(product_id)[cells]  # promo_log1p(self.lift, pair_base, cells)
            if self.kind == "promo_adjusted_mean":
                return np.maximum(np.expm1(promo), 0.0)
            if self.kind in ("pooled_elasticity", "hierarchical_elasticity"):
                term = self._elasticity(product_id) * np.log(np.asarray(prices, dtype=np.float64)
                                                            / self.usual_price(product_id))
                return np.maximum(np.expm1(promo + term), 0.0)
        booster = self.onnx.run(x).astype(np.float64).ravel()
        if self.kind == "booster":
            return booster
        return np.maximum(np.expm1((1 - self.weight) * np.log1p(booster) + self.weight * promo), 0.0)

    def units_rows(self, store_id: str, product_id: str, iso_week, prices, base_price, display, feature,
                   tpr) -> np.ndarray:
        """Units for rows of one store x product (scalars or arrays as long as `prices`), one model call."""
        x = feature_matrix(**levels(self.encodings, store_id, product_id), price=prices, base_price=base_price,
                           usual_price=self.usual_price(product_id), display=display, feature=feature, tpr=tpr,
                           iso_week=iso_week)
        cells = np.broadcast_to(cell(display, feature, tpr), (x.shape[0],))
        return self._run(x, store_id, product_id, cells, np.broadcast_to(np.asarray(prices, dtype=np.float64),
                                                                          (x.shape[0],)))

    def units_batch(self, store_id: str, product_id: str, week: date, prices: np.ndarray, base_price: float,
                    display: np.ndarray, feature: np.ndarray, tpr: np.ndarray) -> np.ndarray:
        """Units for rows of explicit flags (arrays as long as `prices`) in one week."""
        return self.units_rows(store_id, product_id, week.isocalendar()[1], prices, base_price, display, feature, tpr)

    def units(self, store_id: str, product_id: str, week: date, prices: np.ndarray, base_price: float,
              promo: Promotion) -> np.ndarray:
        """Units for every price in `prices` under one promotion setting (one batch)."""
        prices = np.asarray(prices, dtype=np.float64)
        tpr = derived_tpr(prices, base_price, promo.display, promo.feature) if promo.tpr is None \
            else np.full(prices.shape, float(promo.tpr))
        return self.units_batch(store_id, product_id, week, prices, base_price, np.full(prices.shape, promo.display),
                                np.full(prices.shape, promo.feature), tpr)

    def units_one(self, store_id: str, product_id: str, week: date, price: float, base_price: float,
                  display: int, feature: int, tpr: int) -> float:
        """units_batch() of one price: the same number (tests/demand/test_features.py), from one feature row
        (features.feature_row) and scalar arithmetic, without the batch path's arrays for a single row."""
        if self.kind == "store_product_mean":
            return float(self.means.get(pair_key(store_id, product_id), self.global_mean))
        level = levels(self.encodings, store_id, product_id)
        promo = level["pair_base"] + self._lifts(product_id)[display * 4 + feature * 2 + tpr]  # its cell (features.cell)
        if self.kind == "promo_adjusted_mean":
            return float(max(np.expm1(promo), 0.0))
        if self.kind in ("pooled_elasticity", "hierarchical_elasticity"):
            return float(max(np.expm1(promo + self._elasticity(product_id)
                                      * np.log(price / self.usual_price(product_id))), 0.0))
        row = feature_row(**level, price=price, base_price=base_price, usual_price=self.usual_price(product_id),
                          display=display, feature=feature, tpr=tpr, iso_week=week.isocalendar()[1])
        booster = np.float64(self.onnx.run_row(row)[0])
        if self.kind == "booster":
            return float(booster)
        return float(max(np.expm1((1 - self.weight) * np.log1p(booster) + self.weight * promo), 0.0))

    def warnings(self, store_id: str, product_id: str, prices: np.ndarray) -> list[str]:
        """What the answer cannot vouch for: prices outside those seen, a pair never seen."""
        low, high = self.seen_prices(product_id)
        if isinstance(prices, np.ndarray):
            outside, total = prices[(prices < low) | (prices > high)].tolist(), prices.size
        else:  # a few prices (a prediction's one): no array needed
            outside, total = [p for p in prices if p < low or p > high], len(prices)
        out = []
        if outside:
            what = f"{len(outside)} of {total} prices are" if total > 1 else f"the price {outside[0]:g} is"
            out.append(f"{what} outside the shelf prices seen for product {product_id} in the training data "
                       f"({low:g}..{high:g}): the model extrapolates there"
                       + (" (a booster holds its last learned response flat beyond the data)"
                          if self.kind in ("booster", "blend") else ""))
        if pair_key(store_id, product_id) not in self.encodings["pairs"]:
            out.append(f"store {store_id} has no week of product {product_id} in the training data: the prediction "
                       "uses the product's level plus the store's effect")
        return out

    # ------------------------------------------------------------------
    def predict(self, store_id: str, product_id: str, day: date, price: float, base_price: float | None,
                promo: Promotion) -> dict[str, Any]:
        self.check(store_id, product_id)
        week = week_ending(day)
        base, source = (base_price, "request") if base_price is not None else (self.usual_price(product_id),
                                                                               "usual price")
        # derived_tpr of one price
        tpr = int(price < base - TPR_EPSILON and promo.display == 0 and promo.feature == 0) if promo.tpr is None \
            else promo.tpr
        units = self.units_one(store_id, product_id, week, price, base, promo.display, promo.feature, tpr)
        return {"prediction": units, "model": self.name, "week_ending": week.isoformat(),
                "store_id": store_id, "product_id": product_id, "price": price, "base_price": base,
                "base_price_source": source, "display": promo.display, "feature": promo.feature, "tpr": tpr,
                "warnings": self.warnings(store_id, product_id, [price])}

    def price_curve(self, store_id: str, product_id: str, day: date, base_price: float | None,
                    price_min: float | None, price_max: float | None, steps: int) -> dict[str, Any]:
        self.check(store_id, product_id)
        week = week_ending(day)
        base, source = (base_price, "request") if base_price is not None else (self.usual_price(product_id),
                                                                               "usual price")
        seen = self.seen_prices(product_id)
        low = price_min if price_min is not None else seen[0]
        high = price_max if price_max is not None else seen[1]
        if low >= high:
            field = "price_max" if price_max is not None else "price_min"
            raise UnknownInput(field, f"price_min ({low:g}) must be below price_max ({high:g})")
        prices = np.round(np.linspace(low, high, steps), 4)
        n = len(prices)
        inside = (prices >= seen[0]) & (prices <= seen[1])
        # One batch: the no-promotion rows then the promotion rows, through one model call.
        promo = self.promotion
        display = np.concatenate([np.zeros(n), np.full(n, promo["display"])])
        feature = np.concatenate([np.zeros(n), np.full(n, promo["feature"])])
        tpr = np.concatenate([derived_tpr(prices, base, 0, 0), derived_tpr(prices, base, promo["display"],
                                                                           promo["feature"])])
        units = self.units_batch(store_id, product_id, week, np.concatenate([prices, prices]), base,
                                 display, feature, tpr)
        # The revenue maximum is looked for among the prices seen when the grid has any: outside
        # them the curve is an extrapolation and its maximum is not evidence.
        candidates = np.flatnonzero(inside) if inside.any() else np.arange(n)
        curves = {}
        for key, part, disp, feat in (("without_promotion", units[:n], 0, 0),
                                      ("with_promotion", units[n:], promo["display"], promo["feature"])):
            revenue = prices * part
            best = int(candidates[np.argmax(revenue[candidates])])
            curves[key] = {"display": disp, "feature": feat,
                           "points": [{"price": float(p), "units": float(u), "revenue": float(r),
                                       "within_seen_prices": bool(i)}
                                      for p, u, r, i in zip(prices, part, revenue, inside)],
                           "best_price": float(prices[best]), "best_units": float(part[best]),
                           "best_revenue": float(revenue[best])}
        best_off = int(candidates[np.argmax((prices * units[:n])[candidates])])
        lift = float(units[n + best_off] / units[best_off]) if units[best_off] > 0 else float("nan")
        notes = []
        if self.kind == "store_product_mean":
            notes.append(f"the served model ({self.name}) ignores price and promotion: the curve is flat in units")
        elif self.kind == "promo_adjusted_mean":
            notes.append(f"the served model ({self.name}) ignores the price beyond the TPR flag: units are flat "
                         "in price within a promotion setting")
        best_price = curves["without_promotion"]["best_price"]
        if best_price in (float(prices[candidates[0]]), float(prices[candidates[-1]])):
            notes.append("the revenue-maximising price is at the edge of the prices searched; the optimum may lie "
                         "outside them")
        if inside.any() and not inside.all():
            notes.append("the best price is searched among the prices seen for this product only")
        notes.append("units never rise with the shelf price for fixed promotion flags (monotone by construction); "
                     "revenue = price x predicted units; margin and cannibalisation are not modelled")
        return {"model": self.name, "week_ending": week.isoformat(), "store_id": store_id, "product_id": product_id,
                "base_price": base, "base_price_source": source, "observed_price_range": list(seen), **curves,
                "promotion_lift_at_best_price": lift if np.isfinite(lift) else 0.0,
                "warnings": self.warnings(store_id, product_id, prices), "notes": notes}

    def catalog_body(self) -> dict[str, Any]:
        return dict(self.catalog)

    def history(self, store_id: str, product_id: str, weeks: int) -> dict[str, Any] | None:
        """The latest `weeks` actual weeks of a store x product and, within them, the test window's
        held-out predictions; None when the artifact carries no history."""
        self.check(store_id, product_id)
        if self.history_table is None:
            return None
        table = self.history_table
        key = pair_key(store_id, product_id)
        rows = [dict(zip(table["columns"], r)) for r in table["weeks"].get(key, [])][-weeks:]
        first = rows[0]["week_ending"] if rows else None
        actual = {r["week_ending"]: r["units"] for r in rows}
        test = table["test"]
        predicted = [dict(zip(test["columns"], r)) for r in test["predictions"].get(key, [])]
        points = [{**p, "actual": actual[p["week_ending"]]} for p in predicted
                  if first is not None and p["week_ending"] >= first and p["week_ending"] in actual]
        return {"store_id": store_id, "product_id": product_id, "total_weeks": len(table["weeks"].get(key, [])),
                "weeks": rows, "test": {k: test[k] for k in ("model", "baseline", "first_week", "last_week")}
                | {"points": points}}


def load(directory: Path, manifest: dict[str, Any]) -> DemandModel:
    return DemandModel(directory, manifest)
