"""Train, evaluate and publish the attendance forecast through the kernel's training flow.

    python -m services.forecast.train [--seed 42] [--small | --limit N] [--no-publish] [--output DIR]

Target: the fill rate (attendance / capacity, from capacities fixed in data/, never from crowds),
so a prediction scales with the stadium and stays in [0, capacity].
Evaluation matches the use, a forecast made during a tournament: rolling origins inside
tournaments, one per matchday (predict matchday k from everything before it, the features of
every match computed from earlier days only: features.match_features). One plan per competition,
each chosen on its own validation matchdays and reported on later test matchdays that took no
part in fitting or choosing:

- afcon (the headline): validation = AFCON 2025 matchdays 2 .. before the last AFCON_TEST_DAYS,
  test = the last AFCON_TEST_DAYS matchdays (the third group round);
- world_cup: validation = the WORLD_CUP_VALIDATION World Cups before the last one, test = the last.

Candidates: ridge, ridge blended half-and-half with the venue baseline (both moved by the knockout
stage headroom, train.stage_uplift: a linear model cannot learn it), gradient boosting and a
random forest (scikit-learn, served as ONNX). Baselines (the three a practitioner would try):
capacity x the stage's mean fill; x the venue's fill so far; x the higher of the two teams' fill
so far. The served model of each competition is its choice (a baseline when no candidate beats it).
Intervals: split-conformal on |fill error|, per competition, from origins earlier than the one
being predicted; served with the residuals of every origin of that competition.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from services.common import backtest as flow
from services.common import evaluation as ev
from services.common.drift import profile
from services.common.export import check_parity, onnx_bytes, write_json
from services.common.manifest import fingerprint_files
from services.common.modeling import conformal_quantile
from services.common.splits import TEST, VALIDATION, RollingOrigin
from services.common.training import build_dir, finish, progress_disabled, seed_everything, training_arguments

from . import dataset
from .features import FEATURE_NAMES, FEATURES, STAGE_ORDER, TIME_WORDS, interval_scale, served_fill
from .monitoring import FEATURES as SERVED_FEATURES

SERVICE = "forecast"
INTERVAL_LEVEL = 0.90
AFCON_TEST_DAYS = 3
WORLD_CUP_VALIDATION = 2
SMALL_LIMIT = 150
HEADLINE = "afcon"
TARGET_RATIO = {"afcon": 0.9, "world_cup": 0.9}    # issue 26: MAE <= 0.9 x the strongest baseline, both tests
# Issue 24: the baselines a practitioner tries first, each falling back to this tournament's fill so far
# (shrunk to the competition's mean of earlier editions, features.PRIOR_WEIGHT pseudo-matches), never to
# a 1930-2010 stage mean. The strongest on each competition's validation days is the headline's divisor.
BASELINE_COLUMNS = {"tournament_fill_so_far": "tournament_fill", "venue_fill_so_far": "venue_fill",
                    "team_fill_so_far": "team_fill_high"}
SEEDS = (1, 2, 3, 4, 5)     # the chosen tree model's test days re-scored with these seeds (ridge: deterministic)
BLOCK = "origin"            # the bootstrap resamples whole match days (one origin = one predicted matchday)
BLEND_COLUMN = "venue_fill_so_far"
# The linear candidates leave out the stage and the day of the tournament: a straight line through
# group-stage days would push a final, weeks later, anywhere. Their stage effect is the headroom uplift.
LINEAR_FEATURES = [f for f in FEATURE_NAMES if f not in ("stage_order", "stage_fill", "days_in")]


UPLIFT_PSEUDO = 1.0     # pseudo-weight of "no uplift" in the stage headroom estimate


def stage_uplift(frame: pd.DataFrame) -> dict[str, float]:
    """Per knockout stage, the share of the seats left empty by the venue's fill so far that such a
    match fills: least squares of (fill - venue) on (1 - venue) over the fitting rows of that stage,
    shrunk towards 0 and kept in [0, 1]. The venue column is computed from earlier days only, so these
    are out-of-sample errors; stages without rows get 0."""
    out = {}
    for stage in STAGE_ORDER:
        if stage == "Group Stage":
            continue
        rows = frame[frame["stage"] == stage]
        empty = 1.0 - rows[BLEND_COLUMN].clip(0.0, 1.0).to_numpy(float)
        gain = rows["y"].clip(0.0, 1.0).to_numpy(float) - (1.0 - empty)
        out[stage] = float(np.clip(np.sum(gain * empty) / (np.sum(empty ** 2) + UPLIFT_PSEUDO), 0.0, 1.0))
    return out


def host_anchor(rows: pd.DataFrame) -> np.ndarray:
    """The blend anchor of matches a host plays (served_fill): the venue's fill so far or, when larger,
    the host's crowd so far."""
    venue = rows[BLEND_COLUMN].clip(0.0, 1.0).to_numpy(float)
    return np.maximum(venue, rows["host_crowd"].clip(0.0, 1.0).to_numpy(float))


