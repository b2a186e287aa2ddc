"""The projection schema: SQLAlchemy Core tables, and the migrations that build them.

Every table here is a projection of the log and can be dropped and rebuilt
from it (`piyasa_projector.rebuild`). Config tables hold an aggregate's full
state with `version` = the CONFIG stream sequence of its last event, which is
the resource's ETag, and `updated_at` = that event's `occurred_at` (not the
wall clock, so that a rebuilt row equals the live one column for column).

The operators' credentials tables belong to the config service and are not
here: a rebuild touches exactly `PROJECTION_TABLES` and `POSITIONS`.
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
    Double,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TIMESTAMP
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.schema import SchemaItem

from piyasa_projector.settings import sqlalchemy_url

metadata: Final = MetaData()

VERSION_TABLE: Final = "projector_alembic_version"
"""Alembic's bookkeeping, named for this service: the config service keeps its own."""

# pg_advisory_xact_lock key: replicas starting together migrate one at a time.
_MIGRATION_LOCK: Final = 0x70_69_79_61_73_61_01  # "piyasa" + 1


def _timestamp() -> TIMESTAMP:
    return TIMESTAMP(timezone=True)


def _aggregate_state(table: str) -> list[SchemaItem]:
    """Columns every config aggregate's table ends with."""
    return [
        Column("deleted", Boolean, nullable=False),
        Column("version", BigInteger, nullable=False, comment="CONFIG stream sequence: the ETag"),
        Column("updated_at", _timestamp(), nullable=False, comment="occurred_at of that event"),
        CheckConstraint("version > 0", name=f"{table}_version_positive"),
    ]


def _log_reference() -> list[SchemaItem]:
    """Where the row's event sits in the log."""
    return [
        Column("event_id", Text, nullable=False),
        Column("stream_sequence", BigInteger, nullable=False),
    ]


bots: Final = Table(
    "bots",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("username", Text),
    Column("token_ref", Text, comment="key in the secrets bucket, never the token"),
    Column("enabled", Boolean, nullable=False),
    Column("active_hours", JSONB, nullable=False),
    Column("language", Text, nullable=False),
    Column("llm", JSONB),
    Column("hourly_limit", Integer, nullable=False),
    Column("persona", JSONB, nullable=False),
    Column("emotion", JSONB, nullable=False),
    *_aggregate_state("bots"),
)

chats: Final = Table(
    "chats",
    metadata,
    Column("id", Text, primary_key=True),
    Column("telegram_chat_id", BigInteger, nullable=False),
    Column("title", Text, nullable=False),
    Column("topics", ARRAY(Text), nullable=False),
    Column("language", Text, nullable=False),
    Column("target_per_hour", Double, nullable=False),
    Column("typing", Boolean, nullable=False),
    Column("reply_probability", Double, nullable=False),
    Column("bot_ids", ARRAY(Text), nullable=False),
    Column("listener_bot_id", Text),
    Column("activity_curve", ARRAY(Double), nullable=False),
    *_aggregate_state("chats"),
    Index("chats_telegram_chat_id", "telegram_chat_id"),
)

stances: Final = Table(
    "stances",
    metadata,
    Column("id", Text, primary_key=True),
    Column("bot_id", Text, nullable=False),
    Column("topic", Text, nullable=False),
    Column("position", Text, nullable=False),
    Column("strength", Double, nullable=False),
    Column("rationale", Text, nullable=False),
    Column("cooldown_until", _timestamp()),
    *_aggregate_state("stances"),
    Index("stances_bot_id", "bot_id"),
)

holdings: Final = Table(
    "holdings",
    metadata,
    Column("id", Text, primary_key=True),
    Column("bot_id", Text, nullable=False),
    Column("symbol", Text, nullable=False),
    Column("quantity", Double, nullable=False),
    Column("average_cost", Double),
    Column("opened_at", _timestamp()),
    Column("note", Text, nullable=False),
    *_aggregate_state("holdings"),
    Index("holdings_bot_id", "bot_id"),
)

settings: Final = Table(
    "settings",
    metadata,
    Column("id", Text, primary_key=True, comment="one aggregate in practice: one row"),
    Column("values", JSONB, nullable=False),
    *_aggregate_state("settings"),
)

controls: Final = Table(
    "controls",
    metadata,
    Column("id", Text, primary_key=True),
    Column("scope", Text, nullable=False),
    Column("target_id", Text),
    Column("state", Text, nullable=False),
    *_aggregate_state("controls"),
)

bot_statuses: Final = Table(
    "bot_statuses",
    metadata,
    Column("id", Text, primary_key=True, comment="the bot's id"),
    Column("token_check", Text, nullable=False),
    Column("telegram_user_id", BigInteger),
    Column("telegram_username", Text),
    Column("can_read_all_group_messages", Boolean),
    Column("disabled_everywhere", Boolean, nullable=False),
    Column("disabled_in_chats", ARRAY(Text), nullable=False),
    Column("admin_in_chats", ARRAY(Text), nullable=False),
    Column("checked_at", _timestamp()),
    Column("detail", Text, nullable=False),
    *_aggregate_state("bot_statuses"),
)

