"""Train Powerball models through the kernel's flow, evaluate against chance, publish the chosen one.

    python -m services.powerball.train [--rounds 30] [--holdout 150] [--seed 42] [--no-publish]

Data: the draws of the current era (services/powerball/eras.py), as one row per draw x pool x
number (`y` = 1 if that number came up). Features: services/powerball/features.py (hot/cold
rates over windows, gaps since last seen; a draw's features use only earlier draws).
Candidates: the seed's model, one XGBoost classifier per ball position (white_1..white_5, the
sorted white balls, and the Powerball), boosting from each position's exact chance distribution;
mixed with chance by a weight `shrink`, one candidate per weight (the boosters do not depend on
it, so they are fitted once per fold and shared). Baselines: uniform random picks (the exact
chance distribution per number) and each number's smoothed frequency in the fitting draws.

Plan (services.common.splits.RollingOrigin on the draw date): the last `--holdout` draws are
the test window, the `--holdout` draws before them the validation window; each window is
predicted by models fitted on the draws before it (each draw from the features of the draws
before it). The candidate with the best validation log loss per ball is served, even when a
baseline is better (the service's product is the model's tickets; the manifest, the API and
the README say when it does not beat chance). The test window is then scored for the chosen
model and both baselines, and evaluated against chance (services/powerball/chance.py). Finally
the chosen model is refitted on every draw of the era, exported to ONNX and published.
"""
from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from services.common import evaluation as ev
from services.common.backtest import run
from services.common.export import check_parity, run_onnx, write_json, xgboost_onnx
from services.common.manifest import fingerprint_files
from services.common.modeling import fresh
from services.common.splits import TEST, RollingOrigin
from services.common.training import build_dir, finish, progress_disabled, seed_everything, training_arguments

from .chance import POSITIONS, against_chance, fmt_p
from .eras import Draw, Era, era_draws, load_eras, parse_csv
from .features import WARMUP, WINDOWS, feature_descriptions, indicators, pool_features
from .probability import WHITE_COUNT, position_distribution, white_inclusion
from .probability import chance_distributions as chance_for
from .stats import pool_statistics

SERVICE = "powerball"
DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "powerball"
DATA = DATA_DIR / "Lottery_Powerball_Winning_Numbers__Beginning_2010.csv"
ERAS = DATA_DIR / "eras.json"
HOLDOUT = 150
SHRINKS = (0.05, 0.25, 0.5)   # candidate weights of the chance distribution mixed into each position
SEEDS = (1, 2, 3, 4, 5)       # the chosen candidate's test window is re-scored with these tree seeds
DECIMALS = 8                  # probabilities are rounded once; every metric uses the rounded values
METRIC = "log_loss_per_ball"
METRICS = {METRIC: ev.log_loss}
POOLS = {"white": WHITE_COUNT, "powerball": 1}      # balls per draw
METHOD = ("XGBoost per ball position (5 sorted white balls + Powerball) on frequency features of the "
          f"current era: appearance rates over the last {', '.join(map(str, WINDOWS))} draws and the whole era, "
          "and draws since each number was last seen; mixed with chance by a weight chosen on validation draws "
          "({shrink:.0%} here). Tickets are sampled from the model's probabilities: white balls without replacement "
          "weighted by each number's expected appearances, the Powerball from its own distribution.")


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


class Draws:
    """One era's draws and their feature rows. Read-only, so model copies share it (and the boosters
    fitted on it, cached by the draws they were fitted on)."""

    def __init__(self, white: np.ndarray, power: np.ndarray, dates: list[str], era: Era):
        self.white, self.power, self.dates, self.era = white, power, dates, era
        self.x_white, self.x_power = design(white, power, era)
        self.chance = chance_distributions(era)
        self.boosters: dict[tuple, list] = {}

    def __deepcopy__(self, memo):
        return self

    def pool_size(self, pool: str) -> int:
        return self.era.white_max if pool == "white" else self.era.powerball_max

    def frame(self) -> pd.DataFrame:
        """One row per draw x pool x number from the warm-up on; y counts the number's balls in the draw."""
        parts = []
        for pool, hits in (("white", indicators(self.white, self.era.white_max)),
                           ("powerball", indicators(self.power[:, None], self.era.powerball_max))):
            draws, numbers = np.meshgrid(np.arange(WARMUP, len(hits)), np.arange(1, hits.shape[1] + 1), indexing="ij")
            parts.append(pd.DataFrame({"draw": draws.ravel(), "pool": pool, "number": numbers.ravel(),
                                       "y": hits[WARMUP:].ravel()}))
        frame = pd.concat(parts, ignore_index=True).sort_values(["draw", "pool", "number"], kind="stable")
        frame.insert(1, "date", np.asarray(self.dates)[frame["draw"].to_numpy()])
        return frame.reset_index(drop=True)


