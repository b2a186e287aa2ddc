"""The projector's settings: the backbone's, plus Postgres and batching."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, field_validator

from piyasa_common.settings import BackboneSettings

_SCHEMES = ("postgresql", "postgres", "postgresql+asyncpg")


def asyncpg_dsn(url: str) -> str:
    """`postgresql://...` (what asyncpg accepts) from any of the accepted spellings."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in _SCHEMES:
        raise ValueError(f"expected one of {', '.join(s + '://' for s in _SCHEMES)}")
    return f"postgresql://{rest}"


def sqlalchemy_url(url: str) -> str:
    """`postgresql+asyncpg://...`: SQLAlchemy (and so Alembic) over the same driver."""
    return "postgresql+asyncpg://" + asyncpg_dsn(url).partition("://")[2]


def database_password(url: str) -> str | None:
    """The password in a database URL, so that logs can mask it."""
    return urlsplit(asyncpg_dsn(url)).password


class ProjectorSettings(BackboneSettings):
    """`DATABASE_URL` accepts `postgresql://`, `postgres://` and `postgresql+asyncpg://`."""

    database_url: str = Field(
        "postgresql://postgres@127.0.0.1:5432/piyasa",
        validation_alias=AliasChoices("DATABASE_URL", "PIYASA_DATABASE_URL"),
    )
    batch_size: int = Field(
        500, ge=1, le=10_000, description="Messages fetched and committed per transaction."
    )
    fetch_timeout_s: float = Field(
        1.0, gt=0, le=30, description="How long an idle fetch waits; bounds stop latency."
    )
    consumer_inactive_s: float = Field(
        5.0, ge=1, le=3600, description="The server deletes an abandoned ephemeral consumer."
    )
    retry_delay_s: float = Field(1.0, gt=0, le=300, description="Pause after a failure.")
    db_probe_interval_s: float = Field(5.0, gt=0, le=300)
    db_pool_size: int = Field(4, ge=2, le=50)
    db_timeout_s: float = Field(30.0, gt=0, le=600, description="Per statement and per acquire.")

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, v: str) -> str:
        return asyncpg_dsn(v)
