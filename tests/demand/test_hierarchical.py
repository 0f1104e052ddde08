"""The hierarchical price curve (issue 26): partial pooling of each product's elasticity and promotion
lifts, served from JSON with the same numbers as training, never rising with price."""
from __future__ import annotations

import json

import numpy as np

from services.common.modeling import shrink_to_prior
from services.demand import models, pipeline
from services.demand.features import FEATURE_NAMES
from services.demand.model import DemandModel
from tests.demand.test_pipeline import shipped_rows


def test_shrinkage_pools_noisy_groups_more_and_needs_no_constant():
    rng = np.random.default_rng(0)
    truth = rng.normal(-2.0, 0.5, size=400)
    noise = np.where(np.arange(400) % 2 == 0, 0.05, 4.0)        # half the groups precise, half very noisy
    est = truth + rng.normal(0.0, np.sqrt(noise))
    shrunk, tau2 = shrink_to_prior(est, noise, -2.0)
    assert 0.15 < tau2 < 0.4                                       # the true spread is 0.25
    precise, noisy = noise == 0.05, noise == 4.0
    moved = np.abs(shrunk - est) / np.abs(est + 2.0)
    assert np.median(moved[precise]) < 0.2 < 0.8 < np.median(moved[noisy])
    # shrinking lowers the error where the group's own estimate is noise
    assert np.abs(shrunk - truth)[noisy].mean() < 0.6 * np.abs(est - truth)[noisy].mean()
    same, zero = shrink_to_prior(np.full(5, 3.0), np.ones(5), 3.0)
    assert np.allclose(same, 3.0) and zero <= 1e-6


def test_served_curve_equals_the_fitted_one_and_never_rises_with_price(tmp_path):
    frame = shipped_rows()
    fitted = models.HierarchicalElasticity().fit(frame)
    elasticities = fitted.product_elasticity_
    assert len(elasticities) == frame["product_id"].nunique() and max(elasticities.values()) <= 0.0
    assert max(elasticities.values()) - min(elasticities.values()) > 0.5    # products differ: not one pooled slope
    assert fitted.elasticity_ < 0.0 and fitted.elasticity_tau2_ > 0.0
    assert_served_as_fitted_and_monotone(fitted, frame, tmp_path)


def assert_served_as_fitted_and_monotone(fitted, frame, folder) -> dict:
    """Write `fitted`'s artifact as the pipeline does (JSON only), load it through DemandModel: the served
    units equal the native ones, differ from the pooled baseline's, and never rise with price. The spec."""
    spec = fitted.artifact(folder, frame)
    (folder / "demand.json").write_text(json.dumps({        # json.dumps: JSON only, nothing to unpickle
        "format": 2, "model": fitted.name, "feature_names": FEATURE_NAMES, "target": "units",
        "week_ends_on": "Wednesday", "promotion_means": {"display": 1, "feature": 1, "tpr": 0},
        "catalog": pipeline.catalog(frame, spec["encodings"]), **spec}))
    served = DemandModel(folder, {"version": "test"})
    native = fitted.predict(frame.drop(columns=["units"]))
    through = pipeline.served_units(served, frame)
    assert np.max(np.abs(through - native) / np.maximum(1.0, native)) <= pipeline.PARITY_TOLERANCE
    pooled = models.PooledElasticity().fit(frame).predict(frame.drop(columns=["units"]))
    assert np.mean(np.abs(native - pooled)) > 0.1                             # not the pooled baseline again
    sweep = pipeline.monotonicity_sweep(served)
    assert sweep["curves"] > 0 and sweep["violations"] == 0
    return spec
