"""Train, evaluate against chance, and publish the Powerball model.

    python -m services.powerball.train [--rounds 30] [--holdout 150] [--seed 42] [--no-publish]

The model is the seed's: one XGBoost classifier per ball position (white_1..white_5, the
sorted white balls, and the Powerball) on frequency features of the earlier draws of the
current era (hot/cold rates over windows, gaps since last seen; services/powerball/features.py).

Evaluation: the last `--holdout` draws of the current era are never used for fitting. For each
of them the model (fitted on the older draws) gives probabilities from the draws before it.
Against uniform random picks (the exact chance distribution per number) it reports:
- log loss per ball (white balls through each number's expected appearances / 5; Powerball),
  with a Monte Carlo test: how often would the model score this well on truly random draws?
- mean matches of the model's top ticket per draw, with an exact one-sided test (the null
  distribution of the total matches is the sum of independent hypergeometric and Bernoulli
  matches of any ticket chosen before the draw);
- mean matches of tickets sampled as /predict samples them (descriptive).
Then the models are refit on every draw of the era, exported to ONNX and published.
"""
from __future__ import annotations

import json
import sys
from importlib import metadata
from math import comb
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from services.common import evaluation as ev
from services.common.manifest import fingerprint_files
from services.common.training import (build_dir, finish, progress_disabled, seed_everything,
                                      training_arguments)

from .eras import Draw, Era, era_draws, load_eras, parse_csv
from .features import WARMUP, WINDOWS, feature_descriptions, indicators, pool_features
from .probability import WHITE_COUNT, TicketSampler, position_distribution, top_ticket, white_inclusion
from .probability import chance_distributions as chance_for
from .stats import pool_statistics

SERVICE = "powerball"
DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "powerball"
DATA = DATA_DIR / "Lottery_Powerball_Winning_Numbers__Beginning_2010.csv"
ERAS = DATA_DIR / "eras.json"
HOLDOUT = 150
SHRINK = 0.05          # weight of the chance distribution mixed into each position's probabilities
SAMPLED_TICKETS = 100  # tickets per held-out draw for the descriptive "as served" matches
MONTE_CARLO = 20_000   # random-draw replicates for the log-loss test
SIGNIFICANCE = 0.05
DECIMALS = 8           # held-out probabilities are rounded once, then every metric uses the rounded values
POSITIONS = [f"white_{k}" for k in range(1, WHITE_COUNT + 1)] + ["powerball"]
METHOD = ("XGBoost per ball position (5 sorted white balls + Powerball) on frequency features of the "
          f"current era: appearance rates over the last {', '.join(map(str, WINDOWS))} draws and the whole era, "
          "and draws since each number was last seen. Tickets are sampled from the model's probabilities: "
          "white balls without replacement weighted by each number's expected appearances, the Powerball "
          "from its own distribution.")


# -- data -------------------------------------------------------------------
def load_draws(path: Path = DATA, eras_path: Path = ERAS) -> tuple[list[Era], list[Draw]]:
    eras = load_eras(eras_path)
    return eras, parse_csv(path, eras)


def era_arrays(draws: list[Draw]) -> tuple[np.ndarray, np.ndarray]:
    white = np.array([d.white_balls for d in draws], dtype=np.int64).reshape(-1, WHITE_COUNT)
    power = np.array([d.powerball for d in draws], dtype=np.int64)
    return white, power


def design(white: np.ndarray, power: np.ndarray, era: Era) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows t = 0..n for the white-ball and Powerball models (row n = the next draw)."""
    return (pool_features(indicators(white, era.white_max)),
            pool_features(indicators(power[:, None], era.powerball_max)))


def chance_distributions(era: Era) -> list[np.ndarray]:
    return chance_for(era.white_max, era.powerball_max)


# -- models -----------------------------------------------------------------
XGB_PARAMS = {"max_depth": 2, "learning_rate": 0.1, "subsample": 0.8, "colsample_bytree": 0.5,
              "min_child_weight": 5, "max_bin": 32, "tree_method": "hist", "base_score": 0.5}


def prior_margin(classes: list[int], chance: np.ndarray, rows: int) -> np.ndarray:
    """ln(chance) of the classes a position saw, as XGBoost's per-row base margin."""
    return np.tile(np.log(chance[np.asarray(classes) - 1]), (rows, 1))


