"""Train, evaluate and publish the attendance forecast.

    python -m services.forecast.train [--seed 42] [--limit N | --small] [--no-publish] [--output DIR]

Target: the fill rate (attendance / capacity), so a prediction scales with the stadium.
Models: RandomForest (the seed's, bounded) and gradient boosting, both scikit-learn, served as ONNX.
Baseline: capacity x the mean fill rate of that stage in the fitting data.
Intervals: split-conformal with rolling-origin calibration. Each of the latest tournaments of the
fitting data is predicted by a model fitted on the tournaments before it only; the absolute
fill-rate errors of those forecasts give the half-width at INTERVAL_LEVEL (finite-sample quantile).
The model served is the one with the lower error on those calibration forecasts (never the hold-out).

Hold-outs, never used for fitting, calibration or model choice:
- latest_tournaments: fit on World Cups 1930-2010; predict World Cup 2014 and AFCON 2025 (summary);
- afcon_last_matchday: fit on everything before 2025-12-29; predict AFCON's third group matchday
  (what an operator does during a tournament).
Hold-out matches see team statistics frozen at the end of their fitting data, as serving does.
"""
from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from services.common import evaluation as ev
from services.common.legacy_baselines import MeanByKey
from services.common.manifest import fingerprint_files
from services.common.training import build_dir, finish, progress_disabled, seed_everything, training_arguments

from . import dataset
from .features import FEATURE_NAMES, FEATURES, STAGE_ORDER, TIME_WORDS, feature_matrix, feature_row

SERVICE = "forecast"
INTERVAL_LEVEL = 0.90
CALIBRATION_GROUPS = 6
MODELS = ("random_forest", "gradient_boosting")
BASELINE = "stage_mean_fill_x_capacity"
AFCON_CUTOFF = pd.Timestamp("2025-12-29")
SMALL_LIMIT = 150


def make_model(name: str, seed: int):
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor

    if name == "random_forest":
        # Bounded on purpose (depth, leaf size): a small ONNX file and no memorised matches.
        return RandomForestRegressor(n_estimators=150, max_depth=8, min_samples_leaf=5, max_features=0.6,
                                     random_state=seed, n_jobs=1)
    if name == "gradient_boosting":
        return GradientBoostingRegressor(n_estimators=250, max_depth=3, learning_rate=0.05, subsample=0.8,
                                         min_samples_leaf=5, random_state=seed)
    raise ValueError(name)


def is_afcon(tournaments) -> np.ndarray:
    return np.asarray([str(t).startswith("AFCON") for t in tournaments])


@dataclass
class Design:
    x_fit: np.ndarray
    y_fit: np.ndarray
    x_eval: np.ndarray
    history: dataset.TeamHistory


def design(frame: pd.DataFrame, fit_mask: np.ndarray) -> Design:
    """Feature rows: fitting matches see earlier matches only; the others see the fitting data frozen."""
    fit = frame[fit_mask]
    rest = frame[~fit_mask]
    prior_fill, prior_points = dataset.priors(fit)
    before, history = dataset.build_history(fit, prior_fill, prior_points)

    def row(r, a, b):
        return feature_row(capacity=r.capacity, stage=r.stage, hour=r.hour, host_match=r.host_match,
                           afcon=str(r.tournament).startswith("AFCON"), team_a=a, team_b=b, year=r.year)

    x_fit = feature_matrix([row(r, a, b) for r, (a, b) in zip(fit.itertuples(), before)])
    x_eval = feature_matrix([row(r, history.stats(r.team_a), history.stats(r.team_b)) for r in rest.itertuples()])
    return Design(x_fit, fit["fill"].to_numpy(), x_eval, history)


