"""Simulate match days, train the wait and anomaly models, evaluate, publish.

    python -m services.flow.train [--days 38] [--seed 42] [--no-publish]

Days are simulated with distinct seeds and split by day, never by row:
- train: half normal days (no anomaly injected), half with injected anomalies;
- validation: days with anomalies; only used to choose the anomaly threshold;
- test: days with anomalies, never used for fitting or choosing anything.
The wait model (LightGBM -> ONNX) is scored on the test days against Little's law
(queue x processing time / open lanes) on the same readings: MAE and p90 absolute error of the
predicted wait (minutes) against the true mean wait of the fans who joined in the next minute.
The anomaly model (IsolationForest -> ONNX, fitted on the normal training days only) is scored
per gate-minute on the test days: precision, recall, F1, beside a ratio rule baseline.
The published wait model is then refit on every simulated day; the anomaly model and its
threshold are published as evaluated.
"""
from __future__ import annotations

import hashlib
import json
import sys
from datetime import datetime, timedelta, timezone

import numpy as np
from tqdm import tqdm

from services.common import evaluation as ev
from services.common.training import build_dir, finish, progress_disabled, seed_everything, training_arguments

from .features import ANOMALY_FEATURES, ANOMALY_INDEX, FEATURE_NAMES, FEATURES, Reading, feature_matrix, \
    windows_from_series
from .model import IsolationForestScorer, ratio_rule as rule_scores
from .simulate import simulate_day
from .stadiums import STADIUMS_PATH, load_stadiums

SERVICE = "flow"
GATES_PER_DAY = 2
WAIT_STATES = {"green_below": 5.0, "red_above": 10.0}
LIBRARIES = ["lightgbm", "scikit-learn", "onnxmltools", "skl2onnx", "onnxruntime", "simpy"]


def ts_ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def simulate_days(n_days: int, seed: int, quiet: bool) -> list[dict]:
    """n_days match days; day k's role is fixed by k so a seed reproduces the split."""
    stadiums = list(load_stadiums().values())
    n_test = max(2, round(n_days * 0.2))
    n_val = max(2, round(n_days * 0.15))
    n_train = n_days - n_test - n_val
    days = []
    start = datetime(2025, 12, 21, 14, 0, tzinfo=timezone.utc)
    for k in tqdm(range(n_days), desc="flow: simulating match days", disable=quiet, file=sys.stderr):
        role = "train" if k < n_train else "validation" if k < n_train + n_val else "test"
        anomalies = not (role == "train" and k % 2 == 0)
        stadium = stadiums[k % len(stadiums)]
        rng = np.random.default_rng([seed, k])
        gates = sorted(rng.choice(stadium.gate_ids, size=min(GATES_PER_DAY, len(stadium.gates)), replace=False),
                       key=lambda g: int(g[1:]))
        rows = simulate_day(stadium, int(rng.integers(2**31)), start + timedelta(days=k), list(gates), anomalies,
                            day_label=k)
        days.append({"k": k, "role": role, "normal": not anomalies, "stadium": stadium.id, "rows": rows})
    return days


def day_table(day: dict) -> dict[str, np.ndarray]:
    """Feature rows through the serving feature function, with truth, for one simulated day."""
    by_gate: dict[str, list[dict]] = {}
    for row in day["rows"]:
        by_gate.setdefault(row["gateId"], []).append(row)
    x, wait, label = [], [], []
    for rows in by_gate.values():
        series = [Reading(ts_ms(r["ts"]), r["perMinuteCount"], r["avgProcessingTime"], r["queueLength"],
                          r["openLanes"]) for r in rows]
        x.append(feature_matrix(windows_from_series(series)))
        wait += [r["true_wait"] if r["true_wait"] is not None else np.nan for r in rows]
        label += [r["anomaly"] for r in rows]
    x = np.vstack(x)
    wait = np.asarray(wait, dtype=float)
    return {"x": x, "wait": wait, "label": np.asarray(label, dtype=int),
            "little": x[:, FEATURE_NAMES.index("little_wait")].astype(float)}


