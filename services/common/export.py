"""Artifacts from training: ONNX per model family, one parity check, deterministic JSON.

- `onnx_bytes(estimator, n_features, name)`: scikit-learn through skl2onnx, XGBoost and LightGBM
  through onnxmltools. One input named `features` (float32, [None, n_features]), fixed opsets,
  the graph named `name` (the converters name graphs with a random id otherwise, so the same
  seed would not give the same bytes) and the opset imports sorted by domain (onnxmltools lists them
  in a set's order, which string hashing changes from one process to the next).
- `check_parity(model_bytes, x, native)`: onnxruntime against the native model on the same rows,
  with one tolerance for every service: |onnx - native| <= PARITY_TOLERANCE * max(1, |native|).
  Trees compare float32 features with float32 thresholds in ONNX and float64 ones natively, so a
  row on a threshold may take the other branch; 1e-4 relative (1e-4 absolute below 1) is far
  below any error we report and far above float32 rounding.
- `write_json(path, obj)`: sorted keys, floats as their shortest round-trip repr, numpy scalars and
  arrays converted, NaN/inf refused; the same object always gives the same bytes.
Training code only (imports the converters lazily); serving reads these files, never this module.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

PARITY_TOLERANCE = 1e-4
OPSET = {"": 17, "ai.onnx.ml": 3}      # scikit-learn graphs
BOOSTER_OPSET = 15                     # onnxmltools' XGBoost / LightGBM converters
INPUT = "features"


class ParityError(RuntimeError):
    """ONNX output differs from the native model beyond PARITY_TOLERANCE."""


def family(estimator: Any) -> str:
    module = type(estimator).__module__.split(".")[0]
    if module in ("sklearn", "xgboost", "lightgbm"):
        return module
    raise TypeError(f"no ONNX exporter for {type(estimator).__name__} (module {module})")


def sklearn_onnx(estimator: Any, n_features: int, name: str) -> bytes:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.base import is_classifier

    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    # Classifiers give a plain probability tensor (no ZipMap of dicts), which OnnxModel reads.
    options = {id(final): {"zipmap": False}} if is_classifier(final) else None
    onx = convert_sklearn(estimator, initial_types=[(INPUT, FloatTensorType([None, n_features]))],
                          target_opset=OPSET, options=options)
    onx.graph.name = name
    return onx.SerializeToString()


def xgboost_onnx(estimator: Any, n_features: int, name: str) -> bytes:
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType

    onx = onnxmltools.convert_xgboost(estimator, initial_types=[(INPUT, FloatTensorType([None, n_features]))],
                                      target_opset=BOOSTER_OPSET)
    onx.graph.name = name
    return onx.SerializeToString()


def lightgbm_onnx(estimator: Any, n_features: int, name: str) -> bytes:
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType

    onx = onnxmltools.convert_lightgbm(estimator, initial_types=[(INPUT, FloatTensorType([None, n_features]))],
                                       target_opset=BOOSTER_OPSET, zipmap=False)
    onx.graph.name = name
    return onx.SerializeToString()


EXPORTERS = {"sklearn": sklearn_onnx, "xgboost": xgboost_onnx, "lightgbm": lightgbm_onnx}


def canonical(model_bytes: bytes) -> bytes:
    """The same model with its opset imports sorted by domain: one byte string per model, whatever
    order the converter's process happened to list them in."""
    import onnx

    model = onnx.load_from_string(model_bytes)
    ordered = sorted(model.opset_import, key=lambda o: o.domain)
    if [o.domain for o in ordered] == [o.domain for o in model.opset_import]:
        return model_bytes
    copies = [onnx.OperatorSetIdProto(domain=o.domain, version=o.version) for o in ordered]
    del model.opset_import[:]
    model.opset_import.extend(copies)
    return model.SerializeToString()


def onnx_bytes(estimator: Any, n_features: int, name: str) -> bytes:
    """The estimator as ONNX bytes, by its family, with the graph named `name`."""
    return canonical(EXPORTERS[family(estimator)](estimator, n_features, name))


def run_onnx(model_bytes: bytes, x: np.ndarray, output: str | int = 0) -> np.ndarray:
    """One onnxruntime run, as serving runs it (float32 rows in, one output back)."""
    import onnxruntime as ort

    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    name = session.get_outputs()[output].name if isinstance(output, int) else output
    return session.run([name], {session.get_inputs()[0].name: np.ascontiguousarray(x, dtype=np.float32)})[0]


def check_parity(model_bytes: bytes, x: np.ndarray, native: np.ndarray, *, output: str | int = 0,
                 transform=None, label: str = "model") -> float:
    """Largest relative gap between ONNX (optionally transformed, e.g. to what serving computes) and
    the native predictions on rows `x`; raises ParityError beyond PARITY_TOLERANCE."""
    served = run_onnx(model_bytes, x, output)
    if transform is not None:
        served = transform(served)
    served, native = np.asarray(served, dtype=float), np.asarray(native, dtype=float)
    if served.size != native.size:
        raise ParityError(f"{label}: ONNX gave {served.shape}, native {native.shape}")
    served, native = served.reshape(native.shape), native
    gap = float(np.max(np.abs(served - native) / np.maximum(1.0, np.abs(native))))
    if not gap <= PARITY_TOLERANCE:
        raise ParityError(f"{label}: ONNX differs from the native model by {gap:.3g} (relative), "
                          f"beyond {PARITY_TOLERANCE:g}")
    return gap


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.generic):
        return _plain(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        raise ValueError(f"{obj} has no JSON form; write None (null) for a missing number")
    return obj


def dumps(obj: Any, indent: int | None = None) -> str:
    return json.dumps(_plain(obj), sort_keys=True, indent=indent, separators=(",", ": ") if indent else (",", ":"),
                      allow_nan=False) + "\n"


def write_json(path: Path, obj: Any, indent: int | None = None) -> Path:
    """Deterministic JSON: the same object gives the same bytes (see the module docstring)."""
    path = Path(path)
    path.write_text(dumps(obj, indent))
    return path
