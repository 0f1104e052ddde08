"""Flow inference: the LightGBM wait model (ONNX) and the anomaly detector chosen at training.

Detectors: `ratio_rule` and `event_rule` (numpy over the shared features), `isolation_forest`
(exported as plain arrays in flow_anomaly.json and scored with numpy: skl2onnx's graph took over
a minute to open in onnxruntime) and `lightgbm_classifier` (anomaly.onnx). Serving imports no
training library and unpickles nothing; the feature function is the one training used.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from services.common.onnx import OnnxModel

from .features import ANOMALY_FEATURES, FEATURE_NAMES, Reading, feature_matrix


class IsolationForestScorer:
    """IsolationForest.decision_function from exported trees; negated so higher = more anomalous."""

    def __init__(self, doc: dict[str, Any]):
        self.denominator = float(doc["denominator"])
        self.offset = float(doc["offset"])
        self.trees = []
        for t in doc["trees"]:
            self.trees.append((np.asarray(t["feature"], dtype=np.int64), np.asarray(t["threshold"], dtype=np.float64),
                               np.asarray(t["left"], dtype=np.int64), np.asarray(t["right"], dtype=np.int64),
                               np.asarray(t["value"], dtype=np.float64),
                               np.asarray(t["features"], dtype=np.int64) if t.get("features") is not None else None))
        self.n_features = int(doc["n_features"])

    def score(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"expected rows of {self.n_features} features, got {x.shape}")
        depths = np.zeros(x.shape[0])
        rows = np.arange(x.shape[0])
        for feature, threshold, left, right, value, columns in self.trees:
            xs = x if columns is None else x[:, columns]
            node = np.zeros(x.shape[0], dtype=np.int64)
            while True:
                inner = left[node] >= 0
                if not inner.any():
                    break
                f = np.where(inner, feature[node], 0)
                go_left = xs[rows, f] <= threshold[node]
                node = np.where(inner, np.where(go_left, left[node], right[node]), node)
            depths += value[node]
        scores = -(2.0 ** (-depths / self.denominator))   # sklearn's score_samples
        return -(scores - self.offset)                     # minus decision_function


def ratio_rule(x: np.ndarray) -> np.ndarray:
    """The anomaly baseline: largest of the arrival jump, lane drop and processing-time drop."""
    col = {n: x[:, FEATURE_NAMES.index(n)].astype(float) for n in ("arrival_ratio", "lanes_ratio", "proc_ratio")}
    return np.maximum.reduce([col["arrival_ratio"], 1 / np.maximum(col["lanes_ratio"], 0.05),
                              1 / np.maximum(col["proc_ratio"], 0.05)])


def event_rule(x: np.ndarray) -> np.ndarray:
    """One score per reading from the three ways an event shows: the share of lanes lost (x4), fans
    arriving above the recent rate in units of its own spread (/3), and a processing-time collapse
    (log ratio), the last counted only when enough fans pass for the mean to mean something."""
    col = {n: x[:, FEATURE_NAMES.index(n)].astype(float) for n in ("lanes_ratio", "arrival_z", "proc_ratio", "count")}
    busy = np.minimum(1.0, col["count"] / 20.0)
    return np.maximum.reduce([4.0 * (1.0 - col["lanes_ratio"]), col["arrival_z"] / 3.0,
                              -np.log(np.maximum(col["proc_ratio"], 0.05)) * busy])


DETECTORS = ("ratio_rule", "event_rule", "isolation_forest", "lightgbm_classifier")  # simplest first


@dataclass
class GatePrediction:
    wait: float
    anomaly: bool
    anomaly_score: float
    capacity_per_min: float = 0.0
    arrivals_per_min: float = 0.0


class FlowModel:
    def __init__(self, directory: Path, manifest: dict[str, Any]):
        self.version = manifest["version"]
        config = json.loads((directory / "flow.json").read_text())
        if config["feature_names"] != FEATURE_NAMES or config["anomaly_features"] != ANOMALY_FEATURES:
            raise ValueError("model features differ from this code's feature function")
        # the wait model chosen at training: LightGBM (ONNX) or, had it lost on validation, a baseline column
        self.wait_name = config.get("wait_model", "lightgbm")
        self.wait_column = config.get("wait_column")
        self.wait_model = None if self.wait_column else OnnxModel(directory / "wait.onnx")
        self.method = config["anomaly_method"]
        self.threshold = float(config["anomaly_threshold"])
        self.green_below = float(config["green_below"])
        self.red_above = float(config["red_above"])
        self.forest = self.classifier = None
        if self.method == "isolation_forest":
            self.forest = IsolationForestScorer(json.loads((directory / "flow_anomaly.json").read_text()))
        elif self.method == "lightgbm_classifier":
            self.classifier = OnnxModel(directory / "anomaly.onnx", output=1)  # probabilities
        elif self.method not in DETECTORS:
            raise ValueError(f"unknown anomaly detector {self.method}")
        self.anomaly_index = [FEATURE_NAMES.index(n) for n in ANOMALY_FEATURES]
        self.summary = manifest.get("metrics", {}).get("summary", {})

    def anomaly_scores(self, x: np.ndarray) -> np.ndarray:
        if self.forest is not None:
            return self.forest.score(x[:, self.anomaly_index])
        if self.classifier is not None:
            return self.classifier.run(x[:, self.anomaly_index]).reshape(len(x), -1)[:, 1]
        return event_rule(x) if self.method == "event_rule" else ratio_rule(x)

    def predict(self, windows: Sequence[Sequence[Reading]]) -> list[GatePrediction]:
        if not windows:
            return []
        x = feature_matrix(windows)
        raw = x[:, FEATURE_NAMES.index(self.wait_column)] if self.wait_column else self.wait_model.run(x).ravel()
        waits = np.maximum(raw, 0.0)
        scores = self.anomaly_scores(x)
        capacity = x[:, FEATURE_NAMES.index("capacity_per_min")]
        arrivals = np.maximum(x[:, FEATURE_NAMES.index("arrivals_mean_prev")], x[:, FEATURE_NAMES.index("arrivals")])
        return [GatePrediction(float(w), bool(s >= self.threshold), float(s), float(c), float(a))
                for w, s, c, a in zip(waits, scores, capacity, arrivals)]



def load(directory: Path, manifest: dict[str, Any]) -> FlowModel:
    return FlowModel(directory, manifest)
