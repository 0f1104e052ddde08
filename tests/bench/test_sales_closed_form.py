"""The sales loader's closed-form ARIMA forecast (no statsmodels at serving) against statsmodels."""
from __future__ import annotations

import json
import shutil
from datetime import date, timedelta

import numpy as np
import pytest

from services.sales import arima
from services.sales.calendar import is_holiday_week
from services.sales.model import SalesModel


def _history(directory):
    history = json.loads((directory / "history.json").read_text())
    params = json.loads((directory / "arima.json").read_text())["params"]
    last = date.fromisoformat(history["dates"][-1])
    future = np.array([1.0 if is_holiday_week(last + timedelta(weeks=k)) else 0.0 for k in range(1, 53)])
    return history, params, future


@pytest.mark.parametrize("steps", [1, 13, 52])
def test_closed_form_matches_statsmodels(sales_artifact, steps):
    history, params, future = _history(sales_artifact)
    for key, entry in history["stores"].items():
        sales, holidays = np.asarray(entry["sales"], float), np.asarray(entry["holidays"], float)
        expected = arima.forecast_statsmodels(params[key], sales, holidays, future[:steps], 0.9)
        got = arima.forecast(params[key], sales, holidays, future[:steps], 0.9)
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g, e, rtol=1e-9)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_loader_refuses_non_finite_parameters(sales_artifact, tmp_path, bad):
    folder = tmp_path / "version"
    shutil.copytree(sales_artifact, folder)
    doc = json.loads((folder / "arima.json").read_text())
    store = next(iter(doc["params"]))
    doc["params"][store][0] = bad
    (folder / "arima.json").write_text(json.dumps(doc))
    manifest = json.loads((folder / "manifest.json").read_text())
    with pytest.raises(ValueError, match="finite"):
        SalesModel(folder, manifest)


def test_loading_imports_no_statsmodels(sales_artifact):
    import subprocess
    import sys

    code = ("import json, sys; from pathlib import Path; from services.sales.model import load; "
            f"d = Path({str(sales_artifact)!r}); load(d, json.loads((d / 'manifest.json').read_text())); "
            "print(sorted(m for m in ('statsmodels', 'scipy', 'pandas', 'sklearn', 'xgboost') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
