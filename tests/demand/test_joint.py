"""Pair levels fitted jointly with the price curve (models.JointLevels): a pair seen mostly on promotion
gets its level from those weeks, net of the lift and the price, instead of from its few unpromoted ones;
served from JSON with the training numbers, never rising with price."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from services.demand import models
from tests.demand.test_hierarchical import assert_served_as_fitted_and_monotone
from tests.demand.test_pipeline import shipped_rows

LIFT, ELASTICITY = 0.8, -1.5       # the display lift and the price elasticity of the simulated data (log1p)


def promoted_pairs(seed: int = 0) -> tuple[pd.DataFrame, dict[str, float]]:
    """60 store x product pairs, each with one unpromoted week and ten weeks on display at varied prices:
    log1p(units) = the pair's level + 0.8 display + -1.5 log(price / usual price) + noise (sd 0.3)."""
    rng = np.random.default_rng(seed)
    rows, truth = [], {}
    weeks = pd.date_range("2010-01-06", periods=11, freq="7D")
    for i in range(60):
        store, product = str(100 + i // 6), str(900 + i % 6)
        level = float(rng.normal(2.5, 0.7))
        truth[f"{store}|{product}"] = level
        for w, week in enumerate(weeks):
            display = int(w > 0)
            price = round(4.0 * float(rng.uniform(0.7, 1.0)) if display else 4.0, 2)
            log_units = level + LIFT * display + ELASTICITY * np.log(price / 4.0) + rng.normal(0.0, 0.3)
            rows.append({"week_end_date": week, "store_id": store, "product_id": product, "price": price,
                         "base_price": 4.0, "display": display, "feature": 0, "tpr": 0,
                         "units": int(max(round(np.expm1(log_units)), 0)), "manufacturer": "M"})
    return pd.DataFrame(rows), truth


def level_error(model, truth: dict[str, float]) -> float:
    pairs = model.encodings_.pairs
    return float(np.mean([abs(pairs[k]["base"] - v) for k, v in truth.items()]))


@pytest.mark.parametrize("joint, plain", [(models.JointPooledElasticity, models.PooledElasticity),
                                          (models.JointHierarchicalElasticity, models.HierarchicalElasticity)])
def test_joint_levels_use_the_promoted_weeks_and_converge(joint, plain):
    frame, truth = promoted_pairs()
    fitted, alone = joint().fit(frame), plain().fit(frame)
    assert fitted.rounds_ < models.JOINT_MAX_ROUNDS                       # converged, did not run out
    # one unpromoted week per pair: its level is mostly that week's noise and its prior; ten promoted
    # weeks netted of the curve pin it down
    assert level_error(fitted, truth) < 0.6 * level_error(alone, truth)
    assert fitted.elasticity_ == pytest.approx(ELASTICITY, abs=0.3)
    unseen = frame.drop(columns=["units"]).assign(display=1, price=3.5)
    assert np.mean(np.abs(np.log1p(fitted.predict(unseen)) - np.log1p(alone.predict(unseen)))) > 0.05


def test_leave_one_out_levels_refuse_netted_encodings():
    frame, _ = promoted_pairs()
    netted = models.JointPooledElasticity().fit(frame).encodings_
    with pytest.raises(ValueError, match="never netted"):
        netted.fitting_rows(frame)


def test_served_joint_curve_equals_the_fitted_one_and_never_rises_with_price(tmp_path):
    frame = shipped_rows()
    spec = assert_served_as_fitted_and_monotone(models.JointPooledElasticity().fit(frame), frame, tmp_path)
    assert spec["kind"] == "pooled_elasticity" and "backfitting" in spec["pair_levels"]
