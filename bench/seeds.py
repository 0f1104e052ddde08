"""The seeds' style, for comparison only (bench code, never imported by services/).

The seeds served a native scikit-learn/xgboost model loaded with joblib and built a one-row
pandas DataFrame per request. `build(service, version_dir, out)` fits that native model with the
service's own training functions on the service's own features (same estimator and
hyper-parameters as the served ONNX), dumps it with joblib and writes spec.json for
`bench.seed_app`. The seed app's request body is the feature dict itself, so it does less work
per request than the seeds did (they also parsed dates and derived features with pandas): the
ratio it gives is a lower bound on the speed-up.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd


def _frame(x: np.ndarray, names: list[str]) -> pd.DataFrame:
    return pd.DataFrame(np.asarray(x, dtype=np.float64), columns=names)


def _sales(version_dir: Path):
    from services.sales import train
    from services.sales.features import FEATURE_NAMES

    frame = train.load_data()
    means = frame.groupby("Store")["Weekly_Sales"].mean().to_dict()
    x, rows = train.make_rows(frame, means)
    forest, boosted = train.fit_trees(_frame(x, FEATURE_NAMES), rows["Weekly_Sales"].to_numpy(), 42)
    return {"random_forest": forest, "xgboost": boosted}, FEATURE_NAMES, x[-1], "average", \
        "RandomForest(100, depth 10) + XGBoost(400), averaged"


def _forecast(version_dir: Path):
    from services.forecast import dataset, train

    served = json.loads((version_dir / "tables.json").read_text())["served"]
    competition = next(c for c in ("afcon", "world_cup") if served.get(c, {}).get("kind") == "onnx")
    chosen = next(c for c in train.candidates(42) if c.name == served[competition]["model"])
    frame, _ = dataset.walk(dataset.load_matches(dataset.DATA_DIR, None))
    x = frame[chosen.features].to_numpy()
    model = chosen.make(42).fit(_frame(x, chosen.features), frame["fill"].clip(0, 1).to_numpy())
    return {chosen.name: model}, chosen.features, x[-1], "average", \
        f"{chosen.name} ({competition}, train.candidates)"


def _demand(version_dir: Path):
    import tempfile

    from services.demand import models, pipeline
    from services.demand.features import FEATURE_NAMES
    from services.demand.warehouse import Warehouse

    art = json.loads((version_dir / "demand.json").read_text())
    # the served booster (alone, or the booster inside the blend); a baseline gets the default booster
    name = art.get("booster", art["model"]) if art["kind"] in ("booster", "blend") else "lightgbm_tweedie"
    frame, _ = pipeline.validate(pipeline.DATA, report_path=None)
    with tempfile.TemporaryDirectory() as tmp:  # the pipeline reads its rows back from the warehouse
        warehouse = Warehouse(f"sqlite:///{tmp}/warehouse.sqlite3")
        try:
            pipeline.load(frame, warehouse)
            rows = pipeline.read_rows(warehouse)
        finally:
            warehouse.dispose()
    booster = {m.name: m for m in models.candidates(42, small=False) if isinstance(m, models.Booster)}[name]
    booster.fit(rows)
    x = booster.rows(rows)
    return {name: booster.estimator_}, FEATURE_NAMES, x[-1], "average", f"{name} (models.Booster, 400 trees)"


def _powerball(version_dir: Path):
    from services.powerball import train
    from services.powerball.eras import era_draws

    spec = json.loads((version_dir / "model.json").read_text())
    rounds = int(spec.get("rounds", 30))
    eras, draws = train.load_draws()
    era = eras[-1]
    white, power = train.era_arrays(era_draws(draws, era))
    x_white, x_power = train.design(white, power, era)
    n, w = len(white), train.WARMUP
    fitted = train.fit_positions(x_white[w:n], x_power[w:n], white[w:], power[w:], era, rounds, 42, True, "seed")
    names = [f"w{i}" for i in range(x_white.shape[1])]
    pnames = [f"p{i}" for i in range(x_power.shape[1])]
    models = {}
    for k, (model, _) in enumerate(fitted):
        models[f"position_{k}"] = model
    # Per request the seeds' style rebuilds the next draw's features as DataFrames and asks every position.
    row = {"white": x_white[n].tolist(), "power": x_power[n].tolist()}
    return models, {"white": names, "power": pnames}, row, "positions", f"{len(fitted)} XGBClassifier ({rounds} rounds)"


def _flow(version_dir: Path):
    from sklearn.ensemble import IsolationForest

    from services.flow import train
    from services.flow.features import FEATURE_NAMES

    frame = train.frame_of(train.simulate_days(18, 42, True))
    rows = frame[frame["wait"].notna()]
    x = _frame(frame[FEATURE_NAMES].to_numpy(np.float32), FEATURE_NAMES)
    wait = train.LightGBMWait("l2", 42).fit(rows).estimator
    anomaly = IsolationForest(n_estimators=200, max_samples=512, random_state=42).fit(x)
    # /status answers every gate of a stadium at once: 12 rows for RABAT.
    sample = {"rows": [{n: float(v) for n, v in zip(FEATURE_NAMES, r)} for r in frame[FEATURE_NAMES].to_numpy()[:12]]}
    return {"wait": wait, "anomaly": anomaly}, FEATURE_NAMES, sample, "rows", \
        "LGBMRegressor(400) + IsolationForest(200) on 12 gate rows (flow's train.LightGBMWait, 18 days)"


BUILDERS = {"flow": _flow, "sales": _sales, "forecast": _forecast, "demand": _demand, "powerball": _powerball}


def build(service: str, version_dir: Path, out: Path) -> dict | None:
    """Fit and dump the native model(s); reuse them when out/spec.json is there for this version."""
    import joblib

    spec_path = out / "spec.json"
    if spec_path.exists():
        spec = json.loads(spec_path.read_text())
        if spec.get("version_dir") == str(version_dir):
            return spec
    if service not in BUILDERS:
        return None
    models, names, row, kind, description = BUILDERS[service](version_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, model in models.items():
        files[name] = f"{name}.joblib"
        joblib.dump(model, out / files[name])
    if isinstance(row, np.ndarray):
        body = {n: float(v) for n, v in zip(names, row)}
    elif kind == "rows":
        body = row
    else:
        body = {"white": dict(zip(names["white"], map(float, row["white"]))),
                "power": dict(zip(names["power"], map(float, row["power"])))}
    spec = {"service": service, "kind": kind, "files": files, "feature_names": names, "body": body,
            "description": description, "version_dir": str(version_dir)}
    spec_path.write_text(json.dumps(spec))
    return spec
