"""Powerball inference: loaded once per model version, so a request only samples or slices.

At load: the shipped draws are re-checked against the shipped era table, the features of the
next draw are computed with the training feature function, the six ONNX position models turn
them into probabilities (checked against the ones training computed: no train/serve skew),
and the era's statistics are computed. Imports no training library and unpickles nothing.
"""
from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import numpy as np

from services.common.onnx import OnnxModel

from .eras import Era, draws_from_json, era_draws, eras_from_json
from .features import indicators, pool_features
from .probability import WHITE_COUNT, TicketSampler, chance_distributions, position_distribution, white_inclusion
from .stats import hot_and_cold, pool_statistics

SKEW_TOLERANCE = 1e-5
STATS_NOTE = ("Frequencies describe past draws of the current era. Every draw is independent, so hot, cold and "
              "overdue numbers are no more likely to come up next; the uniformity test checks the past counts.")


class PowerballModel:
    def __init__(self, directory: Path, manifest: dict[str, Any]):
        self.version = manifest["version"]
        spec = json.loads((directory / "model.json").read_text())
        history = json.loads((directory / "draws.json").read_text())
        self.eras: list[Era] = eras_from_json(history["eras"])
        self.draws = draws_from_json(history["draws"], self.eras)
        self.era = self.eras[-1]
        if spec["era"] != self.era.name:
            raise ValueError(f"model trained for era {spec['era']!r}, but the current era is {self.era.name!r}")
        current = era_draws(self.draws, self.era)
        if not current or current[-1].date.isoformat() != spec["last_draw"]:
            raise ValueError("shipped draws do not end at the model's last draw")
        white = np.array([d.white_balls for d in current], dtype=np.int64)
        power = np.array([d.powerball for d in current], dtype=np.int64)
        self.white_hits = indicators(white, self.era.white_max)
        self.power_hits = indicators(power[:, None], self.era.powerball_max)

        # Features of the next draw: the last row of the training feature function.
        x_white = pool_features(self.white_hits)[-1:]
        x_power = pool_features(self.power_hits)[-1:]
        chance = chance_distributions(self.era.white_max, self.era.powerball_max)
        shrink = float(spec["shrink"])
        probs = []
        for k, position in enumerate(spec["positions"]):
            is_power = position["pool"] == "powerball"
            onnx = OnnxModel(directory / position["file"], output="probabilities")
            raw = onnx.run(x_power if is_power else x_white)
            pool = self.era.powerball_max if is_power else self.era.white_max
            probs.append(position_distribution(raw, position["classes"], pool, chance[k], shrink)[0])
        if len(probs) != WHITE_COUNT + 1:
            raise ValueError(f"expected {WHITE_COUNT + 1} position models, found {len(probs)}")
        self.white_weights = white_inclusion(np.stack(probs[:WHITE_COUNT]))
        self.powerball_probs = probs[WHITE_COUNT]
        expected = spec["next_draw"]
        skew = max(np.max(np.abs(self.white_weights - np.asarray(expected["white_weights"]))),
                   np.max(np.abs(self.powerball_probs - np.asarray(expected["powerball_probs"]))))
        if not skew <= SKEW_TOLERANCE:
            raise ValueError(f"serving probabilities differ from training's by {skew:.2g} (train/serve skew)")
        self.sampler = TicketSampler(self.white_weights, self.powerball_probs)

        self.method = spec["method"]
        metrics = manifest.get("metrics", {})
        self.evaluation = metrics.get("statement") or spec["evaluation"]
        self.edge_detected = bool(metrics.get("significance", {}).get("edge_detected", spec["edge_detected"]))
        trained = spec.get("uniformity", {})
        self.white_stats = self._pool_statistics(self.white_hits, WHITE_COUNT, trained.get("white"))
        self.power_stats = self._pool_statistics(self.power_hits, 1, trained.get("powerball"))
        self._draws_newest_first = [d.as_json() for d in reversed(self.draws)]
        self.current_draws = len(current)
        self.first_draw = current[0].date.isoformat()
        self.last_draw = current[-1].date.isoformat()

    @staticmethod
    def _pool_statistics(hits: np.ndarray, balls_per_draw: int, trained: dict[str, Any] | None) -> dict[str, Any]:
        """Statistics with training's p-value, after checking it belongs to these very counts.

        Versions trained before p-values were shipped have none: their test is computed here
        (importing scipy), so an older artifact still loads after a code deploy.
        """
        if trained is None:
            return pool_statistics(hits, balls_per_draw)
        stats = pool_statistics(hits, balls_per_draw, p_value=float(trained["p_value"]))
        test = stats["uniformity"]
        if test["df"] != trained["df"] or not abs(test["statistic"] - trained["statistic"]) <= 1e-9 * max(
                1.0, abs(trained["statistic"])):
            raise ValueError("the shipped draws do not give the chi-square statistic training recorded")
        return stats

    # ------------------------------------------------------------------
    def tickets(self, count: int, seed: int | None) -> tuple[list[dict[str, Any]], int]:
        seed = secrets.randbits(32) if seed is None else seed
        return self.sampler.sample(count, seed), seed

    def recent_draws(self, limit: int) -> list[dict[str, Any]]:
        return self._draws_newest_first[:limit]

    def statistics(self, window: int) -> dict[str, Any]:
        window = min(window, self.current_draws)
        white = hot_and_cold(self.white_hits, window)
        power = hot_and_cold(self.power_hits, window)
        return {
            "era": self.era.as_json(), "eras": [e.as_json() for e in self.eras],
            "draws": self.current_draws, "first_draw": self.first_draw, "last_draw": self.last_draw,
            "window": window,
            "white_balls": {**self.white_stats, "hot": white["hot"], "cold": white["cold"],
                            "window_expected_per_number": white["expected_per_number"]},
            "powerball": {**self.power_stats, "hot": power["hot"], "cold": power["cold"],
                          "window_expected_per_number": power["expected_per_number"]},
            "note": STATS_NOTE,
        }


def load(directory: Path, manifest: dict[str, Any]) -> PowerballModel:
    return PowerballModel(Path(directory), manifest)
