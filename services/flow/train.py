"""Simulate match days under many regimes, choose the wait model and the anomaly detector on
held-out validation regimes, report both on held-out test regimes, publish.

    python -m services.flow.train [--days 144] [--seed 42] [--until YYYY-MM-DD] [--no-publish] [--small]

Split plan (grouped by regime, never by row), held out by factor: every day runs under one of 18
regimes (arrival curve x service-time distribution x staffing, services/flow/simulate.py). The six
late_rush regimes are the test (an arrival shape no fitting or validation day has); the six
door_counts regimes choose the wait model, the detector and its threshold, fitted on the six early
regimes only; the test fold is fitted on early and door-count days. The test takes no part in
fitting or choosing. Every target is checked on the mean over 5 simulator seeds of the held-out
days (`seed_study`), with the training seed's block interval beside it.

Wait: candidates (LightGBM, L2 and L1 objectives) beside two baselines a practitioner would use,
Little's law with the observed rate (queue / fans through per minute) and queue x processing time
/ open lanes; the headline ratio is against the baseline stronger on validation, with a bootstrap
interval over the held-out regimes.
Anomalies: four detectors, each threshold chosen on the validation days for the best recall
within 3 minutes at <= 0.4 false alarms per gate-hour (below the 0.5 target, room for unseen
regimes); a detector is stable when the most permissive threshold that resampled validation days
would choose still keeps it within the 0.5 target; the detector served is the simplest stable one
whose validation recall is within the bootstrap interval of the best stable one. Per-event test
metrics carry 95% intervals resampling whole days. The chosen wait model and the detector are
refit on every simulated day before publishing (the threshold stays as chosen).
"""
from __future__ import annotations

import hashlib
import json
import sys
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
from tqdm import tqdm

from services.common import evaluation as ev
from services.common.backtest import backtest, run
from services.common.drift import profile
from services.common.export import check_parity, onnx_bytes, run_onnx, write_json
from services.common.modeling import Regressor
from services.common.splits import TEST, VALIDATION, GroupedSplit
from services.common.training import build_dir, finish, progress_disabled, seed_everything, training_arguments

from . import evaluate as events
from . import fifo
from .features import ANOMALY_FEATURES, ANOMALY_INDEX, FEATURE_NAMES, FEATURES, Reading, feature_matrix, \
    windows_from_series
from .model import DETECTORS, IsolationForestScorer, event_rule, ratio_rule
from .monitoring import FEATURES as SERVED_FEATURES
from .simulate import DOOR_COUNTS, REGIMES, door_count_days, simulate_day
from .stadiums import STADIUMS_PATH, load_stadiums

SERVICE = "flow"
GATES_PER_DAY = 3
WAIT_STATES = {"green_below": 5.0, "red_above": 10.0}
LIBRARIES = ["lightgbm", "scikit-learn", "onnxmltools", "skl2onnx", "onnxruntime", "simpy"]
# Held out by factor: no fitting day has a late rush (the test's arrival shape) and the validation
# fold fits on early arrivals only, so it chooses on an arrival shape (door counts) its fit never saw.
TEST_REGIMES = tuple(r for r in REGIMES if r.startswith("late_rush/"))
VALIDATION_REGIMES = tuple(r for r in REGIMES if r.startswith("door_counts/"))
FIT_REGIMES = tuple(r for r in REGIMES if r not in TEST_REGIMES + VALIDATION_REGIMES)
SEEDS = (42, 7, 123, 1, 2)   # simulator seeds of the held-out days and tree seeds of the wait model (>= 5)
FA_BUDGET = 0.4           # false alarms per gate-hour allowed on validation when choosing a threshold
TARGETS = {"wait_ratio_to_better_baseline": 0.8, "recall_3min": 0.9, "false_alarms_per_gate_hour": 0.5}
FIFO_CHECK_DAYS = 15      # the second engine's check part: 3 days of each of its 5 unseen factor combinations


def ts_ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def role_of(regime: str) -> str:
    return "test" if regime in TEST_REGIMES else "validation" if regime in VALIDATION_REGIMES else "train"


START = datetime(2025, 12, 21, 14, 0, tzinfo=timezone.utc)   # day k's gates open at START + k days


def day_date(k: int) -> str:
    return (START + timedelta(days=k)).date().isoformat()


def simulate_days(n_days: int, seed: int, quiet: bool, roles: tuple[str, ...] = ("train", "validation", "test"),
                  first: int = 0, keep_rows: bool = False, novel: bool = False) -> list[dict]:
    """Day k runs under regime k mod 18, so a seed reproduces the plan and every regime gets days.
    `roles`: only the days of these roles (the seed study re-simulates the held-out days only);
    `first`: the plan's days from day `first` on (services/flow/fresh.py writes the days after training)."""
    stadiums = list(load_stadiums().values())
    doors = door_count_days()
    cut = int(len(doors) * 0.7)            # door-count days: the first 70% for fitting/validation, the rest test
    start = START
    days = []
    for k in tqdm(range(first, first + n_days), desc="flow: simulating match days", disable=quiet, file=sys.stderr):
        regime = REGIMES[k % len(REGIMES)]
        role = role_of(regime)
        if role not in roles:
            continue
        rng = np.random.default_rng([seed, k])
        stadium = stadiums[int(rng.integers(len(stadiums)))]
        gates = sorted(rng.choice(stadium.gate_ids, size=min(GATES_PER_DAY, len(stadium.gates)), replace=False),
                       key=lambda g: int(g[1:]))
        rows = simulate_day(stadium, int(rng.integers(2**31)), start + timedelta(days=k), list(gates), True,
                            day_label=k, regime=regime, door_days=doors[cut:] if role == "test" else doors[:cut],
                            novel=novel)
        days.append({"k": k, "role": role, "regime": regime, "stadium": stadium.id, "gates": gate_tables(rows),
                     **({"rows": rows} if keep_rows else {})})
    return days


