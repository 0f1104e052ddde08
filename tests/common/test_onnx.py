"""OnnxModel.run_row (one row through an IO binding on buffers made once) against run (arrays fed per call)."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from services.common.export import onnx_bytes
from services.common.onnx import OnnxModel
from tests.common.test_export import data, estimators


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from sklearn.linear_model import LogisticRegression

    x, y = data()
    folder = tmp_path_factory.mktemp("onnx")
    out = {}
    for family, estimator in estimators().items():
        path = folder / f"{family}.onnx"
        path.write_bytes(onnx_bytes(estimator.fit(x, y), x.shape[1], family))
        out[family] = OnnxModel(path)
    path = folder / "classifier.onnx"
    path.write_bytes(onnx_bytes(LogisticRegression().fit(x, y > 0), x.shape[1], "clf"))
    out["classifier labels"] = OnnxModel(path)
    out["classifier probabilities"] = OnnxModel(path, output="probabilities")
    return out


@pytest.mark.parametrize("name", ["sklearn", "xgboost", "lightgbm", "classifier labels", "classifier probabilities"])
def test_run_row_gives_what_run_gives(models, name):
    model = models[name]
    rng = np.random.default_rng(3)
    for _ in range(500):
        values = (rng.normal(size=4) * 10 ** rng.uniform(-2, 2, size=4)).tolist()
        expected = model.run(np.asarray([values], dtype=np.float32)).ravel().tolist()
        got = model.run_row(values)
        assert got == expected and type(got[0]) is type(expected[0])


def test_run_row_from_threads_keeps_each_answer_with_its_row(models):
    model = models["xgboost"]
    rng = np.random.default_rng(4)
    rows = rng.normal(size=(400, 4)).tolist()
    expected = [model.run(np.asarray([r], dtype=np.float32)).ravel().tolist() for r in rows]
    wrong: list[int] = []

    def work(offset: int) -> None:
        for i in range(offset, len(rows), 4):
            if model.run_row(rows[i]) != expected[i]:
                wrong.append(i)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong


def test_run_row_refuses_a_row_of_the_wrong_width(models):
    for short in ([1.0, 2.0], [1.0]):
        with pytest.raises(ValueError, match="4 features"):
            models["sklearn"].run_row(short)
