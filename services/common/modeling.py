"""The one interface every candidate and every baseline has, and two small adapters.

A model is any object with
    name: str
    fit(frame: pandas.DataFrame) -> self
    predict(frame: pandas.DataFrame) -> numpy.ndarray          one number per row
and, where it has intervals,
    predict_interval(frame, level: float) -> (lower, upper)    level in (0, 1), e.g. 0.8

as statsforecast's models have one `fit`/`predict` whether they are AutoARIMA or SeasonalNaive.
A model object is a template: the backtest deep-copies it before each fit, so one instance can be
listed once and fitted per fold. `predict` never sees the target column (the backtest drops it),
so a model cannot read the answer. Training code only: serving never imports this module.
"""
from __future__ import annotations

import copy
import math
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np
import pandas as pd


@runtime_checkable
class Model(Protocol):
    name: str

    def fit(self, frame: pd.DataFrame) -> "Model": ...

    def predict(self, frame: pd.DataFrame) -> np.ndarray: ...


def fresh(model: Any) -> Any:
    """An unfitted copy of a model template."""
    return copy.deepcopy(model)


def has_intervals(model: Any) -> bool:
    return callable(getattr(model, "predict_interval", None))


class Regressor:
    """A scikit-learn-style estimator (scikit-learn, XGBoost, LightGBM) on named feature columns.

    Rows become float32 arrays in the column order given, the order serving uses; `fit_params`
    are passed to the estimator's `fit` (e.g. `{"sample_weight": "weight_column"}` names a column).
    """

    def __init__(self, name: str, estimator: Any, features: Sequence[str], target: str = "y",
                 fit_params: dict[str, str] | None = None):
        self.name, self.estimator, self.features, self.target = name, estimator, list(features), target
        self.fit_params = dict(fit_params or {})

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        missing = [c for c in self.features if c not in frame.columns]
        if missing:
            raise ValueError(f"{self.name}: the frame lacks feature columns {missing}")
        return np.ascontiguousarray(frame[self.features].to_numpy(np.float32))

    def fit(self, frame: pd.DataFrame) -> "Regressor":
        params = {arg: frame[column].to_numpy() for arg, column in self.fit_params.items()}
        self.estimator.fit(self.matrix(frame), frame[self.target].to_numpy(float), **params)
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.estimator.predict(self.matrix(frame)), dtype=float).ravel()


def shrink_to_prior(estimates, variances, prior) -> tuple[np.ndarray, float]:
    """Empirical-Bayes partial pooling: each group's estimate, of sampling variance v, moved toward
    the prior by tau2 / (tau2 + v), where tau2 (the spread of the true group values around the prior)
    is the estimates' excess variance over their sampling noise, by moments. A group with little
    data keeps little of its own estimate; no shrinkage constant is tuned. Returns (shrunk, tau2)."""
    est, var = np.asarray(estimates, dtype=float), np.asarray(variances, dtype=float)
    prior = np.broadcast_to(np.asarray(prior, dtype=float), est.shape)
    if est.size == 0:
        return est.copy(), 0.0
    tau2 = max(float(np.mean((est - prior) ** 2) - np.mean(var)), 1e-9)
    return prior + tau2 / (tau2 + var) * (est - prior), tau2


def conformal_quantile(residuals: np.ndarray, level: float) -> float:
    """Split-conformal half-width: the ceil((n + 1) level)-th smallest absolute residual, which
    covers a new exchangeable residual with probability >= level. Refuses too few residuals."""
    r = np.sort(np.abs(np.asarray(residuals, dtype=float)))
    if not 0 < level < 1:
        raise ValueError("level must be in (0, 1)")
    rank = math.ceil((len(r) + 1) * level)
    if rank > len(r):
        raise ValueError(f"{len(r)} calibration residuals cannot give a {level:.0%} interval; need at least "
                         f"{math.ceil(level / (1 - level))}")
    return float(r[rank - 1])


class Conformal:
    """Intervals for any model: residuals from a backtest of it on the fitting frame itself
    (`calibration` is a split plan laid on that frame, so only rows before the caller's origin are
    used), optionally per value of a column (`by="horizon"` on a stacked frame); then the model is
    fitted on the whole frame. predict is the wrapped model's.

    `relative=True` calibrates |log(actual / prediction)| and gives prediction x exp(-+q): for
    positive targets whose errors scale with the level (a store ten times larger errs ten times
    more), one width in log terms fits every series where one width in units fits none."""

    def __init__(self, model: Any, calibration: Any, *, by: str | None = None, target: str = "y",
                 name: str | None = None, relative: bool = False):
        self.model, self.calibration, self.by, self.target = model, calibration, by, target
        self.name = name or model.name
        self.relative = relative

    def fit(self, frame: pd.DataFrame) -> "Conformal":
        from .backtest import backtest

        table = backtest([self.model], frame, self.calibration, target=self.target,
                         carry=[self.by] if self.by else (), quiet=True)
        if self.relative:
            if not ((table["actual"] > 0).all() and (table["prediction"] > 0).all()):
                raise ValueError(f"{self.name}: relative intervals need positive actuals and predictions")
            residuals = np.log(table["actual"] / table["prediction"]).abs()
        else:
            residuals = (table["actual"] - table["prediction"]).abs()
        self.residuals_ = {"*": residuals.to_numpy()}
        if self.by:
            self.residuals_.update({k: g.to_numpy() for k, g in residuals.groupby(table[self.by])})
        self.fitted_ = fresh(self.model).fit(frame)
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self.fitted_.predict(frame)

    def half_widths(self, frame: pd.DataFrame, level: float) -> np.ndarray:
        if not self.by:
            return np.full(len(frame), conformal_quantile(self.residuals_["*"], level))
        cache: dict[Any, float] = {}
        out = []
        for value in frame[self.by].tolist():
            if value not in cache:
                cache[value] = conformal_quantile(self.residuals_.get(value, self.residuals_["*"]), level)
            out.append(cache[value])
        return np.array(out)

    def predict_interval(self, frame: pd.DataFrame, level: float) -> tuple[np.ndarray, np.ndarray]:
        centre, width = self.predict(frame), self.half_widths(frame, level)
        if self.relative:
            return centre * np.exp(-width), centre * np.exp(width)
        return centre - width, centre + width
