"""ONNX export per model family, the one parity check, deterministic JSON, build comparison, the report."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from services.common import evaluation as ev
from services.common.backtest import run
from services.common.baselines import LastValue, MeanByKey, SeasonalNaive
from services.common.export import PARITY_TOLERANCE, ParityError, check_parity, dumps, onnx_bytes, run_onnx, write_json
from services.common.manifest import build_manifest
from services.common.report import tables
from services.common.reproducibility import compare_builds
from services.common.splits import RollingOrigin
from tests.common.test_modeling import seasonal_frame


def data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(300, 4)).astype(np.float32)
    return x, x[:, 0] * 3 + np.sin(x[:, 1]) + rng.normal(0, 0.1, 300)


def estimators(seed=0):
    import lightgbm as lgb
    from sklearn.ensemble import RandomForestRegressor
    from xgboost import XGBRegressor

    return {"sklearn": RandomForestRegressor(n_estimators=20, max_depth=6, random_state=seed, n_jobs=1),
            "xgboost": XGBRegressor(n_estimators=30, max_depth=3, random_state=seed, n_jobs=1),
            "lightgbm": lgb.LGBMRegressor(n_estimators=30, random_state=seed, n_jobs=1, verbose=-1)}


@pytest.mark.parametrize("family", ["sklearn", "xgboost", "lightgbm"])
def test_each_family_exports_named_deterministic_graphs_that_match_native(family):
    x, y = data()
    blobs = []
    for _ in range(2):   # two fits from the same seed: the same bytes
        model = estimators()[family].fit(x, y)
        blobs.append(onnx_bytes(model, x.shape[1], f"test_{family}"))
    assert blobs[0] == blobs[1]
    graph = onnx.load_from_string(blobs[0]).graph
    assert graph.name == f"test_{family}" and graph.input[0].name == "features"
    gap = check_parity(blobs[0], x, model.predict(x))
    assert 0 <= gap <= PARITY_TOLERANCE
    assert run_onnx(blobs[0], x[:3]).ravel().shape == (3,)


def test_parity_check_refuses_a_model_that_differs():
    x, y = data()
    model = estimators()["xgboost"].fit(x, y)
    blob = onnx_bytes(model, x.shape[1], "g")
    with pytest.raises(ParityError, match="beyond"):
        check_parity(blob, x, model.predict(x) * (1 + 10 * PARITY_TOLERANCE) + 0.01)
    # a transform brings ONNX output to what serving computes before comparing
    assert check_parity(blob, x, np.exp(model.predict(x)), transform=np.exp) <= PARITY_TOLERANCE * 10


def test_classifiers_export_a_plain_probability_tensor():
    from sklearn.linear_model import LogisticRegression

    x, y = data()
    model = LogisticRegression().fit(x, y > 0)
    blob = onnx_bytes(model, x.shape[1], "clf")
    assert check_parity(blob, x, model.predict_proba(x), output="probabilities") <= PARITY_TOLERANCE


def test_write_json_is_deterministic_and_refuses_nan(tmp_path):
    obj = {"b": np.float64(0.1) + np.float64(0.2), "a": [np.int64(3), np.arange(2)], "c": {"z": 1, "y": (1.5,)}}
    first, second = write_json(tmp_path / "a.json", obj), write_json(tmp_path / "b.json", dict(reversed(obj.items())))
    assert first.read_bytes() == second.read_bytes() == b'{"a":[3,[0,1]],"b":0.30000000000000004,"c":{"y":[1.5],"z":1}}\n'
    with pytest.raises(ValueError, match="no JSON form"):
        dumps({"x": float("nan")})


def test_compare_builds_ignores_only_the_build_name(tmp_path):
    builds = []
    for name in ("a", "b"):
        d = tmp_path / name
        d.mkdir()
        (d / "model.json").write_text('{"w": 1}')
        build_manifest(d, service="s", version=f"v-{name}", metrics={}, features=[], data_fingerprint="f",
                       libraries=[])
        builds.append(d)
    assert compare_builds(*builds) == []
    (builds[1] / "model.json").write_text('{"w": 2}')
    problems = compare_builds(*builds)
    assert any("model.json" in p for p in problems)
    build_manifest(builds[1], service="s", version="v", metrics={}, features=[], data_fingerprint="f", libraries=[])
    assert any("fields differ: ['files']" in p for p in compare_builds(*builds))


def test_report_renders_the_plan_validation_test_and_choice():
    outcome = run(seasonal_frame(140), RollingOrigin("ds", horizon=7, n_validation=3, n_test=2),
                  candidates=[SeasonalNaive(7, name="weekly")],
                  baselines=[MeanByKey(name="store_mean"), LastValue(name="last_value")],
                  metrics={"mae": ev.mae}, metric="mae")
    text = tables(json.loads(dumps(outcome.metrics())))
    assert text.startswith("split plan: rolling_origin (") and "time ds" in text.splitlines()[0]
    assert "- validation: 3 fold(s), 63 rows, 105 .. 125" in text and "- test: 2 fold(s), 42 rows" in text
    assert "**validation**" in text and "**test**" in text and "**test_by_horizon**" in text
    assert text.index("**validation**") < text.index("**test**") < text.index("- choice:")
    assert "| weekly **chosen** |" in text and "| store_mean (baseline) |" in text
    assert f"- choice: {outcome.choice.reason}" in text
    assert f"- summary: {outcome.summary['statement']}" in text



def test_opset_imports_are_sorted_whatever_order_the_converter_listed_them_in():
    """onnxmltools fills opset_import from a set of (domain, version) pairs, whose order follows the
    process's string hashing: the same flow model came out in two byte strings from two runs."""
    from lightgbm import LGBMRegressor

    from services.common.export import canonical

    rng = np.random.default_rng(0)
    x = rng.random((200, 3))
    model = LGBMRegressor(n_estimators=5, n_jobs=1, deterministic=True, force_row_wise=True, verbose=-1)
    exported = onnx_bytes(model.fit(x, x @ [1.0, 2.0, 3.0]), 3, "probe")
    flipped = onnx.load_from_string(exported)
    pairs = [(o.domain, o.version) for o in flipped.opset_import]
    assert len(pairs) == 2 and pairs == sorted(pairs)
    del flipped.opset_import[:]
    flipped.opset_import.extend(onnx.helper.make_opsetid(d, v) for d, v in reversed(pairs))
    assert flipped.SerializeToString() != exported
    assert canonical(flipped.SerializeToString()) == exported == canonical(exported)
    np.testing.assert_array_equal(run_onnx(canonical(flipped.SerializeToString()), x[:5]), run_onnx(exported, x[:5]))