def host_uplift(frame: pd.DataFrame, uplift: dict[str, float]) -> float:
    """The share of the seats still empty after the stage headroom that a knockout a host nation plays
    fills: the same shrunk least squares as stage_uplift, pooled over the knockout stages (host
    knockouts are few: about 50 in 20 World Cups), from the host anchor, on the fitting rows where a
    host plays."""
    rows = frame[(frame["stage"] != "Group Stage") & (frame["host_team"] > 0)]
    anchor = host_anchor(rows)
    base = anchor + np.array([uplift.get(s, 0.0) for s in rows["stage"]]) * (1.0 - anchor)
    empty = 1.0 - base
    gain = rows["y"].clip(0.0, 1.0).to_numpy(float) - base
    return float(np.clip(np.sum(gain * empty) / (np.sum(empty ** 2) + UPLIFT_PSEUDO), 0.0, 1.0))


def host_terms_check(frame: pd.DataFrame) -> dict:
    """Whether the linear candidates get the host terms (served_fill's host anchor and host knockout
    headroom), decided once before any test: every match a host plays in the World Cups before the World
    Cup test (the last one; the AFCON test is later still), predicted from the earlier World Cups as the
    venue's fill so far moved by the stage headroom, or with the host terms; on when they lower the MAE
    in spectators."""
    cups = list(dict.fromkeys(frame.loc[frame["competition"] == "world_cup"].sort_values("day")["tournament"]))
    errors: dict[str, list[float]] = {"with": [], "without": []}
    used = []
    for i, cup in enumerate(cups[:-1]):
        target = frame[(frame["tournament"] == cup) & (frame["host_team"] > 0)]
        if i == 0 or target.empty:
            continue
        fit = frame[frame["tournament"].isin(cups[:i])]
        pooled, others = stage_uplift(fit), stage_uplift(fit[fit["host_team"] == 0])
        host = host_uplift(fit, others)
        for venue, stage, crowd, capacity, actual in zip(target[BLEND_COLUMN].clip(0.0, 1.0), target["stage"],
                                                         target["host_crowd"], target["capacity"],
                                                         target["y"].clip(0.0, 1.0)):
            errors["without"].append(capacity * abs(actual - served_fill(0.0, venue, stage, 0.0, pooled)))
            errors["with"].append(capacity * abs(actual - served_fill(0.0, venue, stage, 0.0, others, True, host,
                                                                      crowd)))
        used.append(cup)
    if not used:
        return {"on": False, "reason": "no host match before the World Cup test to decide on", "n": 0}
    with_, without = float(np.mean(errors["with"])), float(np.mean(errors["without"]))
    return {"on": bool(with_ < without), "n": len(errors["with"]), "tournaments": len(used),
            "first": used[0], "last": used[-1], "mae_with": round(with_, 1), "mae_without": round(without, 1),
            "rule": "matches a host plays in the World Cups before the World Cup test, each predicted from the "
                    "earlier World Cups (the venue's fill so far + the stage headroom, or with the host anchor and "
                    "the host knockout headroom); on when the host terms lower the MAE"}


