"""What the flow service monitors: the turnstile readings it ingests, against the simulated readings the
wait model was fitted on. No actuals: the real wait of a fan is not reported to the service, so only
drift can be watched here (a change in counts, processing times, queues or lanes that the simulator
did not produce is what makes the wait model's numbers doubtful)."""
from __future__ import annotations

from services.common.drift import NUMBER, Feature
from services.common.monitoring import Monitoring

# Request field <- the fitting frame's column (the newest reading of each window, features.FEATURES).
FEATURES = [
    Feature("perMinuteCount", NUMBER, columns=("count",)),
    Feature("avgProcessingTime", NUMBER, columns=("proc_s",)),
    Feature("queueLength", NUMBER, columns=("queue",)),
    Feature("openLanes", NUMBER, columns=("lanes",)),
]


def _ingest_rows(objects, model):
    return [{"perMinuteCount": r.perMinuteCount, "avgProcessingTime": r.avgProcessingTime,
             "queueLength": r.queueLength, "openLanes": r.lanes()} for r in objects["body"].readings]


def monitoring() -> Monitoring:
    return Monitoring(features=FEATURES, observe={"ingest": _ingest_rows},
                      rows={"ingest": lambda objects: len(objects["body"].readings)},
                      no_actuals_reason="the wait a fan really had is not reported to the service")