chat_statuses: Final = Table(
    "chat_statuses",
    metadata,
    Column("id", Text, primary_key=True, comment="the chat's id"),
    Column("can_hear_humans", Boolean),
    Column("listener_bot_id", Text),
    Column("migrated_to_chat_id", BigInteger),
    Column("checked_at", _timestamp()),
    Column("detail", Text, nullable=False),
    *_aggregate_state("chat_statuses"),
)

erased_people: Final = Table(
    "erased_people",
    metadata,
    Column("id", Text, primary_key=True, comment="the person's opaque id"),
    Column("erased_at", _timestamp(), nullable=False),
    Column("reason", Text, nullable=False),
    *_aggregate_state("erased_people"),
)

messages: Final = Table(
    "messages",
    metadata,
    Column("telegram_chat_id", BigInteger, primary_key=True),
    Column("telegram_message_id", BigInteger, primary_key=True),
    Column("chat_id", Text),
    Column("kind", Text, nullable=False),
    Column("turn_id", Text),
    Column("bot_id", Text),
    Column("person_id", Text),
    Column("via_bot_id", Text),
    Column("text", Text, comment="bots' messages only"),
    Column("sealed_text", JSONB, comment="humans' messages: sealed with the person's key"),
    Column("sealed_sender_name", JSONB),
    Column("reply_to_message_id", BigInteger),
    Column("sent_at", _timestamp(), nullable=False),
    Column("edited_at", _timestamp()),
    *_log_reference(),
    # A human's words are never stored in the clear: erasing their key must erase them.
    CheckConstraint(
        "(kind = 'bot' AND text IS NOT NULL AND sealed_text IS NULL AND bot_id IS NOT NULL)"
        " OR (kind = 'human' AND text IS NULL AND sealed_text IS NOT NULL"
        " AND person_id IS NOT NULL)",
        name="messages_kind_content",
    ),
    Index("messages_chat_sent_at", "chat_id", "sent_at"),
    Index("messages_turn_id", "turn_id"),
)

reactions: Final = Table(
    "reactions",
    metadata,
    Column("telegram_chat_id", BigInteger, primary_key=True),
    Column("telegram_message_id", BigInteger, primary_key=True),
    Column("actor_id", Text, primary_key=True),
    Column("emoji", Text, primary_key=True),
    Column("chat_id", Text),
    Column("actor_is_bot", Boolean, nullable=False),
    Column("reacted_at", _timestamp(), nullable=False),
    *_log_reference(),
)

turn_outcomes: Final = Table(
    "turn_outcomes",
    metadata,
    Column("turn_id", Text, primary_key=True),
    Column("chat_id", Text),
    Column("bot_id", Text),
    Column("outcome", Text, nullable=False),
    Column("stage", Text, nullable=False),
    Column("reason", Text),
    Column("detail", Text),
    Column("at", _timestamp(), nullable=False),
    *_log_reference(),
    CheckConstraint(
        "outcome IN ('sent', 'failed', 'expired', 'dropped')", name="turn_outcomes_outcome"
    ),
    Index("turn_outcomes_chat_id", "chat_id"),
)

# The recent failures across the fleet, newest first (`GET /turn-failures`): partial, so
# it holds only the few turns that did not reach Telegram and never the many that did.
Index(
    "turn_outcomes_failures",
    turn_outcomes.c.at.desc(),
    turn_outcomes.c.turn_id.desc(),
    postgresql_where=text("outcome <> 'sent'"),
)

dead_letters: Final = Table(
    "dead_letters",
    metadata,
    Column("id", Text, primary_key=True, comment="the parked event's id"),
    Column("consumer", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("error", Text, nullable=False),
    Column("original_type", Text),
    Column("original_id", Text),
    Column("original_stream", Text, nullable=False),
    Column("original_sequence", BigInteger, nullable=False),
    Column("original_subject", Text, nullable=False),
    Column("deliveries", Integer, nullable=False),
    Column("parked_at", _timestamp(), nullable=False),
    Column("stream_sequence", BigInteger, nullable=False, comment="in the DEADLETTER stream"),
    Index("dead_letters_consumer_parked_at", "consumer", "parked_at"),
)

projection_positions: Final = Table(
    "projection_positions",
    metadata,
    Column("stream", Text, primary_key=True),
    Column("last_sequence", BigInteger, nullable=False),
    CheckConstraint("last_sequence >= 0", name="projection_positions_non_negative"),
)

PROJECTION_TABLES: Final[tuple[str, ...]] = (
    "bots",
    "chats",
    "stances",
    "holdings",
    "settings",
    "controls",
    "bot_statuses",
    "chat_statuses",
    "erased_people",
    "messages",
    "reactions",
    "turn_outcomes",
    "dead_letters",
)
"""The tables a rebuild may empty: every one of them is derived from the log."""

POSITIONS: Final = "projection_positions"
"""Where each stream's last applied sequence is kept; reset together with the tables."""


def alembic_config() -> Config:
    """Alembic's configuration, built in code so that it works from an installed wheel."""
    config = Config()
    config.set_main_option("script_location", "piyasa_projector:migrations")
    return config


async def migrate(database_url: str) -> None:
    """Bring the projection schema to the latest revision; running it again changes nothing.

    Concurrent callers (replicas starting together) wait on an advisory lock
    and then find nothing left to do.
    """
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