def fit_positions(x_white: np.ndarray, x_power: np.ndarray, white: np.ndarray, power: np.ndarray,
                  era: Era, rounds: int, seed: int, quiet: bool, label: str) -> list[tuple[Any, list[int]]]:
    """One XGBoost classifier per position, boosting from the chance distribution of its position
    (base_margin = ln chance), so the trees model departures from chance. Returns (model, classes)."""
    from xgboost import XGBClassifier

    chance = chance_distributions(era)
    fitted = []
    targets = [white[:, k] for k in range(WHITE_COUNT)] + [power]
    for k, target in enumerate(tqdm(targets, desc=f"powerball: {label}", disable=quiet, file=sys.stderr)):
        x = x_power if k == WHITE_COUNT else x_white
        classes = sorted(int(c) for c in np.unique(target))
        encoded = np.searchsorted(classes, target)
        # Small on purpose: few shallow trees, coarse bins (rates take few values), column sampling.
        # base_score is fixed (not estimated per class) so ONNX output * chance is the full model.
        model = XGBClassifier(n_estimators=rounds, random_state=seed + k, n_jobs=1, **XGB_PARAMS)
        model.fit(x, encoded, base_margin=prior_margin(classes, chance[k], len(x)))
        fitted.append((model, classes))
    return fitted


def to_onnx(model, n_features: int) -> bytes:
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType

    onx = onnxmltools.convert_xgboost(model, initial_types=[("features", FloatTensorType([None, n_features]))],
                                      target_opset=15)
    return onx.SerializeToString()


def onnx_probabilities(model_bytes: bytes, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    return session.run(["probabilities"], {session.get_inputs()[0].name: x.astype(np.float32)})[0]


def export(fitted, x_white: np.ndarray, x_power: np.ndarray, era: Era) -> list[bytes]:
    """ONNX bytes per position, checked: ONNX output * chance (what serving computes) must equal
    XGBoost's own probabilities with the chance base margin."""
    chance = chance_distributions(era)
    blobs = []
    for k, (model, classes) in enumerate(fitted):
        x = x_power if k == WHITE_COUNT else x_white
        pool = era.powerball_max if k == WHITE_COUNT else era.white_max
        blob = to_onnx(model, x.shape[1])
        check = x[-50:]
        native = model.predict_proba(check, base_margin=prior_margin(classes, chance[k], len(check)))
        served = position_distribution(onnx_probabilities(blob, check), classes, pool, chance[k], 0.0)
        gap = np.max(np.abs(served[:, np.asarray(classes) - 1] - native))
        if gap > 1e-4:
            raise RuntimeError(f"{POSITIONS[k]}: ONNX probabilities differ from XGBoost by {gap:.2g}")
        blobs.append(blob)
    return blobs


def distributions(blobs: list[bytes], fitted, x_white: np.ndarray, x_power: np.ndarray,
                  era: Era) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, 5, N) white position probabilities, (rows, N) white weights, (rows, P) Powerball."""
    chance = chance_distributions(era)
    per_position = []
    for k, (blob, (_, classes)) in enumerate(zip(blobs, fitted)):
        x = x_power if k == WHITE_COUNT else x_white
        pool = era.powerball_max if k == WHITE_COUNT else era.white_max
        per_position.append(position_distribution(onnx_probabilities(blob, x), classes, pool, chance[k], SHRINK))
    white_positions = np.stack(per_position[:WHITE_COUNT], axis=1)
    return white_positions, white_inclusion(white_positions), per_position[WHITE_COUNT]


# -- chance -----------------------------------------------------------------
def match_pmf(pool: int, picks: int = WHITE_COUNT) -> np.ndarray:
    """P(a fixed ticket of `picks` numbers shares m numbers with a fair draw of `picks` from `pool`)."""
    total = comb(pool, picks)
    return np.array([comb(picks, m) * comb(pool - picks, picks - m) / total for m in range(picks + 1)])


def total_pmf(single: np.ndarray, times: int) -> np.ndarray:
    """The distribution of a sum of `times` independent copies (repeated convolution)."""
    out = np.array([1.0])
    for _ in range(times):
        out = np.convolve(out, single)
    return out


def upper_tail(pmf: np.ndarray, observed: int) -> float:
    return float(min(1.0, pmf[observed:].sum()))


def random_subsets(rng: np.random.Generator, shape: tuple[int, ...], pool: int, picks: int) -> np.ndarray:
    """Uniform random `picks`-subsets of 0..pool-1 (rejection: redraw tuples with a repeat)."""
    out = rng.integers(0, pool, size=(*shape, picks))
    while True:
        ordered = np.sort(out, axis=-1)
        repeat = (np.diff(ordered, axis=-1) == 0).any(axis=-1)
        if not repeat.any():
            return out
        out[repeat] = rng.integers(0, pool, size=(int(repeat.sum()), picks))


def log_loss_test(white_weights: np.ndarray, power_probs: np.ndarray, observed: float, seed: int,
                  replicates: int = MONTE_CARLO) -> dict[str, Any]:
    """Monte Carlo: the model's log loss per ball on fair random draws, replicated; one-sided p."""
    rng = np.random.default_rng(seed)
    n, pool = white_weights.shape
    white_cost = -np.log(white_weights / WHITE_COUNT)
    power_cost = -np.log(power_probs)
    scores = []
    for start in range(0, replicates, 2000):  # chunks keep memory small
        size = min(2000, replicates - start)
        picks = random_subsets(rng, (size, n), pool, WHITE_COUNT)
        white = white_cost[np.arange(n)[None, :, None], picks].sum(axis=-1)
        power = power_cost[np.arange(n)[None, :], rng.integers(0, power_probs.shape[1], size=(size, n))]
        scores.append((white + power).mean(axis=1) / (WHITE_COUNT + 1))
    scores = np.concatenate(scores)
    p_value = float((1 + np.sum(scores <= observed)) / (replicates + 1))
    return {"test": "Monte Carlo: the model's log loss per ball on fair random draws (one-sided)",
            "replicates": replicates, "seed": seed, "null_mean": float(scores.mean()),
            "null_sd": float(scores.std(ddof=1)), "p_value": p_value}