def per_row(frame: pd.DataFrame, draws: np.ndarray, white_p: np.ndarray, power_p: np.ndarray) -> np.ndarray:
    """Per-ball probabilities (n_draws, N) and (n_draws, P) -> one value per frame row."""
    at = np.searchsorted(draws, frame["draw"].to_numpy())
    index = frame["number"].to_numpy() - 1
    white = (frame["pool"] == "white").to_numpy()
    out = np.empty(len(frame))
    out[white] = white_p[at[white], index[white]]
    out[~white] = power_p[at[~white], index[~white]]
    return out


# -- candidates -------------------------------------------------------------
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


class PositionBoost:
    """The seed's model on the kernel interface: XGBoost per position, mixed with chance by `shrink`."""

    def __init__(self, data: Draws, *, shrink: float, rounds: int, seed: int, quiet: bool = True):
        self.data, self.shrink, self.rounds, self.seed, self.quiet = data, shrink, rounds, seed, quiet
        self.name = f"xgboost_per_position_shrink_{shrink:g}"

    def spec(self) -> dict[str, Any]:
        return {"shrink": self.shrink, "rounds": self.rounds, "seed": self.seed, "xgboost": XGB_PARAMS}

    def seeded(self, seed: int) -> "PositionBoost":
        """The same candidate with other tree seeds (row and column sampling), for the spread over seeds."""
        return PositionBoost(self.data, shrink=self.shrink, rounds=self.rounds, seed=seed, quiet=self.quiet)

    def fit(self, frame: pd.DataFrame) -> "PositionBoost":
        draws = np.unique(frame["draw"].to_numpy())
        key = (self.rounds, self.seed, draws.tobytes())
        d = self.data
        if key not in d.boosters:
            d.boosters[key] = fit_positions(d.x_white[draws], d.x_power[draws], d.white[draws], d.power[draws],
                                            d.era, self.rounds, self.seed, self.quiet, f"fit on {len(draws)} draws")
        self.fitted_, self.draws_ = d.boosters[key], draws
        return self

    def distributions(self, draws: np.ndarray, onnx: list[bytes] | None = None
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, 5, N) white position probabilities, (rows, N) white weights (sum 5), (rows, P) Powerball,
        for feature rows `draws` (len(white) = the next draw), natively or through ONNX bytes."""
        d = self.data
        per_position = []
        for k, (model, classes) in enumerate(self.fitted_):
            x = (d.x_power if k == WHITE_COUNT else d.x_white)[draws]
            pool = d.era.powerball_max if k == WHITE_COUNT else d.era.white_max
            raw = run_onnx(onnx[k], x, "probabilities") if onnx else model.predict_proba(x)
            per_position.append(position_distribution(raw, classes, pool, d.chance[k], self.shrink))
        positions = np.round(np.stack(per_position[:WHITE_COUNT], axis=1), DECIMALS)
        return positions, np.round(white_inclusion(positions), DECIMALS), np.round(per_position[WHITE_COUNT], DECIMALS)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        draws = np.unique(frame["draw"].to_numpy())
        _, weights, power = self.distributions(draws)
        return per_row(frame, draws, weights / WHITE_COUNT, power)

    def export(self, out: Path) -> tuple[list[dict[str, Any]], list[bytes]]:
        """ONNX per position, checked by the kernel's parity check: ONNX output x chance (what serving
        computes) against XGBoost's own probabilities with the chance base margin."""
        d = self.data
        check = self.draws_[-50:]
        positions, blobs = [], []
        for k, (name, (model, classes)) in enumerate(zip(POSITIONS, self.fitted_)):
            x = (d.x_power if k == WHITE_COUNT else d.x_white)[check]
            pool = d.era.powerball_max if k == WHITE_COUNT else d.era.white_max
            blob = xgboost_onnx(model, x.shape[1], f"powerball_{name}")
            native = model.predict_proba(x, base_margin=prior_margin(classes, d.chance[k], len(x)))
            idx = np.asarray(classes) - 1
            check_parity(blob, x, native, output="probabilities", label=name,
                         transform=lambda raw: position_distribution(raw, classes, pool, d.chance[k], 0.0)[:, idx])
            (out / f"{name}.onnx").write_bytes(blob)
            blobs.append(blob)
            positions.append({"name": name, "file": f"{name}.onnx", "classes": classes,
                              "pool": "powerball" if name == "powerball" else "white"})
        return positions, blobs


