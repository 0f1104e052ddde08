"""Request and response schemas of the demand API (validated here, published in openapi.json)."""
from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from services.common.api import QueryModel, RequestModel
from services.common.fields import Flag, date_field

FIRST_DATE, LAST_DATE = date(2000, 1, 1), date(2035, 12, 31)
Day = date_field(earliest=FIRST_DATE, latest=LAST_DATE)


def normalise_id(value: Any) -> str:
    text = str(value).strip() if type(value) in (int, str) else ""
    if not text.isascii() or not text.isdigit() or len(text) > 16:
        raise PydanticCustomError("numeric_id", "must be a numeric id (an integer or a string of digits); "
                                                "see GET /api/demand/catalog")
    return text


NumericId = Annotated[str, PlainValidator(normalise_id),
                      WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": "^[0-9]{1,16}$"}]})]
"""An id sent as a number or a string of digits; the view gets the string of digits."""


class Target(RequestModel):
    date: Day = Field(description="any day of the week to predict, YYYY-MM-DD; weeks run Thursday..Wednesday "
                                  "and are named by their Wednesday, as in the data", examples=["2011-06-15"])
    store_id: NumericId = Field(description="store number (STORE_NUM), e.g. 25027; see GET /api/demand/catalog",
                                examples=[25027])
    product_id: NumericId = Field(description="product UPC, e.g. 7192100337; see GET /api/demand/catalog",
                                  examples=["7192100337"])
    base_price: float | None = Field(None, gt=0, le=1000, description="regular price in USD; default: the "
                                                                      "product's usual base price in the training data")


class PredictRequest(Target):
    price: float = Field(gt=0, le=1000, description="shelf price in USD", examples=[4.99])
    promotion: bool | None = Field(None, description="true = on display and in the feature ad (the seed's field); "
                                                     "send either this or display/feature/tpr")
    display: Flag | None = Field(None, description="in-store display: 0/1 or false/true")
    feature: Flag | None = Field(None, description="featured in the retailer's ad: 0/1 or false/true")
    tpr: Flag | None = Field(None, description="temporary price reduction only: 0/1 or false/true; default: 1 when "
                                               "price < base_price without display or feature (as in the data)")


class PredictResponse(BaseModel):
    prediction: float = Field(description="expected units sold in the week")
    model_version: str
    model: str = Field(description="the model chosen on the validation windows (see GET /api/demand/model)")
    week_ending: str
    store_id: str
    product_id: str
    price: float
    base_price: float
    base_price_source: str = Field(description="'request' or 'usual price'")
    display: int
    feature: int
    tpr: int
    warnings: list[str] = Field(description="what the answer cannot vouch for: a price outside those seen for the "
                                            "product, a store x product never seen in the training data")


class PriceCurveRequest(Target):
    price_min: float | None = Field(None, gt=0, le=1000, description="default: the lowest shelf price seen for "
                                                                     "the product")
    price_max: float | None = Field(None, gt=0, le=1000, description="default: the highest shelf price seen")
    steps: int = Field(21, ge=2, le=201, description="number of prices on the grid, 2..201")


class CurvePoint(BaseModel):
    price: float
    units: float
    revenue: float
    within_seen_prices: bool = Field(description="false where the price lies outside the shelf prices seen for the "
                                                 "product in the training data (the model extrapolates there)")


class Curve(BaseModel):
    display: int
    feature: int
    points: list[CurvePoint]
    best_price: float = Field(description="the price on the grid that maximises revenue = price x units, among the "
                                          "prices seen for the product when the grid has any")
    best_units: float
    best_revenue: float


class PriceCurveResponse(BaseModel):
    model_version: str
    model: str
    week_ending: str
    store_id: str
    product_id: str
    base_price: float
    base_price_source: str
    observed_price_range: list[float] = Field(description="shelf prices seen for the product in training data")
    without_promotion: Curve
    with_promotion: Curve
    promotion_lift_at_best_price: float = Field(description="units with promotion / without, at the best "
                                                            "no-promotion price")
    warnings: list[str] = Field(description="prices of the grid outside those seen for the product, a store x "
                                            "product never seen in the training data")
    notes: list[str]


class StoreEntry(BaseModel):
    store_id: str
    rows: int
    mean_units: float


class ProductEntry(BaseModel):
    product_id: str
    manufacturer: str
    usual_price: float
    min_price: float
    max_price: float
    rows: int
    mean_units: float


class CatalogResponse(BaseModel):
    model_version: str
    first_week: str
    last_week: str
    stores: list[StoreEntry]
    products: list[ProductEntry]


class HistoryQuery(QueryModel):
    store_id: NumericId = Field(description="store number (STORE_NUM); see GET /api/demand/catalog")
    product_id: NumericId = Field(description="product UPC; see GET /api/demand/catalog")
    weeks: int = Field(156, ge=1, le=520, description="how many of the latest weeks of the pair, 1..520")


class HistoryWeek(BaseModel):
    week_ending: str = Field(description="the Wednesday that ends the week")
    units: int
    price: float = Field(description="shelf price that week, USD")
    base_price: float
    display: int
    feature: int
    tpr: int


class HeldOutPoint(BaseModel):
    week_ending: str
    actual: int
    model: float = Field(description="the chosen model's prediction, fitted on the weeks before the test window")
    baseline: float = Field(description="the strongest other baseline's prediction, fitted the same way")


class TestWindow(BaseModel):
    model: str = Field(description="the model chosen on the validation windows (the one served, refitted)")
    baseline: str = Field(description="the strongest other baseline on the test window")
    first_week: str
    last_week: str
    points: list[HeldOutPoint] = Field(description="the pair's test weeks among the weeks returned")


class HistoryResponse(BaseModel):
    model_version: str
    store_id: str
    product_id: str
    total_weeks: int = Field(description="weeks of this store x product in the data (0: never sold together)")
    weeks: list[HistoryWeek] = Field(description="actual weeks, oldest first, from the served artifact")
    test: TestWindow = Field(description="held-out predictions of the test window (the backtest's test fold)")