# -- evaluation -------------------------------------------------------------
def fmt_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}" if p < 0.1 else f"p = {p:.2f}"


def plain_statement(metrics: dict[str, Any]) -> str:
    """The evaluation in words a user can read; claims only what the tests measured."""
    top = metrics["top_ticket"]
    n = metrics["holdout"]["draws"]
    ll = metrics["log_loss"]
    if top["p_value"] < SIGNIFICANCE:
        head = (f"its top ticket matched more numbers than random picks on the last {n} draws "
                f"({fmt_p(top['p_value'])}, one-sided); one hold-out at the 5% level, so this may still be luck")
    else:
        head = f"no detectable edge over random picks ({fmt_p(top['p_value'])} on the last {n} draws)"
    return (f"{head}: its top ticket matched {top['mean_matches']:.2f} numbers per draw vs "
            f"{top['chance_mean_matches']:.2f} expected by chance; log loss per ball {ll['model']:.3f} vs "
            f"{ll['uniform']:.3f} for uniform random picks ({fmt_p(ll['test']['p_value'])})")


def holdout_metrics(white_positions: np.ndarray, white_weights: np.ndarray, power_probs: np.ndarray,
                    white: np.ndarray, power: np.ndarray, era: Era, seed: int) -> dict[str, Any]:
    """Every held-out number, from the (rounded) probabilities the model gave before each draw."""
    n = len(white)
    rows = np.arange(n)
    chance = chance_distributions(era)
    white_ll = float(np.mean(-np.log(white_weights[rows[:, None], white - 1] / WHITE_COUNT)))
    power_ll = float(np.mean(-np.log(power_probs[rows, power - 1])))
    uniform_white, uniform_power = float(np.log(era.white_max)), float(np.log(era.powerball_max))
    per_ball = (WHITE_COUNT * white_ll + power_ll) / (WHITE_COUNT + 1)
    uniform_per_ball = (WHITE_COUNT * uniform_white + uniform_power) / (WHITE_COUNT + 1)

    per_position = {}
    for k in range(WHITE_COUNT):
        actual = white[:, k] - 1
        per_position[POSITIONS[k]] = {
            "model": float(np.mean(-np.log(white_positions[rows, k, actual]))),
            "chance": float(np.mean(-np.log(chance[k][actual]))),
        }
    per_position["powerball"] = {"model": power_ll, "chance": uniform_power}

    tickets = [top_ticket(white_weights[i], power_probs[i]) for i in range(n)]
    white_hits = np.array([len(set(t[0]) & set(white[i].tolist())) for i, t in enumerate(tickets)])
    power_hits = np.array([int(t[1] == power[i]) for i, t in enumerate(tickets)])
    white_single = match_pmf(era.white_max)
    power_single = np.array([1 - 1 / era.powerball_max, 1 / era.powerball_max])
    white_total, power_total = total_pmf(white_single, n), total_pmf(power_single, n)
    chance_white = WHITE_COUNT * WHITE_COUNT / era.white_max
    chance_power = 1 / era.powerball_max
    observed = int(white_hits.sum() + power_hits.sum())

    sampled_white, sampled_power = [], []
    for i in range(n):
        tickets_white, tickets_power = TicketSampler(white_weights[i], power_probs[i]).sample_arrays(
            SAMPLED_TICKETS, seed + i)
        sampled_white.append(np.isin(tickets_white, white[i]).sum(axis=1))
        sampled_power.append(tickets_power == power[i])
    sampled_white, sampled_power = np.concatenate(sampled_white), np.concatenate(sampled_power)

    log_loss = {"model": per_ball, "uniform": uniform_per_ball,
                "white_model": white_ll, "white_uniform": uniform_white,
                "powerball_model": power_ll, "powerball_uniform": uniform_power,
                "definition": "mean -ln p over the 6 balls of each held-out draw; a white ball's p is its number's "
                              "expected appearances / 5, the Powerball's p its probability",
                "test": log_loss_test(white_weights, power_probs, per_ball, seed)}
    top = {"mean_matches": observed / n, "chance_mean_matches": chance_white + chance_power,
           "white_mean_matches": float(white_hits.mean()), "white_chance": chance_white,
           "powerball_hit_rate": float(power_hits.mean()), "powerball_chance": chance_power,
           "total_matches": observed, "white_matches": int(white_hits.sum()),
           "powerball_matches": int(power_hits.sum()),
           "test": "exact one-sided: P(total matches >= observed) for tickets chosen before fair draws "
                   "(sum of independent hypergeometric white matches and Bernoulli Powerball matches)",
           "p_value": upper_tail(np.convolve(white_total, power_total), observed),
           "white_p_value": upper_tail(white_total, int(white_hits.sum())),
           "powerball_p_value": upper_tail(power_total, int(power_hits.sum())),
           "match_distribution": np.bincount(white_hits, minlength=WHITE_COUNT + 1).tolist()}
    sampled = {"tickets_per_draw": SAMPLED_TICKETS,
               "mean_matches": float(sampled_white.mean() + sampled_power.mean()),
               "chance_mean_matches": chance_white + chance_power,
               "white_mean_matches": float(sampled_white.mean()), "powerball_hit_rate": float(sampled_power.mean()),
               "note": "tickets drawn as /predict draws them; descriptive (the tickets of one draw are not "
                       "independent)"}
    return {"log_loss": log_loss, "per_position_log_loss": per_position, "top_ticket": top, "sampled_tickets": sampled}