class FillRegressor:
    """A scikit-learn regressor of the fill rate on FEATURE_NAMES, served through
    features.served_fill: optionally blended with the venue baseline (`blend` = the regressor's
    weight), moved by the knockout stage's headroom (`staged`) and, with `host`, the host terms: the
    host's crowd as the anchor and a host nation's knockout headroom (the stage headroom then learned
    from the other knockouts)."""

    def __init__(self, name: str, make, blend: float = 1.0, staged: bool = False, seed: int = 0,
                 features: list[str] | None = None, host: bool = False):
        self.name, self.make, self.blend, self.staged, self.seed = name, make, blend, staged, seed
        self.features = list(features or FEATURE_NAMES)
        self.host = host

    def seeded(self, seed: int) -> "FillRegressor | None":
        """The same candidate with another seed; None for the deterministic ridge ones."""
        if self.name.startswith("ridge"):
            return None
        return FillRegressor(self.name, self.make, blend=self.blend, staged=self.staged, seed=seed,
                             features=self.features, host=self.host)

    def fit(self, frame: pd.DataFrame) -> "FillRegressor":
        self.estimator_ = self.make(self.seed)
        x = frame[self.features].to_numpy(np.float32)
        self.estimator_.fit(x, frame["y"].clip(0.0, 1.0).to_numpy(float))
        others = frame[frame["host_team"] == 0] if self.host else frame
        self.uplift_ = stage_uplift(others) if self.staged else {}
        self.host_uplift_ = host_uplift(frame, self.uplift_) if self.host else 0.0
        return self

    def raw(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.estimator_.predict(frame[self.features].to_numpy(np.float32)), dtype=float).ravel()

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        hosts = (frame["host_team"].to_numpy(float) > 0) & self.host
        return np.array([served_fill(r, v, s, self.blend, self.uplift_, h, self.host_uplift_, c) for r, v, s, h, c in
                         zip(self.raw(frame), frame[BLEND_COLUMN].to_numpy(float), frame["stage"], hosts,
                             frame["host_crowd"].to_numpy(float))])


class ColumnBaseline:
    """capacity x a fill the features already hold (computed from earlier days only)."""

    def __init__(self, name: str, column: str):
        self.name, self.column = name, column

    def fit(self, frame: pd.DataFrame) -> "ColumnBaseline":
        if self.column not in frame or len(frame) < 1:
            raise ValueError(f"{self.name}: needs the {self.column!r} column and at least one row")
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.clip(frame[self.column].to_numpy(float), 0.0, 1.0)


def candidates(seed: int, host: bool = False) -> list[FillRegressor]:
    """`host`: the linear candidates carry the host terms (features.served_fill; decided before any
    test by host_terms_check)."""
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def ridge(_seed):
        return make_pipeline(StandardScaler(), Ridge(alpha=10.0))

    def boosting(s):
        return GradientBoostingRegressor(n_estimators=200, max_depth=3, learning_rate=0.05, subsample=0.8,
                                         min_samples_leaf=5, random_state=s)

    def forest(s):
        # Bounded (depth, leaf size): a small ONNX file and no memorised matches.
        return RandomForestRegressor(n_estimators=120, max_depth=8, min_samples_leaf=5, max_features=0.6,
                                     random_state=s, n_jobs=1)

    return [FillRegressor("ridge", ridge, staged=True, seed=seed, features=LINEAR_FEATURES, host=host),
            FillRegressor("ridge_venue_blend", ridge, blend=0.5, staged=True, seed=seed, features=LINEAR_FEATURES,
                          host=host),
            FillRegressor("gradient_boosting", boosting, seed=seed),
            FillRegressor("random_forest", forest, seed=seed)]


def baselines() -> list[ColumnBaseline]:
    return [ColumnBaseline(name, column) for name, column in BASELINE_COLUMNS.items()]


# -- metrics: the target is the fill rate, errors are reported in spectators ----------------------
def mae_spectators(actual, predicted, weights) -> float:
    """Mean absolute attendance error: |fill error| x capacity (weights = the capacity column)."""
    a, p = np.asarray(actual, float), np.asarray(predicted, float)
    return float(np.mean(np.asarray(weights, float) * np.abs(a - p)))


def mape(actual, predicted) -> float:
    return ev.mape(actual, predicted)


METRICS = {"mae": mae_spectators, "fill_mae": ev.mae, "mape": mape}


