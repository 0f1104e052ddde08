"""Training on a small slice: metrics shape, honest coverage, reproducibility, ONNX parity."""
from __future__ import annotations

import json

import numpy as np
import pytest

from services.forecast import dataset, train

from .conftest import SMALL


def test_manifest_has_both_models_beside_the_baseline_with_coverage(forecast_artifact):
    manifest = json.loads((forecast_artifact / "manifest.json").read_text())
    metrics = manifest["metrics"]
    group = metrics["latest_tournaments"]
    assert set(group) == {"random_forest", "gradient_boosting", train.BASELINE}
    for name in train.MODELS:
        scores = group[name]
        assert scores["interval_level"] == 0.9 and 0.0 <= scores["coverage"] <= 1.0
        assert scores["mae"] > 0 and scores["mape"] > 0 and scores["n"] > 0
    summary = metrics["summary"]
    assert summary["baseline"] == train.BASELINE and summary["model"] in train.MODELS
    assert summary["beats_baseline"] == (summary["model_score"] < summary["baseline_score"])
    assert "holdout" in metrics and manifest["training"]["onnx_max_abs_diff_fill"] <= 1e-4
    assert {"model.onnx", "tables.json"} <= set(manifest["files"])


@pytest.mark.slow
def test_training_is_reproducible_from_its_seed(forecast_artifact, tmp_path):
    again = tmp_path / "again"
    train.main([*SMALL, "--output", str(again)])
    first = json.loads((forecast_artifact / "manifest.json").read_text())
    second = json.loads((again / "manifest.json").read_text())
    assert first["metrics"] == second["metrics"]
    assert (forecast_artifact / "tables.json").read_text() == (again / "tables.json").read_text()
    assert first["files"]["model.onnx"]["sha256"] == second["files"]["model.onnx"]["sha256"]


@pytest.mark.parametrize("name", train.MODELS)
def test_onnx_matches_scikit_learn(name):
    frame = dataset.load_matches(limit=120)
    d = train.design(frame, np.ones(len(frame), dtype=bool))
    model = train.make_model(name, 0).fit(d.x_fit, d.y_fit)
    assert train.onnx_parity(model, train.to_onnx(model, d.x_fit.shape[1]), d.x_fit) <= 1e-4


def test_conformal_half_width_is_the_finite_sample_quantile():
    errors = np.arange(1, 20) / 100  # 19 errors: ceil(20 * 0.9) = 18th smallest
    assert train.conformal_half_width(errors, 0.9) == pytest.approx(0.18)
    assert train.conformal_half_width(np.array([0.1, 0.2]), 0.9) == pytest.approx(0.2)
