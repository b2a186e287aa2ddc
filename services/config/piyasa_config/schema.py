"""The config service's own tables: operators, their API keys and login sessions.

They are not projections: nothing in the log could rebuild them, so the
projector's rebuild never touches them (they are not in its
`PROJECTION_TABLES`) and backups must include them. They have their own
Alembic history and version table (`config_alembic_version`), so the two
services migrate one database independently.
"""

from __future__ import annotations

from typing import Final

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    ForeignKey,
    Index,
    MetaData,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import TIMESTAMP
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from piyasa_config.settings import sqlalchemy_url

metadata: Final = MetaData()

VERSION_TABLE: Final = "config_alembic_version"

# pg_advisory_xact_lock key: replicas starting together migrate one at a time.
_MIGRATION_LOCK: Final = 0x70_69_79_61_73_61_02  # "piyasa" + 2 (the projector's is + 1)

ROLES: Final = ("viewer", "operator", "admin")


def _timestamp() -> TIMESTAMP:
    return TIMESTAMP(timezone=True)


operators: Final = Table(
    "operators",
    metadata,
    Column("id", Text, primary_key=True),
    Column("username", Text, nullable=False, unique=True),
    Column("role", Text, nullable=False),
    Column("password_hash", Text, comment="argon2id; NULL: API keys only"),
    Column("totp_secret", Text, comment="base32 TOTP secret; required with a password"),
    Column("totp_last_step", BigInteger, comment="last accepted TOTP step: no code twice"),
    Column("disabled", Boolean, nullable=False, server_default=text("false")),
    Column("created_at", _timestamp(), nullable=False),
    CheckConstraint("role IN ('viewer', 'operator', 'admin')", name="operators_role"),
    CheckConstraint(
        "password_hash IS NULL OR totp_secret IS NOT NULL", name="operators_password_needs_mfa"
    ),
)

api_keys: Final = Table(
    "api_keys",
    metadata,
    Column("id", Text, primary_key=True),
    Column("operator_id", Text, ForeignKey("operators.id", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False),
    Column("key_hash", Text, nullable=False, unique=True, comment="sha256 of the key, hex"),
    Column(
        "prefix", Text, nullable=False, comment="the key's first characters, to tell keys apart"
    ),
    Column("created_at", _timestamp(), nullable=False),
    Column("revoked_at", _timestamp()),
    Index("api_keys_operator_id", "operator_id"),
)

sessions: Final = Table(
    "sessions",
    metadata,
    Column("token_hash", Text, primary_key=True, comment="sha256 of the bearer token, hex"),
    Column("operator_id", Text, ForeignKey("operators.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", _timestamp(), nullable=False),
    Column("expires_at", _timestamp(), nullable=False),
    Index("sessions_expires_at", "expires_at"),
)

OWN_TABLES: Final[tuple[str, ...]] = ("operators", "api_keys", "sessions")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", "piyasa_config:migrations")
    return config


async def migrate(database_url: str) -> None:
    """Bring the config service's tables to the latest revision; idempotent."""
    engine = create_async_engine(sqlalchemy_url(database_url), poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            await conn.run_sync(_upgrade)
    finally:
        await engine.dispose()


def _upgrade(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
