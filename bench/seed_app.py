"""A seed-style Flask app: joblib-loaded native model, one pandas DataFrame per request.

Bench only. Run under the services' gunicorn configuration:
    BENCH_SEED_DIR=... gunicorn -c services/common/gunicorn_conf.py 'bench.seed_app:create_app()'
"""
from __future__ import annotations

import json
import os
from pathlib import Path


def create_app():
    import joblib
    import numpy as np
    import pandas as pd
    from flask import Flask, jsonify, request

    root = Path(os.environ["BENCH_SEED_DIR"])
    spec = json.loads((root / "spec.json").read_text())
    models = {name: joblib.load(root / file) for name, file in spec["files"].items()}
    names = spec["feature_names"]
    app = Flask("seed")
    rng = np.random.default_rng()

    @app.get("/seed/health")
    def health():
        return jsonify(status="ok")

    @app.post("/seed/predict")
    def predict():
        data = request.get_json()
        if spec["kind"] == "positions":
            white = pd.DataFrame([data["white"]], columns=names["white"])
            power = pd.DataFrame([data["power"]], columns=names["power"])
            probs = [m.predict_proba(power if i == len(models) - 1 else white)[0]
                     for i, m in enumerate(models.values())]
            picks = [int(rng.choice(len(p), p=p / p.sum())) for p in probs]
            return jsonify(picks=picks)
        if spec["kind"] == "rows":  # flow: every gate of a stadium, wait + anomaly score
            frame = pd.DataFrame(data["rows"], columns=names)
            wait = models["wait"].predict(frame)
            score = models["anomaly"].score_samples(frame)
            return jsonify(wait=[float(w) for w in wait], anomaly=[float(a) for a in score])
        row = pd.DataFrame([data], columns=names)
        preds = {name: float(m.predict(row)[0]) for name, m in models.items()}
        return jsonify(prediction=sum(preds.values()) / len(preds), components=preds)

    return app
