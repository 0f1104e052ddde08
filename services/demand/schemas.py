"""Request and response schemas of the demand API (validated here, published in openapi.json)."""
from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field, field_validator

from services.common.api import RequestModel

FIRST_DATE, LAST_DATE = date(2000, 1, 1), date(2035, 12, 31)


def parse_day(value: str) -> date:
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError("must be a date YYYY-MM-DD") from None
    if not FIRST_DATE <= day <= LAST_DATE:
        raise ValueError(f"must be between {FIRST_DATE} and {LAST_DATE}")
    return day


def normalise_id(value: int | str) -> str:
    text = str(value).strip()
    if not text.isdigit() or len(text) > 16:
        raise ValueError("must be a numeric id (an integer or a string of digits); see GET /api/demand/catalog")
    return text


class Target(RequestModel):
    date: str = Field(description="any day of the week to predict, YYYY-MM-DD; weeks run Thursday..Wednesday "
                                  "and are named by their Wednesday, as in the data", examples=["2011-06-15"])
    store_id: int | str = Field(description="store number (STORE_NUM), e.g. 25027; see GET /api/demand/catalog",
                                examples=[25027])
    product_id: int | str = Field(description="product UPC, e.g. 7192100337; see GET /api/demand/catalog",
                                  examples=["7192100337"])
    base_price: float | None = Field(None, gt=0, le=1000, description="regular price in USD; default: the "
                                                                      "product's usual base price in the training data")

    @field_validator("date")
    @classmethod
    def _date(cls, value: str) -> str:
        parse_day(value)
        return value

    @field_validator("store_id", "product_id")
    @classmethod
    def _id(cls, value: int | str) -> str:
        return normalise_id(value)


class PredictRequest(Target):
    price: float = Field(gt=0, le=1000, description="shelf price in USD", examples=[4.99])
    promotion: bool | None = Field(None, description="true = on display and in the feature ad (the seed's field); "
                                                     "send either this or display/feature/tpr")
    display: int | None = Field(None, ge=0, le=1, description="0/1 in-store display")
    feature: int | None = Field(None, ge=0, le=1, description="0/1 featured in the retailer's ad")
    tpr: int | None = Field(None, ge=0, le=1, description="0/1 temporary price reduction only; default: 1 when "
                                                          "price < base_price without display or feature (as in the data)")


class PredictResponse(BaseModel):
    prediction: float = Field(description="expected units sold in the week")
    model_version: str
    model: str = Field(description="the model that won the hold-out comparison")
    week_ending: str
    store_id: str
    product_id: str
    price: float
    base_price: float
    base_price_source: str = Field(description="'request' or 'usual price'")
    display: int
    feature: int
    tpr: int


class PriceCurveRequest(Target):
    price_min: float | None = Field(None, gt=0, le=1000, description="default: the lowest shelf price seen for "
                                                                     "the product")
    price_max: float | None = Field(None, gt=0, le=1000, description="default: the highest shelf price seen")
    steps: int = Field(21, ge=2, le=201, description="number of prices on the grid, 2..201")


class CurvePoint(BaseModel):
    price: float
    units: float
    revenue: float


class Curve(BaseModel):
    display: int
    feature: int
    points: list[CurvePoint]
    best_price: float = Field(description="the price on the grid that maximises revenue = price x units")
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