# -- plans -----------------------------------------------------------------------------------------
def _origins(frame: pd.DataFrame, predicted_days) -> list:
    """The origin of a predicted matchday: the frame's previous distinct day."""
    grid = list(np.sort(frame["day"].unique()))
    return [grid[grid.index(d) - 1] for d in predicted_days]


def plans(frame: pd.DataFrame) -> dict[str, tuple[RollingOrigin, str]]:
    out = {}
    afcon_days = sorted(frame.loc[frame["competition"] == "afcon", "day"].unique())
    if len(afcon_days) > AFCON_TEST_DAYS + 1:
        val, test = afcon_days[1:-AFCON_TEST_DAYS], afcon_days[-AFCON_TEST_DAYS:]
        out["afcon"] = (RollingOrigin.at("day", 1, validation=_origins(frame, val), test=_origins(frame, test)),
                        f"AFCON 2025 matchdays {pd.Timestamp(val[0]).date()}..{pd.Timestamp(val[-1]).date()} "
                        f"(validation), {pd.Timestamp(test[0]).date()}..{pd.Timestamp(test[-1]).date()} (test)")
    cups = list(dict.fromkeys(frame.loc[frame["competition"] == "world_cup"].sort_values("day")["tournament"]))
    if len(cups) > WORLD_CUP_VALIDATION:
        def days(names):
            return sorted(frame.loc[frame["tournament"].isin(names), "day"].unique())
        val_cups, test_cup = cups[-WORLD_CUP_VALIDATION - 1:-1], cups[-1]
        out["world_cup"] = (RollingOrigin.at("day", 1, validation=_origins(frame, days(val_cups)),
                                             test=_origins(frame, days([test_cup]))),
                            f"every matchday of {', '.join(val_cups)} (validation), {test_cup} (test)")
    if HEADLINE not in out:
        raise ValueError("the data hold too few AFCON matchdays for the AFCON plan")
    return out


# -- intervals -------------------------------------------------------------------------------------
def min_residuals(level: float) -> int:
    """The fewest residuals a split-conformal interval at `level` can rest on: ceil((n + 1) level) <= n."""
    n = 1
    while math.ceil((n + 1) * level) > n:
        n += 1
    return n


def venue_seen(frame: pd.DataFrame) -> np.ndarray:
    """The interval's bucket: has the venue been used earlier in this tournament? A first match at
    a venue is predicted from much less, and misses by much more, than a later one."""
    return frame["venue_matches"].to_numpy(float) > 0


# The interval schemes offered; the one served is chosen on validation (`choose_interval`):
# (pool residuals by whether the venue was used earlier in the tournament, scale by the empty seats).
INTERVAL_VARIANTS = {"pooled": (False, False), "venue": (True, False), "headroom": (False, True),
                     "venue+headroom": (True, True)}


def rolling_half_widths(table: pd.DataFrame, level: float, variant: str = "venue") -> pd.Series:
    """Per row: the conformal half-width from the same model's |fill error| at earlier origins (each
    divided by its `interval_scale`, the quantile times the row's), among rows of the same bucket
    (venue_seen) when the variant pools by it and the bucket holds enough, else all earlier rows
    (NaN while there are too few of those too)."""
    by_venue, headroom = INTERVAL_VARIANTS[variant]
    need = min_residuals(level)
    out = pd.Series(np.nan, index=table.index)
    for _, rows in table.groupby("model", sort=False):
        scale = interval_scale(rows["prediction"].to_numpy(float), headroom)
        z = (rows["actual"].clip(upper=1.0) - rows["prediction"]).abs().to_numpy(float) / scale
        seen = venue_seen(rows) if by_venue else np.ones(len(rows), bool)
        origin = rows["origin"].to_numpy()
        for day in np.unique(origin):
            earlier = origin < day
            for bucket in (True, False):
                at = (origin == day) & (seen == bucket)
                pool = z[earlier & (seen == bucket)]
                if len(pool) < need:
                    pool = z[earlier]
                if at.any() and len(pool) >= need:
                    out[rows.index[at]] = conformal_quantile(pool, level) * scale[at]
    return out


