"""Demand inference: the comparison's winner, served from ONNX or from JSON coefficients.

Loaded from a verified version folder; imports no training library and unpickles nothing.
A request becomes float32 rows through the same feature function the pipeline used; a price
curve is one batch (one ONNX call for every price, with and without promotion).
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

from .features import FEATURE_NAMES, feature_matrix, week_ending

CATALOG_HINT = "see GET /api/demand/catalog for the accepted ids"
TPR_EPSILON = 0.005  # in the data, TPR_ONLY = 1 exactly when price < base_price - 0.005 and no display/feature


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
        self.target = art["target"]
        enc = art["encodings"]
        self.global_level = float(enc["global_level"])
        self.products: dict[str, dict[str, Any]] = enc["products"]
        self.stores: dict[str, dict[str, Any]] = enc["stores"]
        self.pairs: dict[str, dict[str, Any]] = art["pairs"]
        self.catalog = art["catalog"]
        self.promotion = art["promotion_means"]
        self.onnx: OnnxModel | None = None
        if self.kind == "onnx":
            self.onnx = OnnxModel(directory / art["onnx_file"])
            if self.onnx.n_features not in (None, len(FEATURE_NAMES)):
                raise ValueError(f"model.onnx takes {self.onnx.n_features} features, code computes {len(FEATURE_NAMES)}")
        elif self.kind == "linear":
            self.coef = np.asarray(art["linear"]["coef"], dtype=np.float64)
            self.intercept = float(art["linear"]["intercept"])
            if self.coef.shape != (len(FEATURE_NAMES),):
                raise ValueError("linear coefficients do not match the features")
        elif self.kind != "lookup":
            raise ValueError(f"unknown model kind {self.kind!r}")
        # Smoke test: a model that cannot answer one request must not be swapped in.
        store = next(iter(self.stores))
        product = next(iter(self.products))
        units = self.units(store, product, date(2011, 1, 5), np.array([self.products[product]["usual_price"]]),
                           self.products[product]["usual_price"], Promotion(0, 0, None))
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

    def rows(self, store_id: str, product_id: str, week: date, prices: np.ndarray, base_price: float,
             display: np.ndarray, feature: np.ndarray, tpr: np.ndarray) -> np.ndarray:
        product = self.products[product_id]
        effect = float(self.stores[store_id]["effect"])
        pair = self.pairs.get(f"{store_id}|{product_id}")
        level = float(pair["level"]) if pair else float(product["level"]) + effect
        return feature_matrix(pair_level=level, product_level=float(product["level"]), store_effect=effect,
                              price=prices, base_price=base_price, usual_price=float(product["usual_price"]),
                              display=display, feature=feature, tpr=tpr, iso_week=week.isocalendar()[1])

    def _run(self, x: np.ndarray, store_id: str, product_id: str) -> np.ndarray:
        if self.kind == "lookup":
            pair = self.pairs.get(f"{store_id}|{product_id}") if self.name == "store_product_mean" else None
            value = pair["mean_units"] if pair else self.products[product_id]["mean_units"]
            return np.full(x.shape[0], float(value))
        if self.kind == "linear":
            raw = x.astype(np.float64) @ self.coef + self.intercept
        else:
            raw = self.onnx.run(x).astype(np.float64).ravel()
        return np.maximum(np.expm1(raw), 0.0)

    def units(self, store_id: str, product_id: str, week: date, prices: np.ndarray, base_price: float,
              promo: Promotion) -> np.ndarray:
        """Units for every price in `prices` under one promotion setting (one batch)."""
        prices = np.asarray(prices, dtype=np.float64)
        tpr = derived_tpr(prices, base_price, promo.display, promo.feature) if promo.tpr is None \
            else np.full(prices.shape, float(promo.tpr))
        x = self.rows(store_id, product_id, week, prices, base_price, np.full(prices.shape, promo.display),
                      np.full(prices.shape, promo.feature), tpr)
        return self._run(x, store_id, product_id)

    # ------------------------------------------------------------------
    def predict(self, store_id: str, product_id: str, day: date, price: float, base_price: float | None,
                promo: Promotion) -> dict[str, Any]:
        self.check(store_id, product_id)
        week = week_ending(day)
        base, source = (base_price, "request") if base_price is not None else (self.usual_price(product_id),
                                                                               "usual price")
        tpr = int(derived_tpr(np.array([price]), base, promo.display, promo.feature)[0]) if promo.tpr is None \
            else promo.tpr
        units = self.units(store_id, product_id, week, np.array([price]), base,
                           Promotion(promo.display, promo.feature, tpr))
        return {"prediction": float(units[0]), "model": self.name, "week_ending": week.isoformat(),
                "store_id": store_id, "product_id": product_id, "price": price, "base_price": base,
                "base_price_source": source, "display": promo.display, "feature": promo.feature, "tpr": tpr}

    def price_curve(self, store_id: str, product_id: str, day: date, base_price: float | None,
                    price_min: float | None, price_max: float | None, steps: int) -> dict[str, Any]:
        self.check(store_id, product_id)
        week = week_ending(day)
        product = self.products[product_id]
        base, source = (base_price, "request") if base_price is not None else (self.usual_price(product_id),
                                                                               "usual price")
        low = price_min if price_min is not None else float(product["min_price"])
        high = price_max if price_max is not None else float(product["max_price"])
        if low >= high:
            field = "price_max" if price_max is not None else "price_min"
            raise UnknownInput(field, f"price_min ({low:g}) must be below price_max ({high:g})")
        prices = np.round(np.linspace(low, high, steps), 4)
        n = len(prices)
        # One batch: the no-promotion rows then the promotion rows, through one model call.
        promo = self.promotion
        tpr_off = derived_tpr(prices, base, 0, 0)
        tpr_on = derived_tpr(prices, base, promo["display"], promo["feature"])
        x = self.rows(store_id, product_id, week, np.concatenate([prices, prices]), base,
                      np.concatenate([np.zeros(n), np.full(n, promo["display"])]),
                      np.concatenate([np.zeros(n), np.full(n, promo["feature"])]),
                      np.concatenate([tpr_off, tpr_on]))
        units = self._run(x, store_id, product_id)
        curves = {}
        for key, part, disp, feat in (("without_promotion", units[:n], 0, 0),
                                      ("with_promotion", units[n:], promo["display"], promo["feature"])):
            revenue = prices * part
            best = int(np.argmax(revenue))
            curves[key] = {"display": disp, "feature": feat,
                           "points": [{"price": float(p), "units": float(u), "revenue": float(r)}
                                      for p, u, r in zip(prices, part, revenue)],
                           "best_price": float(prices[best]), "best_units": float(part[best]),
                           "best_revenue": float(revenue[best])}
        best_off = int(np.argmax(prices * units[:n]))
        lift = float(units[n + best_off] / units[best_off]) if units[best_off] > 0 else float("nan")
        seen = [float(product["min_price"]), float(product["max_price"])]
        notes = []
        if low < seen[0] or high > seen[1]:
            notes.append(f"the range leaves the shelf prices seen for this product ({seen[0]:g}..{seen[1]:g}); "
                         "outside it the model extrapolates")
        if self.kind == "lookup":
            notes.append(f"the served model ({self.name}) ignores price and promotion: the curve is flat in units")
        best_price = curves["without_promotion"]["best_price"]
        if best_price in (float(prices[0]), float(prices[-1])):
            notes.append("the revenue-maximising price is at the edge of the range; the optimum may lie outside it")
        notes.append("revenue = price x predicted units; margin and cannibalisation are not modelled")
        return {"model": self.name, "week_ending": week.isoformat(), "store_id": store_id, "product_id": product_id,
                "base_price": base, "base_price_source": source, "observed_price_range": seen, **curves,
                "promotion_lift_at_best_price": lift if np.isfinite(lift) else 0.0, "notes": notes}

    def catalog_body(self) -> dict[str, Any]:
        return dict(self.catalog)


def load(directory: Path, manifest: dict[str, Any]) -> DemandModel:
    return DemandModel(directory, manifest)
