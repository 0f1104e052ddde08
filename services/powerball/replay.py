"""The latest draws of the current era as actuals (and ticket requests), for the monitoring demo
(`make demo-monitoring`). These draws are in the data the model was trained on: the panel they fill
shows the machinery working, not live performance (each actual says in_training: true)."""
from __future__ import annotations

from typing import Iterator


def rows(weeks: int) -> Iterator[tuple[dict, dict]]:
    from .train import load_draws

    eras, draws = load_draws()
    current = [d for d in draws if d.era == eras[-1].name]
    for d in current[-3 * weeks:]:                     # three draws a week
        yield {"count": 1}, {"date": d.date.isoformat(), "white_balls": list(d.white_balls), "powerball": d.powerball}