def fit_predict(frame: pd.DataFrame, fit_mask: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Fill-rate predictions of each model and of the baseline for the matches outside fit_mask."""
    d = design(frame, fit_mask)
    out = {}
    for name in MODELS:
        out[name] = make_model(name, seed).fit(d.x_fit, d.y_fit).predict(d.x_eval)
    baseline = MeanByKey().fit(frame.loc[fit_mask, "stage"], d.y_fit)
    out[BASELINE] = baseline.predict(frame.loc[~fit_mask, "stage"])
    return out


def conformal_half_width(abs_errors: np.ndarray, level: float) -> float:
    """The ceil((n+1) level)-th smallest error: split-conformal's finite-sample quantile."""
    errors = np.sort(np.asarray(abs_errors, dtype=float))
    n = errors.size
    k = math.ceil((n + 1) * level)
    return float(errors[min(k, n) - 1]) if n else 1.0


def calibrate(frame: pd.DataFrame, seed: int, quiet: bool, label: str) -> dict[str, np.ndarray]:
    """Rolling-origin forecasts of the last CALIBRATION_GROUPS tournaments of `frame`:
    absolute fill-rate errors and attendance errors per model."""
    groups = list(dict.fromkeys(frame["group"]))
    targets = groups[-CALIBRATION_GROUPS:] if len(groups) > CALIBRATION_GROUPS else groups[1:]
    errors: dict[str, list] = {name: [] for name in (*MODELS, BASELINE)}
    att_errors: dict[str, list] = {name: [] for name in (*MODELS, BASELINE)}
    for group in tqdm(targets, desc=f"forecast: calibration ({label})", disable=quiet, file=sys.stderr):
        position = groups.index(group)
        sub = frame[frame["group"].isin(groups[:position + 1])]
        fit_mask = (sub["group"] != group).to_numpy()
        preds = fit_predict(sub, fit_mask, seed)
        actual = sub.loc[~fit_mask, "fill"].to_numpy()
        capacity = sub.loc[~fit_mask, "capacity"].to_numpy()
        for name, pred in preds.items():
            errors[name].append(np.abs(actual - np.clip(pred, 0, 1)))
            att_errors[name].append(np.abs(actual - np.clip(pred, 0, 1)) * capacity)
    return {"fill": {k: np.concatenate(v) for k, v in errors.items()},
            "attendance": {k: np.concatenate(v) for k, v in att_errors.items()},
            "groups": targets}


def scores(actual_att, capacity, fill_pred, half_width: float | None) -> dict[str, float]:
    fill_pred = np.clip(fill_pred, 0.0, 1.0)
    pred = fill_pred * capacity
    out = {"mae": ev.mae(actual_att, pred), "mape": ev.mape(actual_att, pred),
           "fill_mae": ev.mae(actual_att / capacity, fill_pred), "n": int(len(actual_att))}
    if half_width is not None:
        lower = np.clip(fill_pred - half_width, 0, 1) * capacity
        upper = np.clip(fill_pred + half_width, 0, 1) * capacity
        out.update(interval_level=INTERVAL_LEVEL, coverage=ev.coverage(actual_att, lower, upper),
                   half_width_fill=half_width, mean_interval_width=float(np.mean(upper - lower)))
    return out


def evaluate_split(frame: pd.DataFrame, fit_mask: np.ndarray, seed: int, quiet: bool, label: str,
                   parts: dict[str, np.ndarray] | None = None) -> tuple[dict, dict]:
    fit = frame[fit_mask]
    calib = calibrate(fit, seed, quiet, label)
    half = {name: conformal_half_width(calib["fill"][name], INTERVAL_LEVEL) for name in (*MODELS, BASELINE)}
    chosen = min(MODELS, key=lambda name: float(np.mean(calib["attendance"][name])))
    preds = fit_predict(frame, fit_mask, seed)
    test = frame[~fit_mask]
    actual, capacity = test["attendance"].to_numpy(), test["capacity"].to_numpy()
    groups = {label: {name: scores(actual, capacity, preds[name], half[name]) for name in preds}}
    for part, mask in (parts or {}).items():
        m = mask[~fit_mask]
        if not m.any():  # a small slice may lack a part
            continue
        groups[f"{label}:{part}"] = {name: scores(actual[m], capacity[m], preds[name][m], half[name])
                                     for name in preds}
    info = {"chosen": chosen, "calibration_groups": calib["groups"],
            "calibration_mae": {name: float(np.mean(v)) for name, v in calib["attendance"].items()}}
    return groups, info


def add_groups(frame: pd.DataFrame, afcon_split: bool = True) -> pd.DataFrame:
    """Tournament groups for rolling-origin calibration; AFCON is split at its matchdays."""
    frame = frame.copy()
    group = frame["tournament"].astype(str)
    afcon = is_afcon(group)
    if afcon_split:
        matchday = np.where(frame["kickoff"] < pd.Timestamp("2025-12-26"), 1,
                            np.where(frame["kickoff"] < AFCON_CUTOFF, 2, 3))
        group = np.where(afcon, [f"AFCON 2025 matchday {m}" for m in matchday], group)
    frame["group"] = group
    return frame


def evaluate(frame: pd.DataFrame, seed: int, quiet: bool) -> tuple[dict, str]:
    frame = add_groups(frame)
    afcon = is_afcon(frame["tournament"])
    latest_fit = ((frame["year"] < 2014) & ~afcon).to_numpy()
    latest, latest_info = evaluate_split(
        frame, latest_fit, seed, quiet, "latest_tournaments",
        parts={"world_cup_2014": (frame["year"] == 2014).to_numpy(), "afcon_2025": afcon})
    metrics: dict = {
        "holdout": {
            "latest_tournaments": {
                "fit": "World Cups 1930-2010", "test": "World Cup 2014 + AFCON 2025 group stage",
                "test_matches": int((~latest_fit).sum()), "fit_matches": int(latest_fit.sum())},
            "mape_unit": "percent", "mae_unit": "spectators", "interval_level": INTERVAL_LEVEL,
            "interval_method": "split-conformal, |fill error| of rolling-origin forecasts of the last "
                               f"{CALIBRATION_GROUPS} tournaments of the fitting data",
            "team_statistics": "hold-out matches see team statistics frozen at the end of the fitting data",
            "capacity_note": "World Cup capacity is a proxy (max attendance recorded at the stadium, all years)",
        },
        **latest,
    }
    selection = {"latest_tournaments": latest_info}
    day_fit = (frame["kickoff"] < AFCON_CUTOFF).to_numpy()
    if (~day_fit).sum() >= 2 and (afcon & day_fit).sum() >= 2:
        day, day_info = evaluate_split(frame, day_fit, seed, quiet, "afcon_last_matchday")
        metrics.update(day)
        metrics["holdout"]["afcon_last_matchday"] = {
            "fit": "everything before 2025-12-29 (World Cups + AFCON matchdays 1-2)",
            "test": "AFCON 2025 group matchday 3 (2025-12-29..31)", "test_matches": int((~day_fit).sum())}
        selection["afcon_last_matchday"] = day_info
    chosen = latest_info["chosen"]
    main = metrics["latest_tournaments"]
    metrics["selection"] = selection
    metrics["summary"] = ev.summary(
        model=chosen, baseline=BASELINE, metric="MAE", model_score=main[chosen]["mae"],
        baseline_score=main[BASELINE]["mae"],
        note=f"World Cup 2014 + AFCON 2025; {INTERVAL_LEVEL:.0%} interval covered "
             f"{main[chosen]['coverage']:.0%} of {main[chosen]['n']} matches")
    return metrics, chosen


def to_onnx(model, n_features: int) -> bytes:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    onx = convert_sklearn(model, initial_types=[("features", FloatTensorType([None, n_features]))],
                          target_opset={"": 17, "ai.onnx.ml": 3})
    # The converter names the graph with a random id; a fixed name makes the same seed give the same bytes.
    onx.graph.name = f"forecast_{type(model).__name__}"
    return onx.SerializeToString()


def onnx_predict(model_bytes: bytes, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x.astype(np.float32)})[0].ravel()


