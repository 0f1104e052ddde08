"""The demand pipeline: validate -> load -> features -> compare -> publish.

    python -m services.demand.pipeline [--data CSV] [--database-url URL] [--holdout-weeks 20] [--seed 42]
                                       [--quick] [--no-publish] [--output DIR] [--store-uri URI]

- validate: pandera rules over the raw CSV (services/demand/validation.py). Any failure stops here,
  before the warehouse or the model store is touched: the report goes to --report (default
  var/demand/validation_report.txt) and stderr, and the process exits with status 3.
- load: upsert into the warehouse (SQLite under var/ by default, PostgreSQL when DATABASE_URL says so).
- features: read the warehouse back, hold out the latest weeks (time-ordered), learn the store and
  product encodings on the fitting weeks only, build rows through the serving feature function.
- compare: six models on the hold-out (MAE, RMSE, WAPE); the winner is the lowest MAE.
- publish: refit the winner on every week, export it (ONNX for tree/MLP models, JSON for the mean
  baselines and the log-log model), write the manifest with the whole table, publish.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
from tqdm import tqdm

from services.common import evaluation as ev
from services.common.config import PROJECT_ROOT
from services.common.manifest import fingerprint_files
from services.common.training import build_dir, finish, progress_disabled, seed_everything, training_arguments

from .features import FEATURE_NAMES, FEATURES, feature_matrix
from .validation import (PRICE_ABOVE_BASE_TOLERANCE, DataValidationError, Report, validate_file)
from .warehouse import LoadResult, Warehouse

SERVICE = "demand"
DATA = PROJECT_ROOT / "data" / "retail_demand" / "dunnhumby_frozen_pizza_weekly.csv"
DEFAULT_REPORT = PROJECT_ROOT / "var" / "demand" / "validation_report.txt"
HOLDOUT_WEEKS = 20
PAIR_SHRINK = 3.0    # pseudo-rows pulling a store x product level toward product level + store effect
STORE_SHRINK = 5.0   # pseudo-rows pulling a store effect toward 0
BASELINE = "store_product_mean"
EXIT_INVALID_DATA = 3
ONNX_MODELS = ("random_forest", "xgboost", "mlp")


def say(message: str) -> None:
    print(f"demand: {message}", file=sys.stderr, flush=True)


@dataclass
class StepLog:
    steps: list[dict[str, Any]] = field(default_factory=list)

    def record(self, name: str, started: float, **counts) -> None:
        seconds = round(time.perf_counter() - started, 3)
        self.steps.append({"step": name, "seconds": seconds, **counts})
        say(f"step {name}: " + ", ".join(f"{k}={v}" for k, v in counts.items()) + f" ({seconds:.2f} s)")


# ----------------------------------------------------------------------------------- validate
def validate(path: Path, report_path: Path | None = DEFAULT_REPORT) -> tuple[pd.DataFrame, Report]:
    """Raise DataValidationError (report written to report_path) if any rule fails."""
    try:
        frame, report = validate_file(path)
    except DataValidationError as exc:
        if report_path is not None:
            Path(report_path).parent.mkdir(parents=True, exist_ok=True)
            Path(report_path).write_text(exc.report.text())
        raise
    if report_path is not None:
        Path(report_path).parent.mkdir(parents=True, exist_ok=True)
        Path(report_path).write_text(report.text())
    return frame, report


# ----------------------------------------------------------------------------------- load
def load(frame: pd.DataFrame, warehouse: Warehouse, quiet: bool = True) -> LoadResult:
    with tqdm(total=len(frame), desc="demand: load warehouse", unit="row", disable=quiet, file=sys.stderr) as bar:
        return warehouse.load(frame, progress=bar)


# ----------------------------------------------------------------------------------- features
def fit_encodings(train: pd.DataFrame) -> dict[str, Any]:
    """Store, product and store x product levels of log1p(units), learned from fitting rows only."""
    ly = np.log1p(train["units"].to_numpy(float))
    frame = train.assign(ly=ly)
    global_level = float(ly.mean())
    products = {}
    for pid, g in frame.groupby("product_id"):
        products[str(pid)] = {
            "level": float(g["ly"].mean()), "usual_price": float(g["base_price"].median()),
            "mean_units": float(g["units"].mean()), "rows": int(len(g)),
            "manufacturer": str(g["manufacturer"].iloc[0]),
            "min_price": float(g["price"].min()), "max_price": float(g["price"].max()),
        }
    product_level = frame["product_id"].map(lambda p: products[str(p)]["level"])
    frame = frame.assign(resid=frame["ly"] - product_level)
    stores = {}
    for sid, g in frame.groupby("store_id"):
        stores[str(sid)] = {"effect": float(g["resid"].sum() / (len(g) + STORE_SHRINK)), "rows": int(len(g)),
                            "mean_units": float(g["units"].mean())}
    pairs = {}
    for (sid, pid), g in frame.groupby(["store_id", "product_id"]):
        prior = products[str(pid)]["level"] + stores[str(sid)]["effect"]
        n, total = len(g), float(g["ly"].sum())
        pairs[f"{sid}|{pid}"] = {"level": (total + PAIR_SHRINK * prior) / (n + PAIR_SHRINK), "rows": int(n),
                                 "sum": total, "mean_units": float(g["units"].mean())}
    return {"global_level": global_level, "global_mean_units": float(train["units"].mean()),
            "pair_shrink": PAIR_SHRINK, "store_shrink": STORE_SHRINK,
            "products": products, "stores": stores, "pairs": pairs}


def encode(frame: pd.DataFrame, enc: dict[str, Any], leave_one_out: bool = False) -> np.ndarray:
    """Feature rows for `frame` through the serving feature function.

    leave_one_out: on the fitting rows, a row's own units are taken out of its store x product
    level, so the models cannot learn to trust a level that contains the answer.
    """
    products, stores, pairs = enc["products"], enc["stores"], enc["pairs"]
    pid = frame["product_id"].astype(str).to_numpy()
    sid = frame["store_id"].astype(str).to_numpy()
    product_level = np.array([products[p]["level"] if p in products else enc["global_level"] for p in pid])
    usual = np.array([products[p]["usual_price"] if p in products else b
                      for p, b in zip(pid, frame["base_price"].to_numpy(float))])
    store_effect = np.array([stores[s]["effect"] if s in stores else 0.0 for s in sid])
    prior = product_level + store_effect
    pair_level = prior.copy()
    ly = np.log1p(frame["units"].to_numpy(float))
    for i, (s, p) in enumerate(zip(sid, pid)):
        entry = pairs.get(f"{s}|{p}")
        if entry is None:
            continue
        if leave_one_out:
            pair_level[i] = (entry["sum"] - ly[i] + PAIR_SHRINK * prior[i]) / (entry["rows"] - 1 + PAIR_SHRINK)
        else:
            pair_level[i] = entry["level"]
    weeks = frame["week_end_date"].dt.isocalendar().week.to_numpy(int)
    return feature_matrix(pair_level=pair_level, product_level=product_level, store_effect=store_effect,
                          price=frame["price"].to_numpy(float), base_price=frame["base_price"].to_numpy(float),
                          usual_price=usual, display=frame["display"].to_numpy(float),
                          feature=frame["feature"].to_numpy(float), tpr=frame["tpr"].to_numpy(float),
                          iso_week=weeks)


@dataclass
class Dataset:
    frame: pd.DataFrame
    train: pd.DataFrame
    test: pd.DataFrame
    encodings: dict[str, Any]
    x_train: np.ndarray
    x_test: np.ndarray
    holdout: dict[str, Any]


def features(frame: pd.DataFrame, holdout_weeks: int = HOLDOUT_WEEKS) -> Dataset:
    weeks = np.sort(frame["week_end_date"].unique())
    if len(weeks) <= holdout_weeks + 10:
        raise ValueError(f"{len(weeks)} weeks is too few for a {holdout_weeks}-week hold-out")
    cutoff = weeks[-holdout_weeks]
    train = frame[frame["week_end_date"] < cutoff].reset_index(drop=True)
    test = frame[frame["week_end_date"] >= cutoff].reset_index(drop=True)
    enc = fit_encodings(train)
    pair_keys = set(enc["pairs"])
    unseen = sum(f"{s}|{p}" not in pair_keys for s, p in zip(test["store_id"], test["product_id"]))
    holdout = {
        "split": "time-ordered: the latest weeks are held out, never used for fitting or for the encodings",
        "weeks": int(holdout_weeks), "first_week": pd.Timestamp(cutoff).date().isoformat(),
        "last_week": pd.Timestamp(weeks[-1]).date().isoformat(),
        "fit_weeks": int(len(weeks) - holdout_weeks),
        "fit_first_week": pd.Timestamp(weeks[0]).date().isoformat(),
        "fit_rows": int(len(train)), "holdout_rows": int(len(test)),
        "holdout_rows_with_unseen_store_product": int(unseen),
        "holdout_units_total": int(test["units"].sum()),
        "wape_unit": "percent", "target": "units per store x product x week",
    }
    return Dataset(frame, train, test, enc, encode(train, enc, leave_one_out=True), encode(test, enc), holdout)


# ----------------------------------------------------------------------------------- compare
def mean_lookup(enc: dict[str, Any], by: str) -> Callable[[pd.DataFrame], np.ndarray]:
    """store_product_mean (falls back to the product mean) or product_mean, in units."""
    def predict(frame: pd.DataFrame) -> np.ndarray:
        out = []
        for s, p in zip(frame["store_id"].astype(str), frame["product_id"].astype(str)):
            pair = enc["pairs"].get(f"{s}|{p}") if by == "store_product" else None
            product = enc["products"].get(p)
            out.append(pair["mean_units"] if pair else product["mean_units"] if product else enc["global_mean_units"])
        return np.asarray(out, dtype=float)
    return predict


def make_estimator(name: str, seed: int, quick: bool):
    if name == "loglog_elasticity":
        from sklearn.linear_model import Ridge
        return Ridge(alpha=1.0)
    if name == "random_forest":
        from sklearn.ensemble import RandomForestRegressor
        # Bounded: depth and leaf size keep the ONNX file small and the fit fast.
        return RandomForestRegressor(n_estimators=60 if quick else 200, max_depth=10, min_samples_leaf=5,
                                     max_features=0.5, random_state=seed, n_jobs=2)
    if name == "xgboost":
        from xgboost import XGBRegressor
        return XGBRegressor(n_estimators=150 if quick else 400, max_depth=4, learning_rate=0.05, subsample=0.8,
                            colsample_bytree=0.8, min_child_weight=5, tree_method="hist", random_state=seed,
                            n_jobs=1)  # one thread: OpenMP spinning on a shared 2-core box costs more
    if name == "mlp":
        from sklearn.neural_network import MLPRegressor
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler
        return Pipeline([("scale", StandardScaler()),
                         ("mlp", MLPRegressor(hidden_layer_sizes=(32, 16), alpha=1e-3, learning_rate_init=1e-3,
                                              max_iter=150 if quick else 400, early_stopping=True,
                                              n_iter_no_change=15, random_state=seed))])
    raise ValueError(name)


LEARNED = ("loglog_elasticity", "random_forest", "xgboost", "mlp")
MODELS = ("store_product_mean", "product_mean", *LEARNED)


def to_units(log_prediction: np.ndarray) -> np.ndarray:
    return np.maximum(np.expm1(np.asarray(log_prediction, dtype=float).ravel()), 0.0)


def scores(actual, predicted) -> dict[str, float]:
    return {"mae": ev.mae(actual, predicted), "rmse": ev.rmse(actual, predicted), "wape": ev.wape(actual, predicted)}


def compare(data: Dataset, seed: int, quick: bool, quiet: bool = True) -> tuple[dict[str, dict[str, float]], str, dict]:
    """Fit every model on the fitting weeks, score it on the hold-out; return (table, winner, fitted)."""
    actual = data.test["units"].to_numpy(float)
    y_log = np.log1p(data.train["units"].to_numpy(float))
    table, fitted = {}, {}
    for name in tqdm(MODELS, desc="demand: compare models", disable=quiet, file=sys.stderr):
        started = time.perf_counter()
        if name == "store_product_mean":
            predicted = mean_lookup(data.encodings, "store_product")(data.test)
        elif name == "product_mean":
            predicted = mean_lookup(data.encodings, "product")(data.test)
        else:
            model = make_estimator(name, seed, quick).fit(data.x_train, y_log)
            fitted[name] = model
            predicted = to_units(model.predict(data.x_test))
        table[name] = scores(actual, predicted)
        table[name]["fit_seconds"] = round(time.perf_counter() - started, 3)
        say(f"  {name:<20} MAE {table[name]['mae']:.3f}  RMSE {table[name]['rmse']:.3f}  "
            f"WAPE {table[name]['wape']:.1f}%")
    winner = min(MODELS, key=lambda n: table[n]["mae"])
    return table, winner, fitted


# ----------------------------------------------------------------------------------- publish
def to_onnx(name: str, model, n_features: int) -> bytes:
    if name == "xgboost":
        import onnxmltools
        from onnxmltools.convert.common.data_types import FloatTensorType as XgbFloat
        return onnxmltools.convert_xgboost(model, initial_types=[("features", XgbFloat([None, n_features]))],
                                           target_opset=15).SerializeToString()
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    return convert_sklearn(model, initial_types=[("features", FloatTensorType([None, n_features]))],
                           target_opset=17).SerializeToString()


def onnx_predict(model_bytes: bytes, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x.astype(np.float32)})[0].ravel()


def elasticity(model, names=FEATURE_NAMES) -> dict[str, Any]:
    """Price elasticity of the log-log model at the usual price (price = base = usual).

    d log1p(units) / d log(price), base price fixed: the log_price coefficient, plus the discount
    term (d(1 - p/b)/d log p = -p/b = -1) and the price_index term (d(p/u)/d log p = p/u = 1).
    """
    c = dict(zip(names, np.asarray(model.coef_, dtype=float).tolist()))
    return {"elasticity_at_usual_price": c["log_price"] - c["discount"] + c["price_index"],
            "coef_log_price": c["log_price"], "coef_discount": c["discount"], "coef_price_index": c["price_index"],
            "coef_display": c["display"], "coef_feature": c["feature"], "coef_tpr": c["tpr"],
            "target": "log1p(units)"}


def catalog(frame: pd.DataFrame, enc: dict[str, Any]) -> dict[str, Any]:
    return {
        "first_week": frame["week_end_date"].min().date().isoformat(),
        "last_week": frame["week_end_date"].max().date().isoformat(),
        "stores": [{"store_id": s, "rows": v["rows"], "mean_units": round(v["mean_units"], 3)}
                   for s, v in sorted(enc["stores"].items(), key=lambda kv: int(kv[0]))],
        "products": [{"product_id": p, "manufacturer": v["manufacturer"], "usual_price": v["usual_price"],
                      "min_price": v["min_price"], "max_price": v["max_price"], "rows": v["rows"],
                      "mean_units": round(v["mean_units"], 3)}
                     for p, v in sorted(enc["products"].items())],
    }


def publish(frame: pd.DataFrame, winner: str, seed: int, quick: bool, out: Path, data: Dataset,
            eval_model) -> dict[str, Any]:
    """Refit the winner on every week and write the serving files; returns what the manifest records."""
    enc = fit_encodings(frame)
    artifact: dict[str, Any] = {
        "format": 1, "model": winner, "feature_names": FEATURE_NAMES, "target": "log1p(units)",
        "week_ends_on": "Wednesday", "promotion_means": {"display": 1, "feature": 1, "tpr": 0},
        "encodings": {k: v for k, v in enc.items() if k != "pairs"},
        "pairs": {k: {"level": v["level"], "mean_units": v["mean_units"], "rows": v["rows"]}
                  for k, v in enc["pairs"].items()},
        "catalog": catalog(frame, enc),
    }
    record: dict[str, Any] = {}
    if winner in ("store_product_mean", "product_mean"):
        artifact["kind"] = "lookup"
        artifact["target"] = "units"
    elif winner == "loglog_elasticity":
        model = make_estimator(winner, seed, quick).fit(encode(frame, enc, leave_one_out=True),
                                                        np.log1p(frame["units"].to_numpy(float)))
        artifact["kind"] = "linear"
        artifact["linear"] = {"intercept": float(model.intercept_), "coef": np.asarray(model.coef_, float).tolist()}
        record["elasticity"] = elasticity(model)
    else:
        # The hold-out score must hold for the exported graph: check ONNX against the native model.
        eval_bytes = to_onnx(winner, eval_model, data.x_test.shape[1])
        onnx_units = to_units(onnx_predict(eval_bytes, data.x_test))
        native_units = to_units(eval_model.predict(data.x_test))
        gap = float(np.max(np.abs(onnx_units - native_units)))
        if gap > 0.05:
            raise RuntimeError(f"ONNX {winner} disagrees with the native model by {gap:.3f} units")
        record["onnx_check"] = {"max_abs_diff_units": gap,
                                "holdout_mae_through_onnx": ev.mae(data.test["units"].to_numpy(float), onnx_units)}
        model = make_estimator(winner, seed, quick).fit(encode(frame, enc, leave_one_out=True),
                                                        np.log1p(frame["units"].to_numpy(float)))
        (out / "model.onnx").write_bytes(to_onnx(winner, model, len(FEATURE_NAMES)))
        artifact["kind"] = "onnx"
        artifact["onnx_file"] = "model.onnx"
    (out / "demand.json").write_text(json.dumps(artifact))
    return record


# ----------------------------------------------------------------------------------- run
def arguments():
    parser = training_arguments(__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="raw CSV (default: data/retail_demand/...)")
    parser.add_argument("--database-url", default=None,
                        help="SQLAlchemy URL (default: DATABASE_URL or SQLite under var/demand/)")
    parser.add_argument("--db-schema", default=None, help="PostgreSQL schema for the warehouse table")
    parser.add_argument("--holdout-weeks", type=int, default=HOLDOUT_WEEKS)
    parser.add_argument("--report", type=Path, default=DEFAULT_REPORT, help="validation report file")
    parser.add_argument("--quick", action="store_true", help="fewer trees and epochs (tests, notebook)")
    return parser


def run(argv: list[str] | None = None) -> dict[str, Any]:
    """The pipeline; raises DataValidationError before touching the warehouse or the store."""
    args = arguments().parse_args(argv)
    args.quick = args.quick or args.small  # the kernel's quick slice for tests and smoke runs
    seed_everything(args.seed)
    quiet = progress_disabled(args.quiet)
    log = StepLog()
    steps = tqdm(total=5, desc="demand: pipeline", unit="step", disable=quiet, file=sys.stderr)

    started = time.perf_counter()
    frame, report = validate(args.data, args.report)
    log.record("validate", started, rows=len(frame), rules_broken=0)
    steps.update()

    started = time.perf_counter()
    warehouse = Warehouse(args.database_url, args.db_schema)
    try:
        loaded = load(frame, warehouse, quiet)
        rows = warehouse.read()
    finally:
        warehouse.dispose()
    log.record("load", started, dialect=warehouse.dialect, rows_in_file=loaded.rows_in_file,
               inserted=loaded.inserted, already_present=loaded.updated_or_unchanged, warehouse_rows=loaded.after)
    steps.update()

    started = time.perf_counter()
    data = features(rows, args.holdout_weeks)
    log.record("features", started, fit_rows=len(data.train), holdout_rows=len(data.test),
               features=len(FEATURE_NAMES), stores=rows["store_id"].nunique(), products=rows["product_id"].nunique())
    steps.update()

    started = time.perf_counter()
    table, winner, fitted = compare(data, args.seed, args.quick, quiet)
    log.record("compare", started, models=len(table), winner=winner, winner_mae=round(table[winner]["mae"], 4))
    steps.update()

    started = time.perf_counter()
    out = build_dir(args.output)
    record = publish(rows, winner, args.seed, args.quick, out, data, fitted.get(winner))
    summary = ev.summary(model=winner, baseline=BASELINE, metric="MAE", model_score=table[winner]["mae"],
                         baseline_score=table[BASELINE]["mae"],
                         note=f"units per store x product x week, latest {args.holdout_weeks} weeks")
    metrics = {"holdout": data.holdout, "comparison": {n: {k: v for k, v in row.items() if k != "fit_seconds"}
                                                       for n, row in table.items()},
               "winner": winner, "chosen_by": "lowest hold-out MAE", "summary": summary}
    extra = {
        "comparison_table": [{"model": n, **table[n], "winner": n == winner} for n in MODELS],
        "serving": {"model": winner, **record},
        "pipeline": {"steps": list(log.steps), "validation": report.text().strip(),
                     "price_above_base_tolerance": PRICE_ABOVE_BASE_TOLERANCE,
                     "warehouse": {"dialect": warehouse.dialect, "table": "demand_weekly", "rows": loaded.after}},
        "training": {"seed": args.seed, "quick": args.quick, "refit": "winner refit on every week before publishing",
                     "feature_names": FEATURE_NAMES},
    }
    if "loglog_elasticity" in fitted:
        extra["elasticity_holdout_fit"] = elasticity(fitted["loglog_elasticity"])
    manifest = finish(SERVICE, out, metrics=metrics, features=[{"name": n, "type": t} for n, t in FEATURES],
                      data_fingerprint=fingerprint_files(args.data),
                      libraries=["pandas", "pandera", "sqlalchemy", "scikit-learn", "xgboost", "onnxruntime",
                                 "skl2onnx", "onnxmltools"],
                      store_uri=args.store_uri, publish=not args.no_publish, extra=extra)
    log.record("publish", started, version=manifest["version"], published=not args.no_publish,
               files=len(manifest["files"]))
    steps.update()
    steps.close()
    say(summary["statement"])
    return manifest


def main(argv: list[str] | None = None) -> dict[str, Any]:
    try:
        return run(argv)
    except DataValidationError as exc:
        sys.stderr.write(exc.report.text())
        say(f"stopped: data validation failed (exit {EXIT_INVALID_DATA}); warehouse and model store untouched")
        raise SystemExit(EXIT_INVALID_DATA) from None


if __name__ == "__main__":
    main()
