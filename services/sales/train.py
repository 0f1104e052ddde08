"""Train, evaluate and publish the sales models.

    python -m services.sales.train [--stores 1,2] [--seed 42] [--no-publish]

Evaluation holds out the last 13 weeks, never used for fitting:
- one step ahead (what /predict does inside the history): RandomForest, XGBoost and their
  average against seasonal naive (same week last year) and last-week naive;
- 1..13 weeks ahead from the end of fitting (what /forecast does): per-store ARIMA, and the
  ensemble fed with ARIMA-forecast lags (what /predict does past the history), against the
  same baselines, plus the ARIMA interval's coverage.
Then every model is refit on all weeks and published.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from services.common import evaluation as ev
from services.common.legacy_baselines import Naive, SeasonalNaive
from services.common.manifest import fingerprint_files
from services.common.training import (build_dir, finish, progress_disabled, seed_everything,
                                      training_arguments)

from . import arima
from .features import FEATURE_NAMES, FEATURES, LAGS, feature_matrix, feature_row

SERVICE = "sales"
DATA = Path(__file__).resolve().parents[2] / "data" / "walmart_sales" / "Walmart_Store_sales.csv"
HOLDOUT_WEEKS = 13
HOLIDAY_WEIGHT = 5
INTERVAL_LEVEL = 0.90
COLUMNS = ["Store", "Date", "Weekly_Sales", "Holiday_Flag", "Temperature", "Fuel_Price", "CPI", "Unemployment"]


def load_data(path: Path = DATA, stores: list[int] | None = None) -> pd.DataFrame:
    frame = pd.read_csv(path)
    missing = set(COLUMNS) - set(frame.columns)
    if missing:
        raise ValueError(f"{path}: missing columns {sorted(missing)}")
    frame["Date"] = pd.to_datetime(frame["Date"], format="%d-%m-%Y")
    if frame[COLUMNS].isna().any().any() or (frame["Weekly_Sales"] <= 0).any():
        raise ValueError(f"{path}: empty cells or non-positive sales")
    if stores:
        frame = frame[frame["Store"].isin(stores)]
    frame = frame.sort_values(["Store", "Date"]).reset_index(drop=True)
    weeks_per_store = frame.groupby("Store")["Date"].nunique()
    if weeks_per_store.nunique() != 1:
        raise ValueError("every store must have the same weeks")
    return frame


def make_rows(frame: pd.DataFrame, store_means: dict[int, float]) -> tuple[np.ndarray, pd.DataFrame]:
    """Feature rows for every week that has 52 weeks of history, through the serving function."""
    frame = frame.copy()
    by_store = frame.groupby("Store")["Weekly_Sales"]
    for lag in LAGS:
        frame[f"lag_{lag}"] = by_store.shift(lag)
    frame = frame.dropna(subset=[f"lag_{lag}" for lag in LAGS]).reset_index(drop=True)
    rows = [
        feature_row(store_mean=store_means[r.Store], week=r.Date.date(), holiday=r.Holiday_Flag,
                    temperature=r.Temperature, fuel_price=r.Fuel_Price, cpi=r.CPI,
                    unemployment=r.Unemployment, lags={lag: getattr(r, f"lag_{lag}") for lag in LAGS})
        for r in frame.itertuples()
    ]
    return feature_matrix(rows), frame


def fit_trees(x: np.ndarray, y: np.ndarray, seed: int):
    from sklearn.ensemble import RandomForestRegressor
    from xgboost import XGBRegressor

    # Bounded on purpose: 100 trees of depth <= 10 with leaves of >= 5 weeks keep the ONNX file
    # (~2 MB) and a worker's memory small; 200 trees of depth 12 held 4x the nodes for no gain.
    forest = RandomForestRegressor(n_estimators=100, max_depth=10, min_samples_leaf=5, max_features=0.5,
                                   random_state=seed, n_jobs=2).fit(x, y)
    boosted = XGBRegressor(n_estimators=400, max_depth=5, learning_rate=0.05, subsample=0.8,
                           colsample_bytree=0.8, random_state=seed, n_jobs=2).fit(x, y)
    return forest, boosted


def to_onnx(forest, boosted, n_features: int) -> tuple[bytes, bytes]:
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType as XgbFloat
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    rf = convert_sklearn(forest, initial_types=[("features", FloatTensorType([None, n_features]))],
                         target_opset=17)
    xgb = onnxmltools.convert_xgboost(boosted, initial_types=[("features", XgbFloat([None, n_features]))],
                                      target_opset=15)
    # Converters name graphs with a random id; fix the names so the same seed gives the same bytes.
    rf.graph.name, xgb.graph.name = "sales_random_forest", "sales_xgboost"
    rf, xgb = rf.SerializeToString(), xgb.SerializeToString()
    return rf, xgb


def onnx_predict(model_bytes: bytes, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x.astype(np.float32)})[0].ravel()


def scores(actual, predicted, holidays) -> dict[str, float]:
    return {"mae": ev.mae(actual, predicted),
            "wmae": ev.wmae(actual, predicted, np.where(np.asarray(holidays) == 1, HOLIDAY_WEIGHT, 1)),
            "mape": ev.mape(actual, predicted)}


def evaluate(frame: pd.DataFrame, seed: int, quiet: bool) -> dict:
    weeks = sorted(frame["Date"].unique())
    cutoff = weeks[-HOLDOUT_WEEKS]
    fit_part = frame[frame["Date"] < cutoff]
    store_means = fit_part.groupby("Store")["Weekly_Sales"].mean().to_dict()
    x, rows = make_rows(frame, store_means)
    train_mask = (rows["Date"] < cutoff).to_numpy()
    forest, boosted = fit_trees(x[train_mask], rows.loc[train_mask, "Weekly_Sales"].to_numpy(), seed)
    rf_bytes, xgb_bytes = to_onnx(forest, boosted, x.shape[1])
    test = rows.loc[~train_mask].reset_index(drop=True)
    x_test = x[~train_mask]
    rf_pred, xgb_pred = onnx_predict(rf_bytes, x_test), onnx_predict(xgb_bytes, x_test)
    native = forest.predict(x_test)
    if np.max(np.abs(native - rf_pred) / np.maximum(np.abs(native), 1)) > 1e-3:
        raise RuntimeError("ONNX RandomForest disagrees with scikit-learn beyond 0.1%")
    actual, hol = test["Weekly_Sales"].to_numpy(), test["Holiday_Flag"].to_numpy()

    one_step = {
        "random_forest": scores(actual, rf_pred, hol),
        "xgboost": scores(actual, xgb_pred, hol),
        "ensemble": scores(actual, (rf_pred + xgb_pred) / 2, hol),
    }
    seasonal, last_week = [], []
    for r in test.itertuples():
        past = frame[(frame["Store"] == r.Store) & (frame["Date"] < r.Date)]["Weekly_Sales"].to_numpy()
        seasonal.append(SeasonalNaive(52).fit(past).predict(1)[0])
        last_week.append(Naive().fit(past).predict(1)[0])
    one_step["seasonal_naive"] = scores(actual, seasonal, hol)
    one_step["last_week_naive"] = scores(actual, last_week, hol)

    # Multi-step: ARIMA from the end of fitting, and the ensemble fed with ARIMA lags.
    multi = {"arima": [], "seasonal_naive": [], "last_value_naive": [], "ensemble_recursive": []}
    actual_all, hol_all, lower_all, upper_all = [], [], [], []
    stores = sorted(frame["Store"].unique())
    for store in tqdm(stores, desc="sales: ARIMA hold-out", disable=quiet, file=sys.stderr):
        series = frame[frame["Store"] == store]
        past, future = series[series["Date"] < cutoff], series[series["Date"] >= cutoff]
        y_past = past["Weekly_Sales"].to_numpy()
        params = arima.fit(y_past, past["Holiday_Flag"].to_numpy(float))
        mean, lower, upper = arima.forecast(params, y_past, past["Holiday_Flag"].to_numpy(float),
                                            future["Holiday_Flag"].to_numpy(float), INTERVAL_LEVEL)
        multi["arima"].append(mean)
        multi["seasonal_naive"].append(SeasonalNaive(52).fit(y_past).predict(len(future)))
        multi["last_value_naive"].append(Naive().fit(y_past).predict(len(future)))
        known = list(y_past) + list(mean)  # lags past the cutoff come from the ARIMA forecast
        rec_rows = []
        for i, r in enumerate(future.itertuples()):
            t = len(y_past) + i
            rec_rows.append(feature_row(store_mean=store_means[store], week=r.Date.date(), holiday=r.Holiday_Flag,
                                        temperature=r.Temperature, fuel_price=r.Fuel_Price, cpi=r.CPI,
                                        unemployment=r.Unemployment, lags={lag: known[t - lag] for lag in LAGS}))
        xr = feature_matrix(rec_rows)
        multi["ensemble_recursive"].append((onnx_predict(rf_bytes, xr) + onnx_predict(xgb_bytes, xr)) / 2)
        actual_all.append(future["Weekly_Sales"].to_numpy())
        hol_all.append(future["Holiday_Flag"].to_numpy())
        lower_all.append(lower)
        upper_all.append(upper)
    a, h = np.concatenate(actual_all), np.concatenate(hol_all)
    multi_step = {name: scores(a, np.concatenate(preds), h) for name, preds in multi.items()}
    multi_step["arima"]["interval_coverage"] = ev.coverage(a, np.concatenate(lower_all), np.concatenate(upper_all))
    multi_step["arima"]["interval_level"] = INTERVAL_LEVEL

    best_one_step_baseline = min(("seasonal_naive", "last_week_naive"), key=lambda b: one_step[b]["wmae"])
    best_multi_baseline = min(("seasonal_naive", "last_value_naive"), key=lambda b: multi_step[b]["wmae"])
    return {
        "holdout": {"weeks": HOLDOUT_WEEKS, "first_week": pd.Timestamp(cutoff).date().isoformat(),
                    "last_week": pd.Timestamp(weeks[-1]).date().isoformat(), "stores": len(stores),
                    "holiday_weight": HOLIDAY_WEIGHT, "mape_unit": "percent"},
        "one_step": one_step,
        "multi_step": multi_step,
        "summary": ev.summary(model="ensemble (RF+XGB, /predict)", baseline=best_one_step_baseline,
                              metric="WMAE", model_score=one_step["ensemble"]["wmae"],
                              baseline_score=one_step[best_one_step_baseline]["wmae"],
                              note="one week ahead, last 13 weeks"),
        "forecast_summary": ev.summary(model="ARIMA (/forecast)", baseline=best_multi_baseline, metric="WMAE",
                                       model_score=multi_step["arima"]["wmae"],
                                       baseline_score=multi_step[best_multi_baseline]["wmae"],
                                       note="1-13 weeks ahead"),
    }


def fit_final(frame: pd.DataFrame, out: Path, seed: int, quiet: bool) -> None:
    """Refit on all weeks and write the serving artifact (ONNX + JSON)."""
    store_means = frame.groupby("Store")["Weekly_Sales"].mean().to_dict()
    x, rows = make_rows(frame, store_means)
    forest, boosted = fit_trees(x, rows["Weekly_Sales"].to_numpy(), seed)
    rf_bytes, xgb_bytes = to_onnx(forest, boosted, x.shape[1])
    (out / "random_forest.onnx").write_bytes(rf_bytes)
    (out / "xgboost.onnx").write_bytes(xgb_bytes)
    dates = [d.date().isoformat() for d in sorted(frame["Date"].unique().tolist())]
    history, params = {}, {}
    for store in tqdm(sorted(frame["Store"].unique()), desc="sales: ARIMA final", disable=quiet, file=sys.stderr):
        series = frame[frame["Store"] == store]
        sales, holidays = series["Weekly_Sales"].to_numpy(), series["Holiday_Flag"].to_numpy(float)
        history[str(store)] = {"store_mean": store_means[store], "sales": sales.round(2).tolist(),
                               "holidays": holidays.astype(int).tolist()}
        params[str(store)] = arima.fit(sales, holidays)
    (out / "history.json").write_text(json.dumps({"interval_level": INTERVAL_LEVEL, "dates": dates,
                                                   "stores": history}))
    (out / "arima.json").write_text(json.dumps({"order": list(arima.ORDER), "trend": arima.TREND,
                                                 "exog": ["log_sales_lag_52", "Holiday_Flag"],
                                                 "target": "log(Weekly_Sales)", "params": params}))


def main(argv: list[str] | None = None) -> dict:
    parser = training_arguments(__doc__.splitlines()[0])
    parser.add_argument("--stores", default="", help="comma-separated store ids (default: all)")
    args = parser.parse_args(argv)
    seed_everything(args.seed)
    quiet = progress_disabled(args.quiet)
    stores = [int(s) for s in args.stores.split(",") if s.strip()] or ([1, 2] if args.small else [])
    frame = load_data(DATA, stores or None)
    print(f"sales: {len(frame)} rows, {frame['Store'].nunique()} stores", file=sys.stderr)
    metrics = evaluate(frame, args.seed, quiet)
    out = build_dir(args.output)
    fit_final(frame, out, args.seed, quiet)
    manifest = finish(SERVICE, out, metrics=metrics,
                      features=[{"name": n, "type": t} for n, t in FEATURES],
                      data_fingerprint=fingerprint_files(DATA),
                      libraries=["scikit-learn", "xgboost", "statsmodels", "onnxruntime", "skl2onnx", "onnxmltools"],
                      store_uri=args.store_uri, publish=not args.no_publish,
                      extra={"training": {"seed": args.seed, "stores": stores or "all",
                                          "feature_names": FEATURE_NAMES}})
    print(metrics["summary"]["statement"], file=sys.stderr)
    print(metrics["forecast_summary"]["statement"], file=sys.stderr)
    return manifest


if __name__ == "__main__":
    main()