def fifo_days(n_days: int, seed: int, part: str) -> list[dict]:
    """Days of the second queue engine (services/flow/fifo.py) as `simulate_days` gives them: the fit
    part joins every wait fit (role train, never validation or test); the check part is scored in the
    seed study only. Day numbers start at 100000, apart from the plan's."""
    return [{"k": 100_000 + d["k"], "role": "train", "regime": d["regime"], "stadium": d["stadium"],
             "engine": "fifo", "gates": gate_tables(d["rows"])} for d in fifo.simulate(n_days, seed, part)]


def gate_tables(rows: list[dict]) -> list[dict]:
    """Per gate: feature rows through the serving feature function, with the truth columns."""
    by_gate: dict[str, list[dict]] = {}
    for row in rows:
        by_gate.setdefault(row["gateId"], []).append(row)
    out = []
    for gate, rs in by_gate.items():
        series = [Reading(ts_ms(r["ts"]), r["perMinuteCount"], r["avgProcessingTime"], r["queueLength"],
                          r["openLanes"]) for r in rs]
        out.append({"gate": gate, "x": feature_matrix(windows_from_series(series)),
                    "wait": np.array([np.nan if r["true_wait"] is None else r["true_wait"] for r in rs]),
                    "label": np.array([r["anomaly"] for r in rs], dtype=int),
                    "onset": np.array([np.nan if r["anomaly_onset"] is None else r["anomaly_onset"] for r in rs])})
    return out


def frame_of(days: list[dict]) -> pd.DataFrame:
    """One row per reading: the serving features, truth, day, regime and the split group.

    The split group is the regime for fitting regimes and one group each for all validation and
    all test regimes, so the plan has one validation and one test fold (fitted on everything that
    is not held out: a fold per regime would cost a LightGBM fit each, beyond the time budget)."""
    parts = []
    for d in days:
        for g in d["gates"]:
            part = pd.DataFrame(g["x"], columns=FEATURE_NAMES)
            part["wait"] = g["wait"]
            part["label"] = g["label"]
            part["onset"] = g["onset"]
            part["onset_label"] = onset_labels(g)
            part["minute"] = np.arange(1, len(part) + 1)
            part["gate_day"] = f"{d['k']}/{g['gate']}"
            part["day"] = d["k"]
            part["regime"] = d["regime"]
            part["split"] = d["regime"] if d["role"] == "train" else d["role"]
            part["engine"] = d.get("engine", "simpy")
            parts.append(part)
    return pd.concat(parts, ignore_index=True)


PLAN = GroupedSplit(group="split", validation=(VALIDATION,), test=(TEST,))


# ---- wait: baselines and candidates on the kernel's interface ----

BASELINE_COLUMNS = {"littles_law_observed_rate": "throughput_wait",
                    "queue_x_processing_over_lanes": "little_wait_smooth"}   # served as a feature column


class LittlesLawObservedRate:
    """Little's law with the observed rate: queue / mean fans through per minute in the window."""
    name = "littles_law_observed_rate"

    def fit(self, frame):
        return self

    def predict(self, frame):
        return frame[BASELINE_COLUMNS[self.name]].to_numpy(float)


class QueueTimesProcessing:
    """queue x processing time / open lanes, the processing time count-weighted over the window."""
    name = "queue_x_processing_over_lanes"

    def fit(self, frame):
        return self

    def predict(self, frame):
        return frame[BASELINE_COLUMNS[self.name]].to_numpy(float)


class LightGBMWait(Regressor):
    """LightGBM on the serving features; waits are never negative. `one_engine`: fitted on the SimPy
    simulator's days only (the model before issue 26's mix of queue engines), for the comparison."""

    def __init__(self, objective: str, seed: int, n_estimators: int = 400, one_engine: bool = False):
        import lightgbm as lgb

        self.objective, self.seed, self.n_estimators, self.one_engine = objective, seed, n_estimators, one_engine
        super().__init__(f"lightgbm_{objective}" + ("_one_engine" if one_engine else ""), lgb.LGBMRegressor(
            n_estimators=n_estimators, learning_rate=0.05, num_leaves=31, min_child_samples=20, subsample=0.8,
            subsample_freq=1, colsample_bytree=0.9, objective=objective, random_state=seed, n_jobs=1,
            deterministic=True, force_row_wise=True, verbose=-1), FEATURE_NAMES, target="wait")

    def fit(self, frame):
        return super().fit(frame[frame["engine"] == "simpy"] if self.one_engine else frame)

    def predict(self, frame):
        return np.maximum(super().predict(frame), 0.0)


def wait_scores() -> dict:
    return {"mae": ev.mae, "rmse": ev.rmse}


def evaluate_wait(frame: pd.DataFrame, seed: int, n_estimators: int, quiet: bool = True,
                  seeds: tuple[int, ...] = ()):
    """The kernel's flow: backtest, choose on the validation regimes, test on the held-out ones, refit.

    The headline divides by the baseline that was strongest on validation (not the one best on the
    test rows), with a bootstrap interval resampling whole held-out regimes; `seeds`: the chosen
    LightGBM refitted with each tree seed on the test fold."""
    rows = frame[frame["wait"].notna()].reset_index(drop=True)
    baselines = [LittlesLawObservedRate(), QueueTimesProcessing()]
    candidates = [LightGBMWait("l2", seed, n_estimators), LightGBMWait("l1", seed, n_estimators),
                  LightGBMWait("l1", seed, n_estimators, one_engine=True)]
    outcome = run(rows, PLAN, candidates=candidates, baselines=baselines, metrics=wait_scores(), metric="mae",
                  target="wait", carry=["regime", "day"], quiet=quiet, label="flow: wait backtest", block="regime",
                  seeds=seeds, note=f"{len(TEST_REGIMES)} held-out regimes; interval over whole regimes")
    outcome.summary = headline_summary(outcome)
    test_rows = outcome.table[outcome.table["role"] == TEST]
    table = wait_table(test_rows, outcome.choice.chosen, outcome.summary["baseline"], [m.name for m in baselines])
    return outcome, table


