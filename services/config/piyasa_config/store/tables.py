"""The projection tables as the config service reads them.

The projector owns these tables (and their migrations); the config service
only reads them, so it declares the columns it reads here instead of
importing another service. `tests/unit/config` checks every column here
against the projector's schema.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import BigInteger, Boolean, Column, Double, Integer, MetaData, Table, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TIMESTAMP

projections: Final = MetaData()


def _ts() -> TIMESTAMP:
    return TIMESTAMP(timezone=True)


def _state() -> list[Column[object]]:
    return [
        Column("deleted", Boolean),
        Column("version", BigInteger),
        Column("updated_at", _ts()),
    ]


bots: Final = Table(
    "bots",
    projections,
    Column("id", Text, primary_key=True),
    Column("name", Text),
    Column("username", Text),
    Column("token_ref", Text),
    Column("enabled", Boolean),
    Column("active_hours", JSONB),
    Column("language", Text),
    Column("llm", JSONB),
    Column("hourly_limit", Integer),
    Column("persona", JSONB),
    Column("emotion", JSONB),
    *_state(),
)

chats: Final = Table(
    "chats",
    projections,
    Column("id", Text, primary_key=True),
    Column("telegram_chat_id", BigInteger),
    Column("title", Text),
    Column("topics", ARRAY(Text)),
    Column("language", Text),
    Column("target_per_hour", Double),
    Column("typing", Boolean),
    Column("reply_probability", Double),
    Column("bot_ids", ARRAY(Text)),
    Column("listener_bot_id", Text),
    Column("activity_curve", ARRAY(Double)),
    *_state(),
)

stances: Final = Table(
    "stances",
    projections,
    Column("id", Text, primary_key=True),
    Column("bot_id", Text),
    Column("topic", Text),
    Column("position", Text),
    Column("strength", Double),
    Column("rationale", Text),
    Column("cooldown_until", _ts()),
    *_state(),
)

holdings: Final = Table(
    "holdings",
    projections,
    Column("id", Text, primary_key=True),
    Column("bot_id", Text),
    Column("symbol", Text),
    Column("quantity", Double),
    Column("average_cost", Double),
    Column("opened_at", _ts()),
    Column("note", Text),
    *_state(),
)

settings: Final = Table(
    "settings",
    projections,
    Column("id", Text, primary_key=True),
    Column("values", JSONB),
    *_state(),
)

controls: Final = Table(
    "controls",
    projections,
    Column("id", Text, primary_key=True),
    Column("scope", Text),
    Column("target_id", Text),
    Column("state", Text),
    *_state(),
)

bot_statuses: Final = Table(
    "bot_statuses",
    projections,
    Column("id", Text, primary_key=True),
    Column("token_check", Text),
    Column("telegram_user_id", BigInteger),
    Column("telegram_username", Text),
    Column("can_read_all_group_messages", Boolean),
    Column("disabled_everywhere", Boolean),
    Column("disabled_in_chats", ARRAY(Text)),
    Column("admin_in_chats", ARRAY(Text)),
    Column("checked_at", _ts()),
    Column("detail", Text),
    *_state(),
)

chat_statuses: Final = Table(
    "chat_statuses",
    projections,
    Column("id", Text, primary_key=True),
    Column("can_hear_humans", Boolean),
    Column("listener_bot_id", Text),
    Column("migrated_to_chat_id", BigInteger),
    Column("checked_at", _ts()),
    Column("detail", Text),
    *_state(),
)

erased_people: Final = Table(
    "erased_people",
    projections,
    Column("id", Text, primary_key=True),
    Column("erased_at", _ts()),
    Column("reason", Text),
    *_state(),
)

messages: Final = Table(
    "messages",
    projections,
    Column("telegram_chat_id", BigInteger, primary_key=True),
    Column("telegram_message_id", BigInteger, primary_key=True),
    Column("chat_id", Text),
    Column("kind", Text),
    Column("turn_id", Text),
    Column("bot_id", Text),
    Column("person_id", Text),
    Column("text", Text),
    Column("sealed_text", JSONB),
    Column("sealed_sender_name", JSONB),
    Column("reply_to_message_id", BigInteger),
    Column("sent_at", _ts()),
    Column("edited_at", _ts()),
)

turn_outcomes: Final = Table(
    "turn_outcomes",
    projections,
    Column("turn_id", Text, primary_key=True),
    Column("chat_id", Text),
    Column("bot_id", Text),
    Column("outcome", Text),
    Column("stage", Text),
    Column("reason", Text),
    Column("detail", Text),
    Column("at", _ts()),
)

projection_positions: Final = Table(
    "projection_positions",
    projections,
    Column("stream", Text, primary_key=True),
    Column("last_sequence", BigInteger),
)