def stack(tables: list[dict]) -> dict[str, np.ndarray]:
    return {key: np.concatenate([t[key] for t in tables]) for key in tables[0]}


def fit_wait(x: np.ndarray, y: np.ndarray, seed: int):
    import lightgbm as lgb

    return lgb.LGBMRegressor(n_estimators=400, learning_rate=0.05, num_leaves=31, min_child_samples=20,
                             subsample=0.8, subsample_freq=1, colsample_bytree=0.9, objective="l2",
                             random_state=seed, n_jobs=1, verbose=-1).fit(x, y)


def wait_to_onnx(model, n_features: int) -> bytes:
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType

    return onnxmltools.convert_lightgbm(model, initial_types=[("features", FloatTensorType([None, n_features]))],
                                        target_opset=15).SerializeToString()


def fit_anomaly(x: np.ndarray, seed: int):
    from sklearn.ensemble import IsolationForest

    return IsolationForest(n_estimators=200, max_samples=512, random_state=seed).fit(x)


def anomaly_to_json(forest, n_features: int) -> dict:
    """The fitted trees as arrays, for model.IsolationForestScorer (checked against scikit-learn)."""
    from sklearn.ensemble._iforest import _average_path_length

    subsample = forest._max_features != n_features
    trees = []
    for tree, columns in zip(forest.estimators_, forest.estimators_features_):
        t = tree.tree_
        depth = np.zeros(t.node_count)
        for node in range(t.node_count):  # parents come before children in sklearn trees
            for child in (t.children_left[node], t.children_right[node]):
                if child >= 0:
                    depth[child] = depth[node] + 1
        value = depth + 1 + _average_path_length(t.n_node_samples) - 1.0
        trees.append({"feature": t.feature.tolist(), "threshold": t.threshold.tolist(),
                      "left": t.children_left.tolist(), "right": t.children_right.tolist(),
                      "value": value.round(10).tolist(),
                      "features": [int(c) for c in columns] if subsample else None})
    return {"n_features": n_features, "offset": float(forest.offset_),
            "denominator": float(len(forest.estimators_) * _average_path_length([forest.max_samples_])[0]),
            "trees": trees}


def onnx_run(model_bytes: bytes, x: np.ndarray, output: int = 0) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    name = session.get_outputs()[output].name
    return session.run([name], {session.get_inputs()[0].name: x.astype(np.float32)})[0].ravel()


def anomaly_scores(doc: dict, x: np.ndarray) -> np.ndarray:
    """Higher = more anomalous, through the serving scorer."""
    return IsolationForestScorer(doc).score(x[:, ANOMALY_INDEX])


def prf(label: np.ndarray, flagged: np.ndarray) -> dict[str, float]:
    tp = int(np.sum(flagged & (label == 1)))
    fp = int(np.sum(flagged & (label == 0)))
    fn = int(np.sum(~flagged & (label == 1)))
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
            "flagged": int(flagged.sum()), "positives": int(label.sum()), "rows": int(label.size)}


def best_threshold(scores: np.ndarray, label: np.ndarray) -> float:
    candidates = np.unique(np.quantile(scores, np.linspace(0.5, 0.999, 200)))
    f1s = [prf(label, scores >= c)["f1"] for c in candidates]
    return float(candidates[int(np.argmax(f1s))])