def headline_summary(outcome) -> dict:
    """The chosen model against the baseline strongest on validation, on the test rows, with the
    regime-block interval (the kernel's summary divides by the best baseline on the test rows)."""
    choice, strongest = outcome.choice, outcome.choice.strongest_baseline
    if choice.chosen == strongest:    # the baseline itself is served: compare it with the other one
        strongest = next(b for b in choice.baselines if b != choice.chosen)
    return ev.summary(model=choice.chosen, baseline=strongest, metric="mae",
                      model_score=outcome.test[choice.chosen]["mae"], baseline_score=outcome.test[strongest]["mae"],
                      interval=outcome.interval(strongest),
                      note=f"{len(TEST_REGIMES)} held-out regimes (arrival shape late_rush, unseen in fitting); "
                           "baseline = the stronger of the two on validation")


def wait_table(test_rows: pd.DataFrame, chosen: str, divisor: str, names: list[str]) -> dict:
    """MAE per held-out regime (and pooled) of the chosen model and both baselines; the ratio is to
    the headline's divisor (the baseline strongest on validation)."""
    table = {}
    for group, part in [("all held-out regimes", test_rows)] + [(r, test_rows[test_rows["regime"] == r])
                                                                for r in TEST_REGIMES]:
        if part.empty:
            continue
        maes = {m: ev.mae(g["actual"], g["prediction"]) for m, g in part.groupby("model")}
        row = {f"{m}_mae": maes[m] for m in dict.fromkeys([chosen, *names])}
        row["model_mae_ratio_to_strongest_baseline"] = maes[chosen] / maes[divisor]
        row["rows"] = int((part["model"] == chosen).sum())
        table[group] = row
    return table


# ---- anomalies: detectors on the same interface (fit on a frame, a score per row) ----

class RuleDetector:
    def __init__(self, name: str):
        self.name = name

    def fit(self, frame):
        return self

    def predict(self, frame):
        x = frame[FEATURE_NAMES].to_numpy(np.float32)
        return ratio_rule(x) if self.name == "ratio_rule" else event_rule(x)


class ForestDetector:
    """IsolationForest on the normal readings of the fitting rows, scored as serving scores it."""
    name = "isolation_forest"

    def __init__(self, seed: int):
        self.seed = seed

    def fit(self, frame):
        from sklearn.ensemble import IsolationForest

        x = frame.loc[frame["label"] == 0, ANOMALY_FEATURES].to_numpy(np.float32)
        forest = IsolationForest(n_estimators=100, max_samples=512, random_state=self.seed).fit(x)
        self.doc = forest_to_json(forest, len(ANOMALY_INDEX))
        probe = x[: min(len(x), 2000)]
        if np.max(np.abs(-forest.decision_function(probe) - IsolationForestScorer(self.doc).score(probe))) > 1e-6:
            raise RuntimeError("exported IsolationForest disagrees with scikit-learn")
        return self

    def predict(self, frame):
        return IsolationForestScorer(self.doc).score(frame[ANOMALY_FEATURES].to_numpy(np.float32))


class ClassifierDetector:
    """LightGBM on the first minutes of labelled events, scored through its ONNX graph."""
    name = "lightgbm_classifier"

    def __init__(self, seed: int):
        self.seed = seed

    def fit(self, frame):
        import lightgbm as lgb

        x = frame[ANOMALY_FEATURES].to_numpy(np.float32)
        self.estimator = lgb.LGBMClassifier(
            n_estimators=200, learning_rate=0.05, num_leaves=15, min_child_samples=50, subsample=0.8,
            subsample_freq=1, random_state=self.seed, n_jobs=1, deterministic=True, force_row_wise=True,
            verbose=-1).fit(x, frame["onset_label"].to_numpy(int))
        self.onnx = onnx_bytes(self.estimator, len(ANOMALY_FEATURES), "flow_anomaly")
        check_parity(self.onnx, x[:2000], self.estimator.predict_proba(x[:2000])[:, 1],
                     output=1, transform=lambda p: p[:, 1], label="flow anomaly classifier")
        return self

    def predict(self, frame):
        return run_onnx(self.onnx, frame[ANOMALY_FEATURES].to_numpy(np.float32), output=1)[:, 1]


def onset_labels(g: dict) -> np.ndarray:
    """The classifier learns an event's first minutes, the ones an operator needs flagged."""
    minutes = np.arange(1, len(g["label"]) + 1)
    return ((g["label"] == 1) & (minutes - np.nan_to_num(g["onset"], nan=1e9) <= 6)).astype(int)


def forest_to_json(forest, n_features: int) -> dict:
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


def detector_days(frame: pd.DataFrame, table: pd.DataFrame, role: str, name: str) -> list[list[dict]]:
    """A detector's backtest scores of one role, regrouped as days of gate series (minute order)."""
    part = table[(table["role"] == role) & (table["model"] == name)]
    return gate_days(frame.loc[part["row"].to_numpy()], pd.Series(part["prediction"].to_numpy(),
                                                                    index=part["row"].to_numpy()))


def gate_days(rows: pd.DataFrame, scores: pd.Series) -> list[list[dict]]:
    """Rows and their scores (same index) as days of gate series in minute order, what event_table reads."""
    days = []
    for _, day in rows.groupby("day", sort=True):
        gates = []
        for _, g in day.groupby("gate_day", sort=True):
            g = g.sort_values("minute")
            gates.append({"score": scores.loc[g.index].to_numpy(), "onset": g["onset"].to_numpy(),
                          "label": g["label"].to_numpy()})
        days.append(gates)
    return days


