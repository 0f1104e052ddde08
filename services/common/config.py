"""Service configuration from environment variables, validated at start.

A bad value fails fast with a message that names the variable.
"""
from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_STORE_URI = (PROJECT_ROOT / "var" / "models").as_uri()


class ConfigError(RuntimeError):
    """Raised when an environment variable holds a value the service cannot use."""


class Settings(BaseSettings):
    """Settings shared by every service; each field is one environment variable."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    model_store_uri: str = Field(DEFAULT_STORE_URI, description="file:///path or s3://bucket/prefix")
    model_cache_dir: Path = Field(PROJECT_ROOT / "var" / "cache" / "models", description="local download cache")
    model_refresh_seconds: float = Field(30.0, ge=0, description="LATEST poll interval; 0 disables polling")
    model_start_wait_seconds: float = Field(30.0, ge=0, description="how long a request that reaches a worker "
                                            "still loading its first model waits for it (then 503); /health and "
                                            "/ready never wait")
    cors_origins: str = Field("", description="comma-separated allowed origins; '*' allows all")
    max_content_length: int = Field(1_048_576, ge=1024, description="largest request body in bytes")
    log_level: str = Field("INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")
    validate_responses: bool = Field(False, description="check every response against its documented schema "
                                     "(a mismatch becomes a 500); on in tests, off in production")

    @field_validator("model_store_uri")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith(("file://", "s3://")):
            raise ValueError("must start with file:// or s3://")
        return value

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]


def load_settings(**overrides) -> Settings:
    """Build settings from the environment (plus overrides), naming the bad variable on error."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None