def _interval_rows(table: pd.DataFrame, model: str, level: float, variant: str, role: str) -> pd.DataFrame:
    """`model`'s rows of one role with their rolling interval, in spectators, and the group/knockout segment."""
    mine = table[table["model"] == model]
    rows = mine.assign(half=rolling_half_widths(mine, level, variant))
    rows = rows[rows["role"] == role].dropna(subset=["half"])
    cap = rows["capacity"]
    return rows.assign(lower=np.clip(rows["prediction"] - rows["half"], 0, 1) * cap,
                       upper=np.clip(rows["prediction"] + rows["half"], 0, 1) * cap,
                       prediction=rows["prediction"].clip(0, 1) * cap, actual=rows["actual"].clip(upper=1.0) * cap,
                       segment=np.where(rows["stage"] == "Group Stage", "group", "knockout"))


MIN_CHOICE_ROWS = 30    # fewer validation matches with an interval: the simplest scheme, unchosen


# How choose_interval settled a competition's scheme, as the verdict words it.
INTERVAL_OUTCOMES = {"unchosen": "unchosen: too few validation matches",
                     "not_beaten": "no scheme beat it on validation by more than one match per segment",
                     "chosen": "chosen on validation"}


def choose_interval(table: pd.DataFrame, model: str, level: float) -> tuple[str, dict[str, dict[str, float]], str, str]:
    """The scheme whose validation intervals are nearest `level` in every segment (group stage,
    knockouts): the least sum of |coverage - level| over segments. A scheme other than the simplest
    (pooled) is served only when it beats pooled by more than one match per segment (sum of 1/n),
    and only on MIN_CHOICE_ROWS validation matches or more: less than that is noise, not evidence.
    Returns the scheme, every scheme's scores, the reason in words and how it was settled (a key of
    INTERVAL_OUTCOMES), so callers never parse the reason."""
    scores = {}
    for variant in INTERVAL_VARIANTS:
        rows = _interval_rows(table, model, level, variant, VALIDATION)
        if rows.empty:
            continue
        hit = (rows["actual"] >= rows["lower"]) & (rows["actual"] <= rows["upper"])
        by_segment = {k: float(v) for k, v in hit.groupby(rows["segment"]).mean().items()}
        scores[variant] = {"coverage": float(hit.mean()), **by_segment, "n": int(len(rows)),
                           "mean_width": float((rows["upper"] - rows["lower"]).mean()),
                           "score": float(sum(abs(v - level) for v in by_segment.values())),
                           "one_match_per_segment": float(sum(1.0 / n for n in rows["segment"].value_counts()))}
    if "pooled" not in scores:
        return "pooled", scores, "no validation match has an interval: the simplest scheme, unchosen", "unchosen"
    pooled = scores["pooled"]
    if pooled["n"] < MIN_CHOICE_ROWS:
        return "pooled", scores, (f"{pooled['n']} validation matches with an interval (< {MIN_CHOICE_ROWS}) cannot "
                                  "choose between schemes: the simplest, pooled, is served unchosen"), "unchosen"
    best = min(scores, key=lambda v: (round(scores[v]["score"], 12), list(INTERVAL_VARIANTS).index(v)))
    gain = pooled["score"] - scores[best]["score"]
    if best != "pooled" and gain <= pooled["one_match_per_segment"]:
        return "pooled", scores, (f"{best} is nearer 90% on validation by {gain:.3f}, not more than one match per "
                                  f"segment ({pooled['one_match_per_segment']:.3f}): pooled is served"), "not_beaten"
    return best, scores, (f"{best} is nearest 90% in every segment on {pooled['n']} validation matches"
                          + (f", {gain:.3f} better than pooled (one match per segment: "
                             f"{pooled['one_match_per_segment']:.3f})" if best != "pooled" else "")), "chosen"


def interval_scores(table: pd.DataFrame, level: float, variant: str = "venue") -> dict[str, dict[str, float]]:
    """Coverage of the rolling intervals on the test rows, per model, with the mean width."""
    out = {}
    for name in table["model"].unique():
        rows = _interval_rows(table, name, level, variant, TEST)
        if rows.empty:
            continue
        out[name] = {"coverage": ev.coverage(rows["actual"], rows["lower"], rows["upper"]),
                     "mean_width": float(np.mean(rows["upper"] - rows["lower"])), "n": int(len(rows))}
    return out