def event_table(days: list[list[dict]], thresholds: np.ndarray) -> dict[str, np.ndarray]:
    """Per threshold and day: events caught within 3 min, events, false alarms, gate-hours."""
    caught = np.zeros((len(thresholds), len(days)))
    false = np.zeros((len(thresholds), len(days)))
    n_events, hours = np.zeros(len(days)), np.zeros(len(days))
    for j, gates in enumerate(days):
        for g in gates:
            hours[j] += len(g["score"]) / 60.0
            n_events[j] += len(events.gate_events(g["onset"], g["label"]))
            for i, t in enumerate(thresholds):
                part = events.score_gate(g["score"] >= t, g["onset"], g["label"])
                caught[i, j] += sum(part["caught"])
                false[i, j] += part["false_alarms"]
    return {"caught": caught, "false": false, "events": n_events, "hours": hours}


def candidate_thresholds(days: list[list[dict]]) -> np.ndarray:
    """The thresholds a detector's validation scores are searched over: their upper quantiles."""
    pooled = np.concatenate([g["score"] for d in days for g in d])
    return np.unique(np.quantile(pooled, np.linspace(0.80, 0.9995, 100)))


def pick_threshold(table: dict, idx: np.ndarray | None = None) -> int | None:
    idx = np.arange(table["events"].size) if idx is None else idx
    recall = table["caught"][:, idx].sum(1) / max(table["events"][idx].sum(), 1)
    fa = table["false"][:, idx].sum(1) / table["hours"][idx].sum()
    ok = np.flatnonzero(fa <= FA_BUDGET)
    if not ok.size:
        return None
    return int(ok[np.lexsort((fa[ok], -recall[ok]))[0]])  # best recall, then fewest false alarms


def make_detectors(seed: int) -> list:
    return [RuleDetector("ratio_rule"), RuleDetector("event_rule"), ForestDetector(seed), ClassifierDetector(seed)]


def evaluate_anomaly(frame: pd.DataFrame, seed: int, quiet: bool = True):
    """Backtest the detectors on the same plan; thresholds and the choice from validation only."""
    detectors = make_detectors(seed)
    assert [d.name for d in detectors] == list(DETECTORS)
    table = backtest(detectors, frame, PLAN, target="onset_label", quiet=quiet, label="flow: detector backtest")
    rng = np.random.default_rng(seed)
    validation, chosen_thr = {}, {}
    for name in DETECTORS:
        days = detector_days(frame, table, VALIDATION, name)
        thresholds = candidate_thresholds(days)
        counts = event_table(days, thresholds)
        i = pick_threshold(counts)
        if i is None:
            validation[name] = {"recall_3min": 0.0, "meets_false_alarm_budget": False}
            continue
        boot_recall, boot_thr = [], []
        for _ in range(300):   # how stable are the threshold and the recall behind the choice?
            idx = rng.integers(len(days), size=len(days))
            boot_recall.append(counts["caught"][i, idx].sum() / max(counts["events"][idx].sum(), 1))
            j = pick_threshold(counts, idx)
            if j is not None:
                boot_thr.append(thresholds[j])
        lo, hi = np.quantile(boot_recall, [0.025, 0.975])
        # stable: at the most permissive threshold a resample of validation days would choose (its 5th
        # percentile), the detector still meets the false-alarm target on all validation days
        p05 = float(np.quantile(boot_thr, 0.05)) if boot_thr else float(thresholds[i])
        k = int(np.argmin(np.abs(thresholds - p05)))
        fa_p05 = float(counts["false"][k].sum() / counts["hours"].sum())
        validation[name] = {
            "threshold": float(thresholds[i]),
            "recall_3min": float(counts["caught"][i].sum() / counts["events"].sum()),
            "recall_3min_ci95_lo": float(lo), "recall_3min_ci95_hi": float(hi),
            "false_alarms_per_gate_hour": float(counts["false"][i].sum() / counts["hours"].sum()),
            "threshold_bootstrap_p05": float(np.quantile(boot_thr, 0.05)) if boot_thr else None,
            "threshold_bootstrap_p95": float(np.quantile(boot_thr, 0.95)) if boot_thr else None,
            "false_alarms_at_threshold_p05": fa_p05,
            "threshold_stable": fa_p05 <= TARGETS["false_alarms_per_gate_hour"],
            "events": int(counts["events"].sum()), "days": len(days), "meets_false_alarm_budget": True}
        chosen_thr[name] = float(thresholds[i])
    usable = [n for n in DETECTORS if validation[n]["meets_false_alarm_budget"]]
    if not usable:
        raise RuntimeError(f"no detector reaches {FA_BUDGET} false alarms per gate-hour on validation days")
    stable = [n for n in usable if validation[n]["threshold_stable"]] or usable   # none stable: say so below
    best = max(stable, key=lambda n: validation[n]["recall_3min"])
    served = next(n for n in stable if validation[n]["recall_3min"] >= validation[best]["recall_3min_ci95_lo"])
    test = {}
    for name in usable:
        parts = [events.by_day([[events.score_gate(g["score"] >= chosen_thr[name], g["onset"], g["label"])
                                 for g in gates]])[0] for gates in detector_days(frame, table, TEST, name)]
        m = events.with_intervals(parts, seed)
        test[name] = {"recall_3min": m["recall_3min"], "recall_3min_ci95_lo": m["recall_3min_ci95"][0],
                      "recall_3min_ci95_hi": m["recall_3min_ci95"][1], "median_delay_min": m["median_delay_min"],
                      "median_delay_ci95_lo": m["median_delay_min_ci95"][0],
                      "median_delay_ci95_hi": m["median_delay_min_ci95"][1],
                      "false_alarms_per_gate_hour": m["false_alarms_per_gate_hour"],
                      "false_alarms_ci95_lo": m["false_alarms_per_gate_hour_ci95"][0],
                      "false_alarms_ci95_hi": m["false_alarms_per_gate_hour_ci95"][1],
                      "events": m["events"], "gate_hours": m["gate_hours"], "days": m["days"]}
    final = next(d for d in detectors if d.name == served).fit(frame)   # refit on every day, as the wait model
    doc = {"validation": validation, "best_on_validation": best, "served": served, "test": test}
    return doc, served, chosen_thr[served], final


