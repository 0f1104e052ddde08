"""The one-row path of a prediction (features.feature_row, DemandModel.units_one) against the batch path
training and price curves use (feature_matrix, units_batch): the same numbers, bit for bit."""
from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pytest

from services.demand.features import feature_matrix, feature_row


def test_feature_row_is_feature_matrix_bit_for_bit():
    rng = np.random.default_rng(0)
    for _ in range(20_000):
        args = {name: float(rng.normal(1.5, 1.0)) for name in
                ("pair_level", "pair_base", "product_level", "product_base", "store_effect")}
        usual = float(rng.uniform(0.5, 20))
        args.update(price=float(rng.uniform(0.01, 3) * usual), base_price=float(rng.uniform(0.5, 1.5) * usual),
                    usual_price=usual, display=int(rng.integers(0, 2)), feature=int(rng.integers(0, 2)),
                    tpr=int(rng.integers(0, 2)), iso_week=int(rng.integers(1, 54)))
        row = np.asarray([feature_row(**args)], dtype=np.float32)
        assert row.shape == (1, 14)
        np.testing.assert_array_equal(row, feature_matrix(**args))


def test_one_row_prediction_is_the_batch_prediction(demand_artifact):
    from services.demand import model as demand_model

    manifest = json.loads((demand_artifact / "manifest.json").read_text())
    served = demand_model.load(demand_artifact, manifest)
    kinds = [k for k in demand_model.KINDS if served.onnx is not None or k not in ("booster", "blend")]
    assert served.kind in kinds and len(kinds) >= 2
    rng = np.random.default_rng(1)
    stores, products = list(served.stores), list(served.products)
    for kind in kinds:
        served.kind = kind
        for _ in range(1500):
            store = str(rng.choice(stores)) if rng.random() < 0.9 else "999999"  # a store never seen
            product = str(rng.choice(products))
            usual = served.usual_price(product)
            week = date(2009, 1, 7) + timedelta(weeks=int(rng.integers(0, 200)))
            price, base = float(round(usual * rng.uniform(0.3, 1.7), 2)), float(round(usual * rng.uniform(0.8, 1.3), 2))
            display, feature, tpr = (int(v) for v in rng.integers(0, 2, size=3))
            one = served.units_one(store, product, week, price, base, display, feature, tpr)
            batch = served.units_batch(store, product, week, np.array([price]), base, np.array([display]),
                                       np.array([feature]), np.array([float(tpr)]))
            assert one == float(batch[0]), (kind, store, product, week, price, base, display, feature, tpr)


@pytest.mark.parametrize("prices", [[4.99], [0.01], [999.0]])
def test_warnings_of_one_price_are_those_of_an_array(demand_artifact, prices):
    from services.demand import model as demand_model

    served = demand_model.load(demand_artifact, json.loads((demand_artifact / "manifest.json").read_text()))
    store, product = next(iter(served.stores)), next(iter(served.products))
    assert served.warnings(store, product, prices) == served.warnings(store, product, np.array(prices))
    assert served.warnings("999999", product, prices) == served.warnings("999999", product, np.array(prices))