# -- baselines --------------------------------------------------------------
class Uniform:
    """Uniform random picks: every number equally likely per ball, the exact chance distribution."""

    name = "uniform"

    def __init__(self, data: Draws):
        self.data = data

    def spec(self) -> dict[str, Any]:
        return {"era": self.data.era.name}

    def fit(self, frame: pd.DataFrame) -> "Uniform":
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return 1.0 / frame["pool"].map(self.data.pool_size).to_numpy(float)


class Frequency:
    """Hot numbers: each number's share of the balls of its pool in the fitting draws (add-one smoothed),
    what a player who believes in streaks would use."""

    name = "era_frequency"

    def __init__(self, data: Draws):
        self.data = data

    def spec(self) -> dict[str, Any]:
        return {"era": self.data.era.name, "smoothing": "add-one"}

    def fit(self, frame: pd.DataFrame) -> "Frequency":
        counts = frame.groupby(["pool", "number"])["y"].sum()
        totals = counts.groupby(level="pool").transform("sum")
        sizes = counts.index.get_level_values("pool").map(self.data.pool_size).to_numpy(float)
        self.p_ = ((counts + 1) / (totals + sizes)).to_dict()
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.array([self.p_[key] for key in zip(frame["pool"], frame["number"])])


# -- the flow ---------------------------------------------------------------
def evaluate(data: Draws, holdout: int, rounds: int, seed: int, quiet: bool):
    """The kernel flow on this era; then the test window of the chosen model against chance.
    Returns (outcome, metrics for the manifest, test-window predictions for holdout.json)."""
    n = len(data.white)
    if n - 2 * holdout < WARMUP + 100:
        raise ValueError(f"era {data.era.name}: {n} draws leave too few for fitting before two {holdout}-draw windows")
    frame = data.frame()
    plan = RollingOrigin(time="date", horizon=holdout, n_validation=1, n_test=1)
    candidates = [PositionBoost(data, shrink=s, rounds=rounds, seed=seed, quiet=quiet) for s in SHRINKS]
    outcome = run(frame, plan, candidates=candidates, baselines=[Uniform(data), Frequency(data)], metrics=METRICS,
                  metric=METRIC, keys=["draw", "pool", "number"], serve_baseline=False, by_horizon=False, quiet=quiet,
                  label="powerball: backtest", block="draw", seeds=SEEDS)

    # The chosen candidate as fitted for the test fold (the same boosters, from the cache): its
    # per-position and per-draw distributions, which the chance tests need.
    test_fold = next(f for f in plan.folds(frame) if f.role == TEST)
    chosen = next(c for c in candidates if c.name == outcome.choice.chosen)
    fold_model = fresh(chosen).fit(frame.loc[test_fold.fit])
    draws = np.unique(frame.loc[test_fold.predict, "draw"])
    positions, weights, power_probs = fold_model.distributions(draws)
    rows = outcome.rows(TEST)
    if not np.array_equal(rows["prediction"].to_numpy(),
                          per_row(rows, draws, weights / WHITE_COUNT, power_probs)):
        raise RuntimeError("the test-window distributions differ from the backtest's predictions")
    domain = against_chance(positions, weights, power_probs, data.white[draws], data.power[draws], data.era, seed)
    if not np.isclose(domain["log_loss"]["model"], outcome.test[chosen.name][METRIC], rtol=1e-12):
        raise RuntimeError("log loss per ball disagrees between the kernel table and the chance evaluation")
    ll, top = domain["log_loss"], domain["top_ticket"]
    outcome.summary = outcome.restate(note=(
        f"last {holdout} draws of the {data.era.name} era, chosen on the {holdout} before; "
        f"log-loss test {fmt_p(ll['test']['p_value'])}; top-ticket matches "
        f"{top['mean_matches']:.3f} vs {top['chance_mean_matches']:.3f} by chance, {fmt_p(top['p_value'])}"))
    metrics = outcome.metrics(**domain)
    predictions = {"era": data.era.name, "decimals": DECIMALS, "model": chosen.name,
                   "dates": [data.dates[i] for i in draws], "white_balls": data.white[draws].tolist(),
                   "powerball": data.power[draws].tolist(), "white_weights": weights.tolist(),
                   "powerball_probs": power_probs.tolist()}
    return outcome, metrics, predictions