def detect(detector, threshold: float, part: pd.DataFrame) -> dict:
    """A fitted detector at its threshold on a frame of days, scored per event (pooled)."""
    scores = pd.Series(np.asarray(detector.predict(part), dtype=float), index=part.index)
    parts = []
    for _, day in part.groupby("day", sort=True):
        parts.append([events.score_gate((scores.loc[g.index] >= threshold).to_numpy(), g["onset"].to_numpy(),
                                        g["label"].to_numpy())
                      for _, g in day.sort_values("minute").groupby("gate_day", sort=True)])
    return events.pool(events.by_day(parts))


def trained_on_novel(frame: pd.DataFrame, seed: int, served: str, threshold: float, n_days: int,
                     quiet: bool) -> dict:
    """Issue 26's unseen mechanism asked the other way: would a detector *trained* on slow_scanner
    faults catch them within 3 minutes? The classifier is refitted on the fit days plus slow_scanner
    fit days, its threshold chosen as every detector's is (best recall within 3 min at <= FA_BUDGET
    false alarms per gate-hour) on the validation days plus slow_scanner validation days, and scored on
    those slow_scanner days beside the served detector at its frozen threshold (both fitted on the fit
    days, as in the validation fold). Never a test day, and a diagnostic only: nothing served is fitted
    or chosen on these days."""
    days = simulate_days(n_days, seed, quiet, roles=("train", "validation"), novel=True)
    novel = frame_of([{**d, "k": 200_000 + d["k"]} for d in days])
    regular_fit = frame[~frame["split"].isin([VALIDATION, TEST])]
    regular_val, novel_val = frame[frame["split"] == VALIDATION], novel[novel["split"] == VALIDATION]
    trained = ClassifierDetector(seed).fit(pd.concat([regular_fit, novel[novel["split"] != VALIDATION]]))
    as_served = next(d for d in make_detectors(seed) if d.name == served).fit(regular_fit)
    val = pd.concat([regular_val, novel_val], ignore_index=True)
    val_days = gate_days(val, pd.Series(np.asarray(trained.predict(val), dtype=float), index=val.index))
    thresholds = candidate_thresholds(val_days)
    i = pick_threshold(event_table(val_days, thresholds))
    out = {}
    for name, detector, at in [(f"{served} (served, not trained on it)", as_served, threshold),
                               ("lightgbm_classifier trained on slow_scanner", trained,
                                None if i is None else float(thresholds[i]))]:
        if at is None:
            out[name] = {"meets_false_alarm_budget": False}
            continue
        on_novel = detect(detector, at, novel_val)
        out[name] = {"threshold": at, "recall_3min": on_novel["recall_3min"], "recall_any": on_novel["recall_any"],
                     "median_delay_min": finite(on_novel["median_delay_min"]), "events": on_novel["events"],
                     "regular_recall_3min": detect(detector, at, regular_val)["recall_3min"],
                     "false_alarms_per_gate_hour": detect(detector, at, val)["false_alarms_per_gate_hour"],
                     "slow_scanner_days": int(novel_val["day"].nunique()),
                     "slow_scanner_fit_days": int(novel.loc[novel["split"] != VALIDATION, "day"].nunique())}
    return out


def finite(value: float) -> float | None:
    """A median delay is NaN when nothing was flagged; the manifest says None (JSON has no NaN)."""
    return float(value) if np.isfinite(value) else None


def novel_statement(rows: dict) -> str:
    trained = rows["lightgbm_classifier trained on slow_scanner"]
    if not trained.get("meets_false_alarm_budget", True):
        return f"no threshold within {FA_BUDGET} false alarms per gate-hour on validation"
    delay = "none flagged" if trained["median_delay_min"] is None else f"{ev.precise(trained['median_delay_min'])} min"
    return (f"recall within 3 min {ev.precise(trained['recall_3min'])}, at any time "
            f"{ev.precise(trained['recall_any'])}, median delay {delay} on "
            f"{trained['slow_scanner_days']} validation days of slow_scanner faults ("
            + ("below the 3-minute target even when trained on the fault)" if trained["recall_3min"] < TARGETS["recall_3min"]
               else "the 3-minute target is reachable when trained on the fault)"))


def ratio_by_regime(err: np.ndarray, base_err: np.ndarray, regime: pd.Series, names) -> dict[str, float]:
    """The model's MAE over the baseline's on each named regime's rows (regimes without rows left out)."""
    labels = regime.to_numpy()
    return {r: float(err[labels == r].sum() / base_err[labels == r].sum()) for r in names if (labels == r).any()}


