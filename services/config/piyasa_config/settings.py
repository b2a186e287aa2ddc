"""The config service's settings: the backbone's, plus PostgreSQL, HTTP, auth and secrets."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator

from piyasa_common.settings import BackboneSettings

_SCHEMES = ("postgresql", "postgres", "postgresql+asyncpg")


def asyncpg_dsn(url: str) -> str:
    """`postgresql://...` from any of the accepted spellings."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in _SCHEMES:
        raise ValueError(f"expected one of {', '.join(s + '://' for s in _SCHEMES)}")
    return f"postgresql://{rest}"


def sqlalchemy_url(url: str) -> str:
    """`postgresql+asyncpg://...`: SQLAlchemy (and Alembic) over asyncpg."""
    return "postgresql+asyncpg://" + asyncpg_dsn(url).partition("://")[2]


def database_password(url: str) -> str | None:
    return urlsplit(asyncpg_dsn(url)).password


class ConfigSettings(BackboneSettings):
    """Environment: `PIYASA_*`, plus `DATABASE_URL`.

    The API shares the runner's HTTP server (`/health/*` and `/metrics` beside
    it), so `PIYASA_HTTP_PORT` is the API's port; for this service it
    defaults to 8080 rather than to a free port.
    """

    http_port: int = Field(8080, ge=0, le=65535, description="The API's port (0: a free one).")
    database_url: str = Field(
        "postgresql://postgres@127.0.0.1:5432/piyasa",
        validation_alias=AliasChoices("DATABASE_URL", "PIYASA_DATABASE_URL"),
    )
    db_pool_size: int = Field(10, ge=1, le=100)
    db_timeout_s: float = Field(10.0, gt=0, le=300)

    fernet_keys: SecretStr | None = Field(
        None, description="Fernet keys, comma-separated, newest first (PIYASA_FERNET_KEYS)."
    )
    fernet_keys_file: Path | None = Field(
        None, description="A mounted file with one Fernet key per line, newest first."
    )

    session_ttl_s: int = Field(
        900, ge=60, le=24 * 3600, description="Lifetime of a login's bearer token."
    )
    write_rate_per_minute: int = Field(
        600, ge=1, le=1_000_000, description="Writes per API key (or login) per minute."
    )
    login_rate_per_minute: int = Field(
        10, ge=1, le=10_000, description="Login attempts per username per minute."
    )
    wait_projected_timeout_s: float = Field(
        5.0, gt=0, le=60, description="How long ?wait=projected waits for the projector."
    )
    max_page: int = Field(200, ge=10, le=1000, description="The largest page a list returns.")
    sandbox_tokens: bool = Field(
        False,
        description="Telegram is the local sandbox (`piyasa up` without --live): the wizard "
        "gives each bot it creates a token the sandbox accepts, so the example fleet talks "
        "at once. Never set against the real Bot API, where tokens come from @BotFather.",
    )

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, v: str) -> str:
        return asyncpg_dsn(v)