def final_artifacts(outcome, data: Draws, out: Path) -> dict[str, Any]:
    """Export the refitted chosen model; its next-draw probabilities through ONNX, as serving computes them."""
    model: PositionBoost = outcome.model
    positions, blobs = model.export(out)
    n = len(data.white)
    _, weights, power_probs = model.distributions(np.array([n]), onnx=blobs)
    uniformity = {
        pool: {key: test[key] for key in ("statistic", "df", "p_value")}
        for pool, test in (
            ("white", pool_statistics(indicators(data.white, data.era.white_max), WHITE_COUNT)["uniformity"]),
            ("powerball", pool_statistics(indicators(data.power[:, None], data.era.powerball_max), 1)["uniformity"]))}
    return {"model": model.name, "shrink": model.shrink, "positions": positions, "fit_draws": len(model.draws_),
            "uniformity": uniformity,
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
    parser.add_argument("--holdout", type=int, default=HOLDOUT,
                        help=f"draws in the test window, and in the validation window before it (default {HOLDOUT})")
    args = parser.parse_args(argv)
    if args.small:  # the kernel's quick slice for tests and smoke runs
        args.rounds = 3
    if args.rounds < 1 or args.holdout < 20:
        parser.error("--rounds must be >= 1 and --holdout >= 20")
    seed_everything(args.seed)
    quiet = progress_disabled(args.quiet)
    eras, draws = load_draws()
    if args.until is not None:
        draws = [d for d in draws if d.date <= args.until]
    era = eras[-1]
    current = era_draws(draws, era)
    white, power = era_arrays(current)
    data = Draws(white, power, [d.date.isoformat() for d in current], era)
    print(f"powerball: {len(draws)} draws in {len(eras)} eras; current era {era.name}: {len(current)} draws "
          f"{data.dates[0]}..{data.dates[-1]}", file=sys.stderr)

    outcome, metrics, predictions = evaluate(data, args.holdout, args.rounds, args.seed, quiet)
    out = build_dir(args.output)
    final = final_artifacts(outcome, data, out)
    write_json(out / "draws.json", {"eras": [e.as_json() for e in eras], "draws": [d.as_json() for d in draws]})
    write_json(out / "holdout.json", predictions)
    write_json(out / "model.json", {
        "era": era.name, "method": METHOD.format(shrink=final["shrink"]), "windows": list(WINDOWS), "warmup": WARMUP,
        "evaluation": metrics["statement"], "edge_detected": metrics["significance"]["edge_detected"],
        "last_draw": data.dates[-1], **final}, indent=1)
    features = (feature_descriptions("white", era.white_max) + feature_descriptions("powerball", era.powerball_max))
    manifest = finish(SERVICE, out, metrics=metrics, features=features,
                      data_fingerprint=fingerprint_files(DATA, ERAS),
                      libraries=installed(["numpy", "scipy", "pandas", "xgboost", "xgboost-cpu", "onnxruntime",
                                           "onnxmltools"]),
                      store_uri=args.store_uri, publish=not args.no_publish, data_end=data.dates[-1],
                      extra={"training": {"seed": args.seed, "until": args.until and args.until.isoformat(), "rounds": args.rounds, "holdout": args.holdout,
                                          "era": era.name, "shrink_candidates": list(SHRINKS),
                                          "served": final["model"], "shrink": final["shrink"],
                                          "windows": list(WINDOWS), "warmup": WARMUP, "positions": POSITIONS,
                                          "xgboost": {**XGB_PARAMS, "n_estimators": args.rounds,
                                                      "base_margin": "ln(chance distribution of the position)"}}})
    print(outcome.choice.reason, file=sys.stderr)
    print(metrics["summary"]["statement"], file=sys.stderr)
    print(metrics["statement"], file=sys.stderr)
    return manifest


if __name__ == "__main__":
    main()