def onnx_parity(model, model_bytes: bytes, x: np.ndarray) -> float:
    """Largest |ONNX - scikit-learn| fill-rate difference on the given rows; refuses > 1e-4."""
    gap = float(np.max(np.abs(onnx_predict(model_bytes, x) - model.predict(x))))
    if gap > 1e-4:
        raise RuntimeError(f"ONNX model disagrees with scikit-learn by {gap:.2g} in fill rate")
    return gap


def fit_final(frame: pd.DataFrame, out: Path, seed: int, quiet: bool, chosen_hint: str | None) -> dict:
    """Refit on every match, calibrate the interval the same way, write model.onnx + tables.json."""
    frame = add_groups(frame)
    calib = calibrate(frame, seed, quiet, "final")
    chosen = min(MODELS, key=lambda name: float(np.mean(calib["attendance"][name])))
    half_width = conformal_half_width(calib["fill"][chosen], INTERVAL_LEVEL)
    fit_mask = np.ones(len(frame), dtype=bool)
    d = design(frame, fit_mask)
    model = make_model(chosen, seed).fit(d.x_fit, d.y_fit)
    model_bytes = to_onnx(model, d.x_fit.shape[1])
    gap = onnx_parity(model, model_bytes, d.x_fit)
    (out / "model.onnx").write_bytes(model_bytes)

    history = d.history
    teams = sorted(history.totals)
    stadiums = dataset.stadium_table(frame)
    stadium_aliases, city_stadiums = dataset.stadium_aliases(stadiums)
    tables = {
        "model": chosen,
        "feature_names": FEATURE_NAMES,
        "interval_level": INTERVAL_LEVEL,
        "half_width_fill": half_width,
        "default_year": int(frame["year"].max()),
        "time_words": TIME_WORDS,
        "stages": STAGE_ORDER,
        "neutral_team": history.neutral()._asdict(),
        "teams": {team: history.stats(team)._asdict() for team in teams},
        "team_aliases": dataset.team_aliases(teams),
        "stadiums": stadiums,
        "stadium_aliases": stadium_aliases,
        "city_stadiums": city_stadiums,
    }
    (out / "tables.json").write_text(json.dumps(tables, indent=1, sort_keys=False))
    return {"model": chosen, "half_width_fill": half_width, "onnx_max_abs_diff_fill": gap,
            "calibration_groups": calib["groups"],
            "calibration_mae": {name: float(np.mean(v)) for name, v in calib["attendance"].items()},
            "fit_matches": int(len(frame)), "evaluation_choice": chosen_hint}