def stage_coverage(table: pd.DataFrame, model: str, level: float, variant: str = "venue",
                   role: str = TEST) -> dict | None:
    """Coverage and width of `model`'s rolling intervals on one role's rows, per stage (knockouts pooled
    into one segment besides the group stage), in spectators: over-coverage is a miss too."""
    rows = _interval_rows(table, model, level, variant, role)
    if rows.empty:
        return None
    out = flow.coverage_by(rows, "segment")
    out["by_stage"] = flow.coverage_by(rows, "stage")["segments"]
    return out


def serving_half_widths(table: pd.DataFrame, model: str, level: float, variant: str = "venue") -> dict[str, float]:
    """Serving's quantiles (of |fill error| / interval_scale) from every origin of the competition, per bucket."""
    by_venue, headroom = INTERVAL_VARIANTS[variant]
    rows = table[table["model"] == model]
    z = ((rows["actual"].clip(upper=1.0) - rows["prediction"]).abs().to_numpy(float)
         / interval_scale(rows["prediction"].to_numpy(float), headroom))
    seen = venue_seen(rows)
    need = min_residuals(level)
    overall = conformal_quantile(z, level)
    return {bucket: conformal_quantile(z[mask], level) if by_venue and mask.sum() >= need else overall
            for bucket, mask in (("venue_seen", seen), ("venue_new", ~seen))}


# -- the flow --------------------------------------------------------------------------------------
def evaluate(frame: pd.DataFrame, seed: int, quiet: bool, host: bool = False) -> dict[str, dict]:
    """One kernel run per competition: backtest, choose on validation, test, refit the chosen one."""
    results = {}
    for competition, (plan, described) in plans(frame).items():
        outcome = flow.run(frame, plan, candidates=candidates(seed, host), baselines=baselines(), metrics=METRICS,
                           metric="mae", target="y", keys=("competition",), carry=("capacity", "venue_matches", "stage"),
                           weights="capacity", quiet=quiet, label=f"forecast {competition}",
                           block=BLOCK, seeds=SEEDS,
                           note=f"{competition}: test matchdays, chosen on earlier validation matchdays")
        table = outcome.table
        mine = table[table["competition"] == competition]
        if len(mine) != len(table):
            raise RuntimeError(f"the {competition} plan predicted rows of another competition")
        chosen = outcome.choice.chosen
        variant, variant_scores, reason, settled = choose_interval(table, chosen, INTERVAL_LEVEL)
        intervals = interval_scores(table, INTERVAL_LEVEL, variant)
        coverage_stage = stage_coverage(table, chosen, INTERVAL_LEVEL, variant)
        interval_choice = {"variant": variant, "reason": reason, "settled": settled, "validation_scores": variant_scores,
                           "validation_coverage_by_stage": stage_coverage(table, chosen, INTERVAL_LEVEL, variant,
                                                                          VALIDATION),
                           "rule": "the scheme nearest 90% in every segment (group, knockout) on the validation "
                                   "match days (least sum of |coverage - 0.9|), served only when it beats pooled "
                                   f"by more than one match per segment and on >= {MIN_CHOICE_ROWS} matches",
                           "variants": {k: {"pool_by_venue_seen": a, "scale_by_empty_seats": b}
                                        for k, (a, b) in INTERVAL_VARIANTS.items()}}
        test = table[table["role"] == TEST]
        knockout = test[test["stage"] != "Group Stage"]
        by_stage = (flow.score(knockout, METRICS, by=("model",), weights="capacity",
                               models=[m.name for m in (*candidates(seed, host), *baselines())])
                    if len(knockout) else {})
        results[competition] = {"outcome": outcome, "plan": described, "intervals": intervals,
                                "coverage_by_stage": coverage_stage, "interval_choice": interval_choice,
                                "test_knockout": by_stage,
                                "half_width": serving_half_widths(table, chosen, INTERVAL_LEVEL, variant)}
    return results


