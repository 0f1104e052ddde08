"""Request and response schemas of the sales API (validated here, published in openapi.json)."""
from __future__ import annotations

from pydantic import BaseModel, Field

from services.common.api import QueryModel, RequestModel
from services.common.fields import Money, date_field

from .features import HORIZON

SalesDay = date_field(day_first=True)


class PredictRequest(RequestModel):
    Store: int = Field(ge=1, le=10_000, description="store number, 1..45 in the shipped data")
    Date: SalesDay = Field(description="a day in the week to predict, DD-MM-YYYY or YYYY-MM-DD; "
                                       "the week is Saturday..Friday, named by its Friday", examples=["10-08-2012"])
    Holiday_Flag: int = Field(ge=0, le=1, description="1 if the week holds a holiday, else 0")
    Temperature: float = Field(ge=-60, le=140, description="average temperature, deg F")
    Fuel_Price: float = Field(gt=0, le=20, description="fuel price, USD per gallon")
    CPI: float = Field(gt=0, le=1000, description="consumer price index")
    Unemployment: float = Field(ge=0, le=100, description="unemployment rate, percent")


class Components(BaseModel):
    random_forest: Money
    xgboost: Money


class PredictResponse(BaseModel):
    prediction: Money = Field(description="weekly sales, USD, rounded to cents")
    components: Components
    model_version: str
    week_ending: str = Field(description="the Friday that names the predicted week, YYYY-MM-DD")
    lags_from: str = Field(description="'history' or 'forecast' (lags after the history come from the per-store "
                                       "ARIMA forecast)")


class ForecastRequest(RequestModel):
    store_id: int = Field(ge=1, le=10_000)
    steps: int = Field(ge=1, le=HORIZON, description=f"weeks after the last week of history, 1..{HORIZON} "
                                                     "(the weeks ahead the model was backtested on)")


class ForecastPoint(BaseModel):
    Date: str
    Sales: Money
    lower: Money
    upper: Money


class ForecastResponse(BaseModel):
    store_id: int
    model_version: str
    model: str = Field(description="the forecaster chosen on the validation origins and served "
                                   "(global_linear, global_gbm, arima or a baseline)")
    interval_level: float
    interval: str = Field(description="how the interval was calibrated")
    forecast: list[ForecastPoint]


class HistoryPoint(BaseModel):
    Date: str
    Sales: Money


class HistoryQuery(QueryModel):
    store_id: int = Field(ge=1, le=10_000)
    weeks: int = Field(52, ge=1, le=520, description="how many of the latest weeks")


class HistoryResponse(BaseModel):
    store_id: int
    model_version: str
    history: list[HistoryPoint]


class StoresResponse(BaseModel):
    stores: list[int]
    first_week: str
    last_week: str
    model_version: str
