"""Per-store regression with ARMA errors on log sales, via statsmodels SARIMAX.

log y_t = c + b * log y_{t-52} + h * holiday_t + AR(1) error. The regressors are known for
every week up to 52 ahead of the history, so forecasts need nothing the caller cannot give.
Training fits the parameters; serving re-applies the stored parameters with `filter`.
"""
from __future__ import annotations

import warnings

import numpy as np

ORDER = (1, 0, 0)
TREND = "c"
SEASON = 52


def _design(log_sales: np.ndarray, holidays: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Endog and exog aligned from week 53 on (the first 52 weeks only feed the lag)."""
    endog = log_sales[SEASON:]
    exog = np.column_stack([log_sales[:-SEASON], holidays[SEASON:]])
    return endog, exog


def _model(endog: np.ndarray, exog: np.ndarray):
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    return SARIMAX(endog, exog=exog, order=ORDER, trend=TREND)


def fit(sales: np.ndarray, holidays: np.ndarray) -> list[float]:
    endog, exog = _design(np.log(sales), holidays)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = _model(endog, exog).fit(disp=False, maxiter=200)
    params = [float(p) for p in result.params]
    if not np.all(np.isfinite(params)):
        raise ValueError("ARIMA fit produced non-finite parameters")
    return params


def forecast(params: list[float], sales: np.ndarray, holidays: np.ndarray, future_holidays: np.ndarray,
             level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and interval for the len(future_holidays) weeks after `sales` (at most 52)."""
    steps = len(future_holidays)
    if not 1 <= steps <= SEASON:
        raise ValueError(f"steps must be 1..{SEASON}")
    if len(sales) < SEASON + 10:
        raise ValueError("need at least 62 weeks of history")
    log_sales = np.log(sales)
    endog, exog = _design(log_sales, holidays)
    future_exog = np.column_stack([log_sales[len(log_sales) - SEASON: len(log_sales) - SEASON + steps],
                                   future_holidays])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = _model(endog, exog).filter(np.asarray(params))
        pred = result.get_forecast(steps, exog=future_exog)
        interval = pred.conf_int(alpha=1 - level)
    mean = np.exp(np.asarray(pred.predicted_mean))
    return mean, np.exp(np.asarray(interval)[:, 0]), np.exp(np.asarray(interval)[:, 1])