def export(results: dict, frame: pd.DataFrame, out: Path) -> dict:
    """Per competition: the chosen model as ONNX (candidates) or a column name (baselines)."""
    served = {}
    for competition, r in results.items():
        model = r["outcome"].model
        variant = r["interval_choice"]["variant"]
        by_venue, headroom = INTERVAL_VARIANTS[variant]
        entry = {"model": model.name, "half_width_fill": r["half_width"], "interval_level": INTERVAL_LEVEL,
                 "interval_variant": variant, "interval_headroom_scale": headroom,
                 "interval_bucket": ("venue_seen: the venue was used earlier in the tournament" if by_venue
                                     else "none: both buckets hold the pooled quantile")}
        if isinstance(model, FillRegressor):
            name = f"forecast_{competition}_{model.name}"
            x = frame[model.features].to_numpy(np.float32)
            data = onnx_bytes(model.estimator_, len(model.features), name)
            entry["parity_max_gap"] = check_parity(data, x, model.raw(frame), label=name)
            (out / f"{competition}.onnx").write_bytes(data)
            entry.update(kind="onnx", file=f"{competition}.onnx", inputs=model.features, blend=model.blend,
                         blend_column=BLEND_COLUMN, uplift=model.uplift_, host_terms=model.host,
                         host_uplift=model.host_uplift_)
        else:
            entry.update(kind="baseline", column=model.column)
        served[competition] = entry
    return served


def metrics_of(results: dict) -> dict:
    segments = {}
    for competition, r in results.items():
        outcome = r["outcome"]
        chosen = outcome.choice.chosen
        cov = r["intervals"].get(chosen, {})
        m = outcome.metrics(intervals=r["intervals"], interval_choice=r["interval_choice"], plan_description=r["plan"],
                            **({"test_knockout": r["test_knockout"]} if r["test_knockout"] else {}))
        # the divisor: the strongest baseline on this competition's validation days (not on test)
        others = [b for b in BASELINE_COLUMNS if b != chosen]
        strongest = min(others, key=lambda b: (outcome.validation[b]["mae"], others.index(b)))
        ratio = outcome.test[chosen]["mae"] / outcome.test[strongest]["mae"]
        on_test = min(others, key=lambda b: (outcome.test[b]["mae"], others.index(b)))
        # MAE in spectators = capacity-weighted fill MAE x mean capacity on the same rows: the ratio and its
        # bootstrap over whole match days are the weighted fill MAE's
        try:
            interval = flow.ratio_interval(outcome.table, chosen, strongest, metric=ev.mae, block=BLOCK,
                                           weights="capacity")
        except ValueError:
            interval = None
        target = TARGET_RATIO.get(competition)
        statement = (f"{competition}: {chosen} MAE {outcome.test[chosen]['mae']:,.0f} vs the strongest baseline "
                     f"{strongest} {outcome.test[strongest]['mae']:,.0f} on {outcome.test[chosen]['n']} test matches "
                     f"({ratio:.3f}x")
        if interval:
            statement += f", 95% block-bootstrap interval over {interval['blocks']} match days [{interval['low']:.3f}, {interval['high']:.3f}]"
        statement += (f"; target <= {target}x: {'met' if ratio <= target else 'NOT met'})" if target else ")")
        if on_test != strongest:
            statement += (f"; on the test matches {on_test} was stronger: "
                          f"{outcome.test[chosen]['mae'] / outcome.test[on_test]['mae']:.3f}x it")
        if cov:
            how = INTERVAL_OUTCOMES[r["interval_choice"]["settled"]]
            statement += (f"; {INTERVAL_LEVEL:.0%} interval ({r['interval_choice']['variant']} scheme, {how}) "
                          f"covered {cov['coverage']:.0%} of {cov['n']}, mean width {cov['mean_width']:,.0f}")
        m["verdict"] = {
            "competition": competition, "chosen": chosen, "strongest_baseline_on_test": on_test,
            "strongest_baseline_on_validation": strongest, "ratio_interval": interval,
            "coverage_by_stage": r.get("coverage_by_stage"),
            "mae": outcome.test[chosen]["mae"], "baseline_mae": outcome.test[strongest]["mae"],
            "ratio_to_strongest_baseline": ratio, "target_ratio": target,
            "meets_target": bool(ratio <= target) if target else None,
            "baselines_mae": {b: outcome.test[b]["mae"] for b in BASELINE_COLUMNS},
            "beats": {b: bool(outcome.test[chosen]["mae"] < outcome.test[b]["mae"])
                      for b in BASELINE_COLUMNS if b != chosen},
            "coverage": cov.get("coverage"), "coverage_n": cov.get("n"), "mean_interval_width": cov.get("mean_width"),
            "interval_level": INTERVAL_LEVEL, "statement": statement,
        }
        segments[competition] = m
    head = segments[HEADLINE]
    return {"holdout": head["holdout"], "segments": segments, "summary": head["summary"],
            "verdicts": {c: s["verdict"] for c, s in segments.items()}}