def seed_study(frame: pd.DataFrame, test_days: list[dict], outcome, detector_name: str, threshold: float,
               seeds: tuple[int, ...], n_days: int, quiet: bool) -> dict:
    """The held-out days re-simulated with each simulator seed (the first is the training seed's own
    test days), scored by the models the test fold fitted (the chosen wait model and the served
    detector at its frozen threshold, fitted on the non-test days of the training seed). Per seed:
    the wait ratio to the headline's baseline (pooled and per regime), recall within 3 minutes and
    false alarms per gate-hour; the mean over seeds is the figure a target is checked on."""
    from services.common.modeling import fresh

    fit = frame[frame["split"] != TEST]
    chosen, divisor = outcome.choice.chosen, outcome.summary["baseline"]
    fit_rows = fit[fit["wait"].notna()].reset_index(drop=True)
    wait_model = fresh(outcome.model).fit(fit_rows)
    detector = next(d for d in make_detectors(seeds[0]) if d.name == detector_name).fit(fit[fit["engine"] == "simpy"])
    # the second engine's check part: the chosen model beside the same model fitted with (or without)
    # the second engine's fit days, so the effect of the mix is measured, not assumed
    counterpart = None
    if isinstance(wait_model, LightGBMWait):
        counterpart = LightGBMWait(wait_model.objective, wait_model.seed, wait_model.n_estimators,
                                   one_engine=not wait_model.one_engine).fit(fit_rows)
    baselines = {b.name: b for b in (LittlesLawObservedRate(), QueueTimesProcessing())}
    per_seed: dict[int, dict] = {}
    for s in seeds:
        # the other seeds re-simulate the first half of the plan's held-out days (the time budget)
        days = test_days if s == seeds[0] else simulate_days(max(n_days // 2, len(REGIMES)), s, quiet, roles=("test",))
        part = frame_of(days)
        rows = part[part["wait"].notna()]
        truth = rows["wait"].to_numpy(float)
        err = np.abs(wait_model.predict(rows) - truth)
        base_err = np.abs(baselines[divisor].predict(rows) - truth) if divisor in baselines else None
        regimes = ratio_by_regime(err, base_err, rows["regime"], TEST_REGIMES)
        pooled = detect(detector, threshold, part)
        novel = detect(detector, threshold, frame_of(simulate_days(len(REGIMES), s, quiet, roles=("test",),
                                                                   novel=True)))
        check = frame_of(fifo_days(FIFO_CHECK_DAYS, s, "check"))
        check = check[check["wait"].notna()]
        check_truth = check["wait"].to_numpy(float)
        check_err = np.abs(wait_model.predict(check) - check_truth)
        check_base = np.abs(baselines[divisor].predict(check) - check_truth)
        fifo_by = ratio_by_regime(check_err, check_base, check["regime"], dict.fromkeys(check["regime"]))
        if s == seeds[0]:
            fifo_interval = ev.bootstrap_ratio(check_err, check_base, check["day"].to_numpy(), seed=s)
        per_seed[s] = {"wait_ratio": float(err.sum() / base_err.sum()), "wait_mae": float(err.mean()),
                       "novel_recall_any": novel["recall_any"],
                       "novel_median_delay_min": finite(novel["median_delay_min"]),
                       "baseline_mae": float(base_err.mean()), "wait_ratio_by_regime": regimes,
                       "recall_3min": pooled["recall_3min"],
                       "false_alarms_per_gate_hour": pooled["false_alarms_per_gate_hour"],
                       "events": pooled["events"], "gate_hours": pooled["gate_hours"], "days": len(days),
                       "novel_recall_3min": novel["recall_3min"], "novel_events": novel["events"],
                       "novel_false_alarms_per_gate_hour": novel["false_alarms_per_gate_hour"],
                       "fifo_ratio": float(check_err.sum() / check_base.sum()), "fifo_mae": float(check_err.mean()),
                       "fifo_baseline_mae": float(check_base.mean()), "fifo_ratio_by_regime": fifo_by}
        if counterpart is not None:
            counterpart_err = np.abs(counterpart.predict(check) - check_truth)
            per_seed[s]["fifo_counterpart_ratio"] = float(counterpart_err.sum() / check_base.sum())
            per_seed[s]["fifo_counterpart_mae"] = float(counterpart_err.mean())
    out = {"seeds": list(seeds), "per_seed": {str(k): v for k, v in per_seed.items()},
           "wait_model": chosen, "baseline": divisor, "detector": detector_name, "threshold": threshold,
           "note": "held-out (late_rush) days simulated with each seed (the training seed's own, then half as many "
                   "per other seed); models fitted once on the training "
                   "seed's non-test days (the test fold's fit); tree-seed spread in metrics.seeds"}
    out["novel_note"] = ("slow_scanner only (services/flow/simulate.py plan_day novel=True): processing time "
                         "rising to 2-3x over 10-20 min, a mechanism no detector was written around or trained "
                         "on; the held-out days of the plan's first 18, per seed")
    out["fifo_note"] = (f"the second queue engine (services/flow/fifo.py), its check part: {FIFO_CHECK_DAYS} days per "
                        "seed of the factor combinations its fit part never has "
                        f"({', '.join('/'.join(c) for c in fifo.PARTS['check'])}), scored by the test fold's "
                        "models; no choice looks at it")
    out["fifo_interval"] = fifo_interval
    out["fifo_counterpart"] = counterpart.name if counterpart is not None else None
    for key in ("wait_ratio", "recall_3min", "false_alarms_per_gate_hour", "novel_recall_3min", "novel_recall_any",
                "novel_false_alarms_per_gate_hour", "fifo_ratio", "fifo_mae", "fifo_baseline_mae"):
        out[key] = ev.seed_spread({k: v[key] for k, v in per_seed.items()})
    if counterpart is not None:
        for key in ("fifo_counterpart_ratio", "fifo_counterpart_mae"):
            out[key] = ev.seed_spread({k: v[key] for k, v in per_seed.items()})
    out["fifo_ratio_by_regime"] = {r: ev.seed_spread({k: v["fifo_ratio_by_regime"][r] for k, v in per_seed.items()})
                                   for r in per_seed[seeds[0]]["fifo_ratio_by_regime"]}
    out["wait_ratio_by_regime"] = {r: ev.seed_spread({k: v["wait_ratio_by_regime"][r] for k, v in per_seed.items()})
                                   for r in TEST_REGIMES if all(r in v["wait_ratio_by_regime"] for v in per_seed.values())}
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = training_arguments(__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=144, help="simulated match days (default 144: 8 per regime)")
    args = parser.parse_args(argv)
    n_estimators = 400
    if args.small:  # the kernel's quick slice for tests and smoke runs: metrics are not comparable
        args.days, n_estimators = 36, 150
    if args.until is not None:   # simulated days are dated (day k: START + k days); keep those up to --until
        args.days = min(args.days, (args.until - START.date()).days + 1)
    if args.days < len(REGIMES):
        parser.error(f"--days (after --until) must be at least {len(REGIMES)} (one day per regime)")
    seeds = tuple(dict.fromkeys([args.seed, *SEEDS]))[:len(SEEDS)]
    seed_everything(args.seed)
    quiet = progress_disabled(args.quiet)
    days = simulate_days(args.days, args.seed, quiet)
    fifo_fit = fifo_days(args.days // 3, args.seed, "fit")   # a third as many days again, of the second engine
    frame = frame_of(days + fifo_fit)
    print(f"flow: {len(frame)} simulated readings over {len(days)} days and {len(fifo_fit)} days of the second "
          "queue engine", file=sys.stderr)
    outcome, wait_test = evaluate_wait(frame, args.seed, n_estimators, quiet, seeds=seeds)
    # the anomaly half sees the SimPy simulator's days only: the second engine has no labelled events
    anomaly, served, threshold, detector = evaluate_anomaly(
        frame[frame["engine"] == "simpy"].reset_index(drop=True), args.seed, quiet)
    study = seed_study(frame, [d for d in days if d["role"] == "test"], outcome, served, threshold, seeds,
                       args.days, quiet)
    novel_trained = trained_on_novel(frame[frame["engine"] == "simpy"].reset_index(drop=True), args.seed, served,
                                     threshold, args.days, quiet)

    out = build_dir(args.output)
    final = outcome.model                       # the chosen model, refit on every reading: the one served
    if isinstance(final, LightGBMWait):
        wait_bytes = onnx_bytes(final.estimator, len(FEATURE_NAMES), "flow_wait")
        probe = frame[frame["wait"].notna()].iloc[::7]
        check_parity(wait_bytes, final.matrix(probe), final.estimator.predict(final.matrix(probe)), label="flow wait")
        (out / "wait.onnx").write_bytes(wait_bytes)
    if served == "isolation_forest":
        write_json(out / "flow_anomaly.json", detector.doc)
    elif served == "lightgbm_classifier":
        (out / "anomaly.onnx").write_bytes(detector.onnx)
    write_json(out / "flow.json", {
        "feature_names": FEATURE_NAMES, "anomaly_features": ANOMALY_FEATURES,
        "wait_model": final.name, "wait_column": BASELINE_COLUMNS.get(final.name),
        "anomaly_method": served, "anomaly_threshold": threshold,
        "anomaly_score": f"{served} score; >= threshold flags an anomaly (see services/flow/model.py)",
        **WAIT_STATES}, indent=1)

    summary = outcome.summary
    interval = summary.get("ratio_interval")
    a = anomaly["test"][served]
    day_interval = lambda lo, hi: {"low": lo, "high": hi, "level": 0.95}   # noqa: E731 (days resampled)
    by_regime = {r: ev.check_target(f"wait MAE ratio on {r}", v["mean"], at_most=TARGETS["wait_ratio_to_better_baseline"],
                                    spread=v) for r, v in study["wait_ratio_by_regime"].items()}
    targets = {
        "wait_ratio_to_better_baseline": ev.check_target(
            f"wait MAE ratio to {summary['baseline']} (the stronger baseline on validation)",
            study["wait_ratio"]["mean"], at_most=TARGETS["wait_ratio_to_better_baseline"],
            spread=study["wait_ratio"], interval=interval,
            note=f"interval: seed {args.seed}, {interval['blocks']} held-out regimes resampled" if interval else ""),
        "wait_ratio_every_held_out_regime": {
            "met": all(t["met"] for t in by_regime.values()), "target": f"<= {TARGETS['wait_ratio_to_better_baseline']:g}",
            "regimes_above_target": [r for r, t in by_regime.items() if not t["met"]], "by_regime": by_regime,
            "statement": "; ".join(t["statement"] for t in by_regime.values())},
        "recall_3min": ev.check_target(
            f"{served} recall within 3 min", study["recall_3min"]["mean"], at_least=TARGETS["recall_3min"],
            spread=study["recall_3min"], interval=day_interval(a["recall_3min_ci95_lo"], a["recall_3min_ci95_hi"]),
            note=f"interval: seed {args.seed}'s {a['days']} held-out days resampled"),
        "false_alarms_per_gate_hour": ev.check_target(
            f"{served} false alarms per gate-hour", study["false_alarms_per_gate_hour"]["mean"],
            at_most=TARGETS["false_alarms_per_gate_hour"], spread=study["false_alarms_per_gate_hour"],
            interval=day_interval(a["false_alarms_ci95_lo"], a["false_alarms_ci95_hi"]),
            note=f"interval: seed {args.seed}'s {a['days']} held-out days resampled"),
    }
    targets["novel_anomaly_recall_3min"] = ev.check_target(
        f"{served} recall within 3 min on slow_scanner faults", study["novel_recall_3min"]["mean"],
        at_least=TARGETS["recall_3min"], spread=study["novel_recall_3min"],
        note="a mechanism the detector was not written around (issue 26)")
    targets["other_engine_wait_ratio"] = ev.check_target(
        f"wait MAE ratio to {summary['baseline']} on the second queue engine's unseen factors",
        study["fifo_ratio"]["mean"], at_most=TARGETS["wait_ratio_to_better_baseline"], spread=study["fifo_ratio"],
        interval=study["fifo_interval"],
        note=f"interval: seed {args.seed}'s {FIFO_CHECK_DAYS} check days resampled; a queue simulator other than "
             "the one the held-out regimes come from (issue 26)")
    targets["novel_anomaly_false_alarms_per_gate_hour"] = ev.check_target(
        f"{served} false alarms per gate-hour on slow_scanner days", study["novel_false_alarms_per_gate_hour"]["mean"],
        at_most=TARGETS["false_alarms_per_gate_hour"], spread=study["novel_false_alarms_per_gate_hour"])
    missed = targets["wait_ratio_every_held_out_regime"]["regimes_above_target"]
    summary = dict(summary)
    summary["statement"] += "; " + targets["wait_ratio_to_better_baseline"]["statement"] + (
        f"; above target in {len(missed)} of {len(by_regime)} held-out regimes ({', '.join(missed)})" if missed
        else f"; within target in every one of the {len(by_regime)} held-out regimes (mean over seeds)")
    summary["statement"] += "; on a second queue engine: " + targets["other_engine_wait_ratio"]["statement"]
    metrics = outcome.metrics(
        regimes={"fit": list(FIT_REGIMES), "validation": list(VALIDATION_REGIMES), "test": list(TEST_REGIMES),
                 "days": {role: sum(d["role"] == role for d in days) for role in ("train", "validation", "test")},
                 "second_engine_fit_days": len(fifo_fit),
                 "second_engine_fit": ["/".join(c) for c in fifo.PARTS["fit"]],
                 "second_engine_check": ["/".join(c) for c in fifo.PARTS["check"]],
                 "gates_per_day": GATES_PER_DAY,
                 "target": "mean wait (minutes) of fans joining in the minute after the reading"},
        wait_test_by_regime=wait_test,
        anomaly_validation=anomaly["validation"],
        anomaly_test=anomaly["test"],
        anomaly_choice={"served": served, "best_on_validation": anomaly["best_on_validation"],
                        "threshold_stable": bool(anomaly["validation"][served]["threshold_stable"]),
                        "rule": f"each detector's threshold: best validation recall within 3 min at <= {FA_BUDGET} "
                                "false alarms per gate-hour; a detector is stable when, at the 5th percentile of "
                                "the thresholds 300 day-bootstrap resamples of the validation days choose, it still "
                                f"has <= {TARGETS['false_alarms_per_gate_hour']} false alarms per gate-hour on them; "
                                "served: of the stable detectors, the simplest (ratio_rule, event_rule, "
                                "isolation_forest, lightgbm_classifier) whose validation recall is inside the 95% "
                                "day-bootstrap interval of the best one's"},
        targets=targets,
        seed_study=study,
        seed_study_by_seed={f"simulator seed {k}": {c: v[c] for c in (
            "wait_ratio", "wait_mae", "baseline_mae", "recall_3min", "false_alarms_per_gate_hour", "events", "days",
            "novel_recall_3min", "novel_recall_any", "novel_median_delay_min", "novel_false_alarms_per_gate_hour",
            "novel_events", "fifo_ratio")}
            for k, v in study["per_seed"].items()},
        other_engine_check={name: {"mae_mean_over_seeds": mae, "ratio_mean": spread["mean"], "ratio_min": spread["min"],
                                   "ratio_max": spread["max"]} for name, mae, spread in [
            (f"{outcome.choice.chosen} (served)", study["fifo_mae"]["mean"], study["fifo_ratio"]),
            *([(f"{study['fifo_counterpart']} (not served)", study["fifo_counterpart_mae"]["mean"],
                study["fifo_counterpart_ratio"])]
              if study["fifo_counterpart"] else []),
            (f"{summary['baseline']} (baseline)", study["fifo_baseline_mae"]["mean"],
             {"mean": 1.0, "min": 1.0, "max": 1.0})]},
        other_engine_by_combination={r: {c: v[c] for c in ("mean", "std", "min", "max")}
                                     for r, v in study["fifo_ratio_by_regime"].items()},
        wait_ratio_by_regime_over_seeds={r: {c: v[c] for c in ("mean", "std", "min", "max")}
                                         for r, v in study["wait_ratio_by_regime"].items()},
        anomaly_summary={
            "served": served,
            "statement": f"anomaly detector served: {served}; " + targets["recall_3min"]["statement"] + "; "
                         + targets["false_alarms_per_gate_hour"]["statement"] + "; "
                         + targets["novel_anomaly_recall_3min"]["statement"]
                         + f" (flagged at any time up to {events.GRACE:g} min after the fault ends: {ev.precise(study['novel_recall_any']['mean'])}"
                           " of faults, mean of seeds); a classifier trained on slow_scanner faults: "
                         + novel_statement(novel_trained)
                         + f"; seed {args.seed} alone: {a['events']} events on {a['days']} held-out days, median "
                           f"delay {ev.precise(a['median_delay_min'])} min"},
        novel_mechanism_trained_on=novel_trained)
    metrics["summary"] = summary
    digest = hashlib.sha256(STADIUMS_PATH.read_bytes())
    digest.update(DOOR_COUNTS.read_bytes())
    digest.update(json.dumps({"days": args.days, "seed": args.seed, "second_engine_days": len(fifo_fit)}).encode())
    manifest = finish(SERVICE, out, metrics=metrics, features=[{"name": n, "type": t} for n, t in FEATURES],
                      data_fingerprint=digest.hexdigest(), libraries=LIBRARIES, store_uri=args.store_uri,
                      publish=not args.no_publish,
                      data_end=day_date(args.days - 1),
                      extra={"training": {"seed": args.seed, "days": args.days, "gates_per_day": GATES_PER_DAY,
                                          "small": bool(args.small), "seeds": list(seeds),
                                          "until": args.until and args.until.isoformat(),
                                          "data": "SimPy simulator services/flow/simulate.py over stadiums.json, "
                                                  "arrival shapes from data/entry_counts; the wait model also on "
                                                  "the fit part of services/flow/fifo.py"}},
                      profile=profile(frame, SERVED_FEATURES))
    for group, row in wait_test.items():
        print(f"wait {group}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items() if k != "rows"), file=sys.stderr)
    for name, m in anomaly["test"].items():
        print(f"anomaly {name}{' (served)' if name == served else ''}: recall@3min {m['recall_3min']:.3f} "
              f"[{m['recall_3min_ci95_lo']:.2f}, {m['recall_3min_ci95_hi']:.2f}], median delay "
              f"{m['median_delay_min']:.2f} min, false alarms/gate-hour {m['false_alarms_per_gate_hour']:.3f} "
              f"[{m['false_alarms_ci95_lo']:.2f}, {m['false_alarms_ci95_hi']:.2f}]", file=sys.stderr)
    print(summary["statement"], file=sys.stderr)
    print(metrics["anomaly_summary"]["statement"], file=sys.stderr)
    return manifest


if __name__ == "__main__":
    main()