def evaluate(white: np.ndarray, power: np.ndarray, dates: list[str], era: Era, holdout: int, rounds: int,
             seed: int, quiet: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    n = len(white)
    if n - holdout < WARMUP + 100:
        raise ValueError(f"era {era.name}: {n} draws leave too few for fitting before a {holdout}-draw hold-out")
    x_white, x_power = design(white, power, era)
    cut = n - holdout
    fit_rows = slice(WARMUP, cut)
    fitted = fit_positions(x_white[fit_rows], x_power[fit_rows], white[fit_rows], power[fit_rows],
                           era, rounds, seed, quiet, "hold-out fit")
    blobs = export(fitted, x_white[fit_rows], x_power[fit_rows], era)
    positions, weights, power_probs = distributions(blobs, fitted, x_white[cut:n], x_power[cut:n], era)
    positions, weights, power_probs = (np.round(a, DECIMALS) for a in (positions, weights, power_probs))
    metrics = holdout_metrics(positions, weights, power_probs, white[cut:], power[cut:], era, seed)
    metrics["holdout"] = {"draws": holdout, "first_draw": dates[cut], "last_draw": dates[-1], "era": era.name,
                          "fit_draws": cut - WARMUP, "fit_first_draw": dates[WARMUP], "fit_last_draw": dates[cut - 1],
                          "warmup_draws": WARMUP}
    predictions = {"era": era.name, "decimals": DECIMALS, "dates": dates[cut:],
                   "white_balls": white[cut:].tolist(), "powerball": power[cut:].tolist(),
                   "white_weights": weights.tolist(), "powerball_probs": power_probs.tolist()}
    return metrics, predictions


def summarize(metrics: dict[str, Any]) -> dict[str, Any]:
    ll, top = metrics["log_loss"], metrics["top_ticket"]
    edge = top["p_value"] < SIGNIFICANCE
    metrics["significance"] = {"primary_test": "top_ticket", "alpha": SIGNIFICANCE, "p_value": top["p_value"],
                               "edge_detected": edge, "log_loss_p_value": ll["test"]["p_value"]}
    metrics["summary"] = ev.summary(
        model="XGBoost per ball position", baseline="uniform random picks", metric="log loss per ball",
        model_score=ll["model"], baseline_score=ll["uniform"],
        note=f"last {metrics['holdout']['draws']} draws of the {metrics['holdout']['era']} era; "
             f"log-loss test {fmt_p(ll['test']['p_value'])}; top-ticket matches {top['mean_matches']:.3f} vs "
             f"{top['chance_mean_matches']:.3f} by chance, {fmt_p(top['p_value'])}")
    metrics["statement"] = plain_statement(metrics)
    return metrics


# -- final model ------------------------------------------------------------
def fit_final(white: np.ndarray, power: np.ndarray, era: Era, out: Path, rounds: int, seed: int,
              quiet: bool) -> dict[str, Any]:
    x_white, x_power = design(white, power, era)
    n = len(white)
    fitted = fit_positions(x_white[WARMUP:n], x_power[WARMUP:n], white[WARMUP:], power[WARMUP:],
                           era, rounds, seed, quiet, "final fit")
    blobs = export(fitted, x_white[WARMUP:n], x_power[WARMUP:n], era)
    positions = []
    for name, blob, (_, classes) in zip(POSITIONS, blobs, fitted):
        (out / f"{name}.onnx").write_bytes(blob)
        positions.append({"name": name, "file": f"{name}.onnx", "classes": classes,
                          "pool": "powerball" if name == "powerball" else "white"})
    _, weights, power_probs = distributions(blobs, fitted, x_white[n:], x_power[n:], era)
    uniformity = {
        pool: {key: test[key] for key in ("statistic", "df", "p_value")}
        for pool, test in (
            ("white", pool_statistics(indicators(white, era.white_max), WHITE_COUNT)["uniformity"]),
            ("powerball", pool_statistics(indicators(power[:, None], era.powerball_max), 1)["uniformity"]))}
    return {"positions": positions, "fit_draws": n - WARMUP, "uniformity": uniformity,
            "next_draw": {"white_weights": weights[0].tolist(), "powerball_probs": power_probs[0].tolist()}}


def installed(names: list[str]) -> list[str]:
    found = []
    for name in names:
        try:
            metadata.version(name)
            found.append(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def main(argv: list[str] | None = None) -> dict:
    parser = training_arguments(__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="boosting rounds per position (default 30)")
    parser.add_argument("--holdout", type=int, default=HOLDOUT, help=f"held-out latest draws (default {HOLDOUT})")
    args = parser.parse_args(argv)
    if args.small:  # the kernel's quick slice for tests and smoke runs
        args.rounds = 3
    if args.rounds < 1 or args.holdout < 20:
        parser.error("--rounds must be >= 1 and --holdout >= 20")
    seed_everything(args.seed)
    quiet = progress_disabled(args.quiet)
    eras, draws = load_draws()
    era = eras[-1]
    current = era_draws(draws, era)
    white, power = era_arrays(current)
    dates = [d.date.isoformat() for d in current]
    print(f"powerball: {len(draws)} draws in {len(eras)} eras; current era {era.name}: {len(current)} draws "
          f"{dates[0]}..{dates[-1]}", file=sys.stderr)

    metrics, predictions = evaluate(white, power, dates, era, args.holdout, args.rounds, args.seed, quiet)
    summarize(metrics)
    out = build_dir(args.output)
    final = fit_final(white, power, era, out, args.rounds, args.seed, quiet)
    (out / "draws.json").write_text(json.dumps({"eras": [e.as_json() for e in eras],
                                                "draws": [d.as_json() for d in draws]}))
    (out / "holdout.json").write_text(json.dumps(predictions))
    (out / "model.json").write_text(json.dumps({
        "era": era.name, "method": METHOD, "shrink": SHRINK, "windows": list(WINDOWS), "warmup": WARMUP,
        "evaluation": metrics["statement"], "edge_detected": metrics["significance"]["edge_detected"],
        "last_draw": dates[-1], **final}, indent=1))
    features = (feature_descriptions("white", era.white_max) + feature_descriptions("powerball", era.powerball_max))
    manifest = finish(SERVICE, out, metrics=metrics, features=features,
                      data_fingerprint=fingerprint_files(DATA, ERAS),
                      libraries=installed(["numpy", "scipy", "xgboost", "xgboost-cpu", "onnxruntime", "onnxmltools"]),
                      store_uri=args.store_uri, publish=not args.no_publish,
                      extra={"training": {"seed": args.seed, "rounds": args.rounds, "holdout": args.holdout,
                                          "era": era.name, "shrink": SHRINK, "windows": list(WINDOWS),
                                          "warmup": WARMUP, "positions": POSITIONS,
                                          "xgboost": {**XGB_PARAMS, "n_estimators": args.rounds,
                                                      "base_margin": "ln(chance distribution of the position)"}}})
    print(metrics["summary"]["statement"], file=sys.stderr)
    print(metrics["statement"], file=sys.stderr)
    return manifest


if __name__ == "__main__":
    main()