def main(argv: list[str] | None = None) -> dict:
    parser = training_arguments(__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None,
                        help="keep only the first N matches of each source file (quick runs, tests)")
    args = parser.parse_args(argv)
    if getattr(args, "small", False) and args.limit is None:  # the kernel's --small: a quick slice
        args.limit = SMALL_LIMIT
    seed_everything(args.seed)
    quiet = progress_disabled(args.quiet)
    frame = dataset.load_matches(dataset.DATA_DIR, args.limit)
    print(f"forecast: {len(frame)} matches, {frame['tournament'].nunique()} tournaments, "
          f"{frame['stadium'].nunique()} stadiums", file=sys.stderr)
    metrics, chosen = evaluate(frame, args.seed, quiet)
    out = build_dir(args.output)
    final = fit_final(frame, out, args.seed, quiet, chosen)
    files = [dataset.DATA_DIR / name for name in dataset.DATA_FILES]
    manifest = finish(SERVICE, out, metrics=metrics,
                      features=[{"name": n, "type": t} for n, t in FEATURES],
                      data_fingerprint=fingerprint_files(*files),
                      libraries=["scikit-learn", "onnxruntime", "skl2onnx", "numpy", "pandas"],
                      store_uri=args.store_uri, publish=not args.no_publish,
                      extra={"training": {"seed": args.seed, "limit": args.limit, "target": "fill rate",
                                          "feature_names": FEATURE_NAMES, **final}})
    for group in ("latest_tournaments", "latest_tournaments:world_cup_2014", "latest_tournaments:afcon_2025",
                  "afcon_last_matchday"):
        for name, s in metrics.get(group, {}).items():
            cov = f" coverage {s['coverage']:.2f}" if "coverage" in s else ""
            print(f"  {group:<36} {name:<28} MAE {s['mae']:>8,.0f}  MAPE {s['mape']:6.1f}%{cov}", file=sys.stderr)
    print(metrics["summary"]["statement"], file=sys.stderr)
    print(f"serving {final['model']} (interval half-width {final['half_width_fill']:.3f} of capacity)",
          file=sys.stderr)
    return manifest


if __name__ == "__main__":
    main()
