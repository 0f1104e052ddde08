"""Flow settings from environment variables, validated at start (errors name the variable)."""
from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.config import PROJECT_ROOT, ConfigError

MAX_BATCH = 500  # readings per POST /api/flow/ingest


class FlowSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FLOW_", case_sensitive=False, extra="ignore")

    state_backend: str = Field("sqlite", pattern="^(sqlite|dynamodb)$", description="sqlite or dynamodb")
    sqlite_path: Path = Field(PROJECT_ROOT / "var" / "flow" / "state.sqlite3", description="SQLite state file")
    dynamodb_table: str = Field("", description="DynamoDB table (FLOW_STATE_BACKEND=dynamodb)")
    stale_seconds: float = Field(180.0, gt=0, description="a gate with no reading for this long is stale")
    retention_hours: float = Field(48.0, gt=0, description="stored readings expire after this long (DynamoDB TTL; SQLite prunes)")
    max_future_seconds: float = Field(86400.0, ge=0, description="how far in the future a reading's ts may be")
    max_age_seconds: float = Field(30 * 86400.0, gt=0, description="how far in the past a reading's ts may be "
                                   "(older readings are refused: a board shows the last minutes, not history)")

    @model_validator(mode="after")
    def _table_for_dynamodb(self) -> "FlowSettings":
        if self.state_backend == "dynamodb" and not self.dynamodb_table:
            raise ValueError("FLOW_DYNAMODB_TABLE is required when FLOW_STATE_BACKEND=dynamodb")
        return self


def load_flow_settings(**overrides) -> FlowSettings:
    try:
        return FlowSettings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            (f"FLOW_{'_'.join(str(p) for p in err['loc']).upper()}: " if err["loc"] else "") + err["msg"]
            for err in exc.errors())
        raise ConfigError(f"invalid configuration: {problems}") from None


def build_state_store(settings: FlowSettings):
    from .state import DynamoStateStore, SqliteStateStore

    if settings.state_backend == "dynamodb":
        return DynamoStateStore(settings.dynamodb_table, settings.retention_hours)
    return SqliteStateStore(settings.sqlite_path, settings.retention_hours)