def main(argv: list[str] | None = None) -> dict:
    parser = training_arguments(__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None,
                        help="keep only the first N matches of each source file (quick runs, tests)")
    args = parser.parse_args(argv)
    if args.small and args.limit is None:
        args.limit = SMALL_LIMIT
    seed_everything(args.seed)
    quiet = progress_disabled(args.quiet)
    raw = dataset.load_matches(dataset.DATA_DIR, args.limit)
    if args.until is not None:     # rows after it stay out of training (report --fresh scores them)
        raw = raw[raw["day"] <= pd.Timestamp(args.until)].reset_index(drop=True)
    frame, state = dataset.walk(raw)
    frame["y"] = frame["fill"]
    print(f"forecast: {len(frame)} matches, {frame['tournament'].nunique()} tournaments, "
          f"{frame['stadium'].nunique()} stadiums", file=sys.stderr)
    host_check = host_terms_check(frame)
    print(f"forecast: host terms {'on' if host_check['on'] else 'off'} ({host_check.get('n')} host matches "
          f"before the test: MAE {host_check.get('mae_with')} with, {host_check.get('mae_without')} without)",
          file=sys.stderr)
    results = evaluate(frame, args.seed, quiet, host_check["on"])
    out = build_dir(args.output)
    served = export(results, frame, out)
    stadiums = dataset.stadium_table(raw)
    aliases, cities = dataset.stadium_aliases(stadiums)
    teams = sorted(set(raw["team_a"]) | set(raw["team_b"]))
    team_summary = dataset.team_summary(raw)
    write_json(out / "tables.json", {
        "feature_names": FEATURE_NAMES, "served": served, "interval_level": INTERVAL_LEVEL,
        "time_words": TIME_WORDS, "stages": STAGE_ORDER, "state": state, "stadiums": stadiums,
        "stadium_aliases": aliases, "city_stadiums": cities, "teams": teams, "team_summary": team_summary,
        "team_aliases": dataset.team_aliases(teams), "matches": dataset.match_table(raw)})
    metrics = metrics_of(results)
    metrics["host_terms"] = host_check
    files = [dataset.DATA_DIR / name for name in dataset.DATA_FILES]
    manifest = finish(SERVICE, out, metrics=metrics, features=[{"name": n, "type": t} for n, t in FEATURES],
                      data_fingerprint=fingerprint_files(*files),
                      libraries=["scikit-learn", "onnxruntime", "skl2onnx", "numpy", "pandas"],
                      store_uri=args.store_uri, publish=not args.no_publish,
                      data_end=pd.Timestamp(raw["day"].max()).date().isoformat(),
                      extra={"training": {"seed": args.seed, "limit": args.limit, "target": "fill rate",
                                          "until": args.until and args.until.isoformat(),
                                          "served": served}},
                      profile=profile(frame, SERVED_FEATURES))
    for competition, seg in metrics["segments"].items():
        for name, s in seg["test"].items():
            iv = seg["intervals"].get(name)
            print(f"  {competition:<10} test {name:<22} MAE {s['mae']:>8,.0f}  MAPE {s['mape']:6.1f}%"
                  + (f"  coverage {iv['coverage']:.2f} width {iv['mean_width']:,.0f}" if iv else ""),
                  file=sys.stderr)
        for name, s in seg.get("test_knockout", {}).items():
            print(f"  {competition:<10} knockout {name:<22} MAE {s['mae']:>8,.0f} (n {s['n']})", file=sys.stderr)
        print(f"  {competition}: {seg['choice']['reason']}", file=sys.stderr)
        print(f"  {seg['verdict']['statement']}", file=sys.stderr)
    return manifest


if __name__ == "__main__":
    main()
