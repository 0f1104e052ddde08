"""Powerball on draws the model never saw: `python -m services.common.report --fresh powerball FILE`.

FILE has the columns of the shipped NY open-data export (Draw Date, Winning Numbers, Multiplier,
...). Each draw after the model's data end is predicted as serving would have predicted it had the
service been shown every draw before it: the served ONNX position models on the features of all
earlier draws (the shipped ones and the file's earlier ones), with the served chance mix. Baselines:
uniform picks (exact chance) and each number's add-one frequency in the draws the model was trained
on. The metric is log loss per ball (lower is better); the bootstrap resamples whole draws.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from services.common import evaluation as ev
from services.common.fresh import FreshDataError, FreshTable, data_end
from services.common.onnx import OnnxModel

from .eras import DrawError, era_draws, parse_csv, sort_draws
from .features import indicators, pool_features
from .model import PowerballModel
from .probability import WHITE_COUNT, chance_distributions, position_distribution, white_inclusion


def evaluate(model_dir: Path, manifest: dict[str, Any], path: Path) -> FreshTable:
    served = PowerballModel(model_dir, manifest)          # re-checks the artifact as serving does
    spec = json.loads((model_dir / "model.json").read_text())
    end = data_end(manifest)
    try:
        later = [d for d in parse_csv(path, served.eras) if d.date.isoformat() > end]
    except DrawError as exc:
        raise FreshDataError(str(exc)) from None
    if not later:
        raise FreshDataError(f"no draws after the model's data end {end} in {path}")
    other = sorted({d.era for d in later} - {served.era.name})
    if other:
        raise FreshDataError(f"draws after {end} belong to era(s) {other}, not the model's {served.era.name}")
    shipped = era_draws(served.draws, served.era)
    draws = sort_draws([*shipped, *later])
    white = indicators(np.array([d.white_balls for d in draws]), served.era.white_max)
    power = indicators(np.array([[d.powerball] for d in draws]), served.era.powerball_max)
    rows = np.arange(len(shipped), len(draws))               # feature row t sees draws 0..t-1
    x_white, x_power = pool_features(white)[rows], pool_features(power)[rows]
    chance = chance_distributions(served.era.white_max, served.era.powerball_max)
    probs = []
    for k, position in enumerate(spec["positions"]):
        is_power = position["pool"] == "powerball"
        raw = OnnxModel(model_dir / position["file"], output="probabilities").run(x_power if is_power else x_white)
        pool = served.era.powerball_max if is_power else served.era.white_max
        probs.append(position_distribution(raw, position["classes"], pool, chance[k], float(spec["shrink"])))
    model_white = white_inclusion(np.stack(probs[:WHITE_COUNT], axis=1)) / WHITE_COUNT
    model_power = probs[WHITE_COUNT]

    fit_white, fit_power = white[: len(shipped)], power[: len(shipped)]
    freq_white = (fit_white.sum(0) + 1) / (fit_white.sum() + served.era.white_max)
    freq_power = (fit_power.sum(0) + 1) / (fit_power.sum() + served.era.powerball_max)
    parts = []
    for pool, hits, model_p, freq, size in (("white", white[rows], model_white, freq_white, served.era.white_max),
                                            ("powerball", power[rows], model_power, freq_power,
                                             served.era.powerball_max)):
        draw = np.repeat(rows, size)
        number = np.tile(np.arange(1, size + 1), len(rows))
        base = {"draw": draw, "date": [draws[i].date.isoformat() for i in draw], "pool": pool, "number": number,
                "actual": hits.ravel()}
        for name, p in ((served_name(spec), model_p.ravel()), ("uniform", np.full(hits.size, 1.0 / size)),
                        ("era_frequency", np.tile(freq, len(rows)))):
            parts.append(pd.DataFrame({**base, "model": name, "prediction": p}))
    table = pd.concat(parts, ignore_index=True)
    table["row"] = table.groupby("model").cumcount()
    description = (f"powerball: {len(later)} later draws {later[0].date} .. {later[-1].date} of era "
                   f"{served.era.name}, each predicted from every earlier draw by the served ONNX models "
                   f"(shrink {spec['shrink']:g}); log loss per ball, blocks = draws")
    return FreshTable(table=table, metric="log_loss_per_ball", metrics={"log_loss_per_ball": ev.log_loss},
                      served=served_name(spec), baselines=["uniform", "era_frequency"], description=description,
                      block="draw")


def served_name(spec: dict[str, Any]) -> str:
    return spec["model"]