def wait_scores(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    err = np.abs(actual - predicted)
    busy = actual >= WAIT_STATES["green_below"]
    return {"mae": ev.mae(actual, predicted), "p90_abs_error": float(np.quantile(err, 0.9)),
            "rmse": ev.rmse(actual, predicted),
            "mae_when_wait_5min_plus": float(err[busy].mean()) if busy.any() else float("nan")}


def evaluate(days: list[dict], seed: int) -> tuple[dict, bytes, float]:
    tables = {role: stack([day_table(d) for d in days if d["role"] == role]) for role in ("train", "validation", "test")}
    normal_train = stack([day_table(d) for d in days if d["role"] == "train" and d["normal"]])
    tr, va, te = tables["train"], tables["validation"], tables["test"]

    fit_rows = ~np.isnan(tr["wait"])
    wait_model = fit_wait(tr["x"][fit_rows], tr["wait"][fit_rows], seed)
    wait_bytes = wait_to_onnx(wait_model, tr["x"].shape[1])
    rows = ~np.isnan(te["wait"])
    predicted = np.maximum(onnx_run(wait_bytes, te["x"][rows]), 0.0)
    native = np.maximum(wait_model.predict(te["x"][rows].astype(np.float32)), 0.0)
    # float32 thresholds can send a rare row down another branch; the bulk must agree closely
    if np.quantile(np.abs(native - predicted), 0.99) > 1e-2:
        raise RuntimeError("ONNX LightGBM disagrees with LightGBM beyond 0.01 minutes on 1% of rows")
    actual = te["wait"][rows]
    wait = {"lightgbm": wait_scores(actual, predicted), "littles_law": wait_scores(actual, te["little"][rows])}
    wait["lightgbm"]["mae_ratio_to_littles_law"] = wait["lightgbm"]["mae"] / wait["littles_law"]["mae"]

    forest = fit_anomaly(normal_train["x"][:, ANOMALY_INDEX], seed)
    anomaly_doc = anomaly_to_json(forest, len(ANOMALY_INDEX))
    native_scores = -forest.decision_function(te["x"][:, ANOMALY_INDEX].astype(np.float32))
    if np.max(np.abs(native_scores - anomaly_scores(anomaly_doc, te["x"]))) > 1e-6:
        raise RuntimeError("exported IsolationForest disagrees with scikit-learn")
    threshold = best_threshold(anomaly_scores(anomaly_doc, va["x"]), va["label"])
    rule_threshold = best_threshold(rule_scores(va["x"]), va["label"])
    val_f1 = {"isolation_forest": prf(va["label"], anomaly_scores(anomaly_doc, va["x"]) >= threshold)["f1"],
              "ratio_rule": prf(va["label"], rule_scores(va["x"]) >= rule_threshold)["f1"]}
    method = max(val_f1, key=val_f1.get)  # the detector served is the one better on validation days
    anomaly = {
        "isolation_forest": {**prf(te["label"], anomaly_scores(anomaly_doc, te["x"]) >= threshold),
                             "threshold": threshold, "validation_f1": val_f1["isolation_forest"]},
        "ratio_rule": {**prf(te["label"], rule_scores(te["x"]) >= rule_threshold), "threshold": rule_threshold,
                       "validation_f1": val_f1["ratio_rule"]},
        "served": method,
    }
    thr_col = FEATURE_NAMES.index("throughput_wait")
    wait["throughput_naive"] = wait_scores(actual, te["x"][rows, thr_col].astype(float))
    split = {role: [d["k"] for d in days if d["role"] == role] for role in ("train", "validation", "test")}
    metrics = {
        "holdout": {"unit": "simulated match day", "days": split,
                    "test_readings": int(te["x"].shape[0]), "test_readings_with_wait": int(rows.sum()),
                    "stadiums_test": sorted({d["stadium"] for d in days if d["role"] == "test"}),
                    "target": "mean wait (minutes) of fans joining in the minute after the reading",
                    "anomaly_unit": "gate-minute; labels are the injected surge, lane_closure and stampede spans",
                    "anomaly_threshold_chosen_on": "validation days (max F1)"},
        "wait": wait,
        "anomaly": anomaly,
        "summary": ev.summary(model="LightGBM wait model", baseline="littles_law", metric="MAE (minutes)",
                              model_score=wait["lightgbm"]["mae"], baseline_score=wait["littles_law"]["mae"],
                              note=f"{len(split['test'])} held-out simulated match days; "
                                   f"target <= 0.5x Little's law: ratio {wait['lightgbm']['mae_ratio_to_littles_law']:.2f}"),
        "anomaly_summary": ev.summary(model="IsolationForest", baseline="ratio_rule", metric="F1",
                                      model_score=anomaly["isolation_forest"]["f1"],
                                      baseline_score=anomaly["ratio_rule"]["f1"], lower_is_better=False,
                                      note="per gate-minute on held-out days"),
    }
    all_rows = stack(list(tables.values()))
    chosen = {"method": method, "threshold": threshold if method == "isolation_forest" else rule_threshold}
    return metrics, anomaly_doc, chosen, all_rows


def main(argv: list[str] | None = None) -> dict:
    parser = training_arguments(__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60, help="simulated match days (default 60)")
    args = parser.parse_args(argv)
    if args.small:  # the kernel's quick slice for tests and smoke runs
        args.days = 12
    if args.days < 8:
        parser.error("--days must be at least 8 (train, validation and test days)")
    seed_everything(args.seed)
    quiet = progress_disabled(args.quiet)
    days = simulate_days(args.days, args.seed, quiet)
    print(f"flow: {sum(len(d['rows']) for d in days)} simulated readings over {len(days)} days", file=sys.stderr)
    metrics, anomaly_doc, chosen, all_rows = evaluate(days, args.seed)
    out = build_dir(args.output)
    fit_rows = ~np.isnan(all_rows["wait"])
    final = fit_wait(all_rows["x"][fit_rows], all_rows["wait"][fit_rows], args.seed)
    (out / "wait.onnx").write_bytes(wait_to_onnx(final, all_rows["x"].shape[1]))
    (out / "flow_anomaly.json").write_text(json.dumps(anomaly_doc))
    (out / "flow.json").write_text(json.dumps({
        "feature_names": FEATURE_NAMES, "anomaly_features": ANOMALY_FEATURES,
        "anomaly_method": chosen["method"], "anomaly_threshold": chosen["threshold"],
        "anomaly_score": "isolation_forest: minus the IsolationForest decision function; ratio_rule: the largest "
                         "of arrival jump, lane drop and processing drop; >= threshold flags an anomaly",
        **WAIT_STATES}, indent=1))
    digest = hashlib.sha256(STADIUMS_PATH.read_bytes())
    digest.update(json.dumps({"days": args.days, "seed": args.seed}).encode())
    manifest = finish(SERVICE, out, metrics=metrics, features=[{"name": n, "type": t} for n, t in FEATURES],
                      data_fingerprint=digest.hexdigest(), libraries=LIBRARIES, store_uri=args.store_uri,
                      publish=not args.no_publish,
                      extra={"training": {"seed": args.seed, "days": args.days, "gates_per_day": GATES_PER_DAY,
                                          "data": "SimPy simulator services/flow/simulate.py over stadiums.json"}})
    w = metrics["wait"]
    print(f"wait MAE {w['lightgbm']['mae']:.3f} vs Little's law {w['littles_law']['mae']:.3f} min "
          f"(ratio {w['lightgbm']['mae_ratio_to_littles_law']:.2f}); p90 {w['lightgbm']['p90_abs_error']:.3f} vs "
          f"{w['littles_law']['p90_abs_error']:.3f}", file=sys.stderr)
    a = metrics["anomaly"]
    for name, m in a.items():
        if name == "served":
            continue
        print(f"anomaly {name}: precision {m['precision']:.3f} recall {m['recall']:.3f} F1 {m['f1']:.3f}",
              file=sys.stderr)
    print(f"anomaly detector served: {a['served']}", file=sys.stderr)
    print(metrics["summary"]["statement"], file=sys.stderr)
    return manifest


if __name__ == "__main__":
    main()
