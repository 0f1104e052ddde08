"""The fresh-data check: matches after the model's data end, predicted by the served artifact as
serving loads it (ForecastModel.predict: the tournament's results up to the data end, no later
results), beside the three baselines computed from the same served state.

    python -m services.common.report --fresh forecast data/attendance/<any shipped file> [--manifest DIR/manifest.json]

FILE is the folder of the shipped attendance files (or any one of them: its folder is read), in the
shipped schema (services/forecast/dataset.py). Only matches after the manifest's data_end are scored;
MAE in spectators, blocks = match days, coverage per competition and stage.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from services.common import evaluation as ev
from services.common.errors import InputError
from services.common.fresh import FreshDataError, FreshTable, data_end

from . import dataset
from .model import ForecastModel
from .monitoring import BASELINE_COLUMNS


def _load(path: Path) -> pd.DataFrame:
    folder = path if path.is_dir() else path.parent
    missing = [n for n in dataset.DATA_FILES if not (folder / n).is_file()]
    if missing:
        raise FreshDataError(f"{folder}: missing {missing} (the shipped attendance files, same schema)")
    try:
        return dataset.load_matches(folder)
    except (KeyError, ValueError) as exc:
        raise FreshDataError(f"{folder}: not in the shipped attendance schema ({exc})") from None


def evaluate(model_dir: Path, manifest: dict[str, Any], path: Path) -> FreshTable:
    served = ForecastModel(model_dir, manifest)
    end = data_end(manifest)
    frame = _load(Path(path))
    later = frame[frame["day"].dt.strftime("%Y-%m-%d") > end]
    if later.empty:
        raise FreshDataError(f"no matches after the model's data end {end} in {path}; train with --until")
    rows, skipped = [], []
    for r in later.itertuples():
        try:
            out = served.predict(team_a=r.team_a, team_b=r.team_b, stadium=r.stadium, hour=float(r.hour),
                                 stage=r.stage, day=r.day.date())
            warnings: list[str] = []
            _, named, _ = served.features(tournament=out["tournament"], stadium=out["stadium"],
                                          team_a=served.resolve_team(r.team_a, warnings),
                                          team_b=served.resolve_team(r.team_b, warnings), stage=out["stage"],
                                          hour=float(r.hour), day=r.day.date())
        except InputError as exc:
            skipped.append(f"{r.day.date()} {r.team_a}-{r.team_b}: {exc}")
            continue
        cap = float(out["stadium_capacity"])
        common = {"row": len(rows) // 1, "day": r.day.strftime("%Y-%m-%d"), "competition": out["competition"],
                  "stage": r.stage, "actual": min(float(r.attendance), cap), "capacity": cap}
        rows.append({**common, "model": out["model"], "prediction": float(out["predicted_attendance"]),
                     "lower": float(out["confidence_interval"][0]), "upper": float(out["confidence_interval"][1])})
        for name, column in BASELINE_COLUMNS.items():
            rows.append({**common, "model": name, "prediction": min(max(float(named[column]), 0.0), 1.0) * cap})
    if not rows:
        raise FreshDataError(f"none of the {len(later)} matches after {end} can be predicted: {skipped[:3]}")
    table = pd.DataFrame(rows)
    table["row"] = table.groupby("model").cumcount()
    models = list(dict.fromkeys(table["model"]))
    if len(models) != 1 + len(BASELINE_COLUMNS):
        raise FreshDataError(f"the later matches span competitions served by different models ({models}); "
                             "pass one competition's later matches")
    served_name = models[0]
    first, last = table["day"].min(), table["day"].max()
    description = (f"forecast: {int((table['model'] == served_name).sum())} later matches {first} .. {last} "
                   f"after the data end {end}, predicted by the served model ({served_name}) from the results "
                   f"up to the data end; MAE in spectators, blocks = match days"
                   + (f"; {len(skipped)} skipped (outside what serving accepts)" if skipped else ""))
    return FreshTable(table=table, metric="mae", metrics={"mae": ev.mae}, served=served_name,
                      baselines=[b for b in BASELINE_COLUMNS if b != served_name], description=description,
                      block="day", segments=("competition", "stage"),
                      extra={"skipped": skipped} if skipped else {})
