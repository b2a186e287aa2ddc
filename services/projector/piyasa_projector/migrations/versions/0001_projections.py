"""The projections: config aggregates, messages, reactions, turn outcomes, dead letters.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "bots",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("username", sa.Text(), nullable=True),
        sa.Column(
            "token_ref",
            sa.Text(),
            nullable=True,
            comment="key in the secrets bucket, never the token",
        ),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("active_hours", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("language", sa.Text(), nullable=False),
        sa.Column("llm", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("hourly_limit", sa.Integer(), nullable=False),
        sa.Column("persona", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("emotion", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column(
            "version", sa.BigInteger(), nullable=False, comment="CONFIG stream sequence: the ETag"
        ),
        sa.Column(
            "updated_at",
            postgresql.TIMESTAMP(timezone=True),
            nullable=False,
            comment="occurred_at of that event",
        ),
        sa.CheckConstraint("version > 0", name="bots_version_positive"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "chats",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("telegram_chat_id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("topics", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("language", sa.Text(), nullable=False),
        sa.Column("target_per_hour", sa.Double(), nullable=False),
        sa.Column("typing", sa.Boolean(), nullable=False),
        sa.Column("reply_probability", sa.Double(), nullable=False),
        sa.Column("bot_ids", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("listener_bot_id", sa.Text(), nullable=True),
        sa.Column("activity_curve", postgresql.ARRAY(sa.Double()), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column(
            "version", sa.BigInteger(), nullable=False, comment="CONFIG stream sequence: the ETag"
        ),
        sa.Column(
            "updated_at",
            postgresql.TIMESTAMP(timezone=True),
            nullable=False,
            comment="occurred_at of that event",
        ),
        sa.CheckConstraint("version > 0", name="chats_version_positive"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("chats_telegram_chat_id", "chats", ["telegram_chat_id"], unique=False)
    op.create_table(
        "controls",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("target_id", sa.Text(), nullable=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column(
            "version", sa.BigInteger(), nullable=False, comment="CONFIG stream sequence: the ETag"
        ),
        sa.Column(
            "updated_at",
            postgresql.TIMESTAMP(timezone=True),
            nullable=False,
            comment="occurred_at of that event",
        ),
        sa.CheckConstraint("version > 0", name="controls_version_positive"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Text(), nullable=False, comment="the parked event's id"),
        sa.Column("consumer", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("original_type", sa.Text(), nullable=True),
        sa.Column("original_id", sa.Text(), nullable=True),
        sa.Column("original_stream", sa.Text(), nullable=False),
        sa.Column("original_sequence", sa.BigInteger(), nullable=False),
        sa.Column("original_subject", sa.Text(), nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("parked_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column(
            "stream_sequence", sa.BigInteger(), nullable=False, comment="in the DEADLETTER stream"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "dead_letters_consumer_parked_at", "dead_letters", ["consumer", "parked_at"], unique=False
    )
    op.create_table(
        "holdings",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("bot_id", sa.Text(), nullable=False),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Double(), nullable=False),
        sa.Column("average_cost", sa.Double(), nullable=True),
        sa.Column("opened_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column(
            "version", sa.BigInteger(), nullable=False, comment="CONFIG stream sequence: the ETag"
        ),
        sa.Column(
            "updated_at",
            postgresql.TIMESTAMP(timezone=True),
            nullable=False,
            comment="occurred_at of that event",
        ),
        sa.CheckConstraint("version > 0", name="holdings_version_positive"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("holdings_bot_id", "holdings", ["bot_id"], unique=False)
    op.create_table(
        "messages",
        sa.Column("telegram_chat_id", sa.BigInteger(), nullable=False),
        sa.Column("telegram_message_id", sa.BigInteger(), nullable=False),
        sa.Column("chat_id", sa.Text(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("turn_id", sa.Text(), nullable=True),
        sa.Column("bot_id", sa.Text(), nullable=True),
        sa.Column("person_id", sa.Text(), nullable=True),
        sa.Column("via_bot_id", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True, comment="bots' messages only"),
        sa.Column(
            "sealed_text",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=True,
            comment="humans' messages: sealed with the person's key",
        ),
        sa.Column("sealed_sender_name", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("reply_to_message_id", sa.BigInteger(), nullable=True),
        sa.Column("sent_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("edited_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("stream_sequence", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "(kind = 'bot' AND text IS NOT NULL AND sealed_text IS NULL AND bot_id IS NOT NULL)"
            " OR (kind = 'human' AND text IS NULL AND sealed_text IS NOT NULL"
            " AND person_id IS NOT NULL)",
            name="messages_kind_content",
        ),
        sa.PrimaryKeyConstraint("telegram_chat_id", "telegram_message_id"),
    )
    op.create_index("messages_chat_sent_at", "messages", ["chat_id", "sent_at"], unique=False)
    op.create_index("messages_turn_id", "messages", ["turn_id"], unique=False)
    op.create_table(
        "projection_positions",
        sa.Column("stream", sa.Text(), nullable=False),
        sa.Column("last_sequence", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("last_sequence >= 0", name="projection_positions_non_negative"),
        sa.PrimaryKeyConstraint("stream"),
    )
    op.create_table(
        "reactions",
        sa.Column("telegram_chat_id", sa.BigInteger(), nullable=False),
        sa.Column("telegram_message_id", sa.BigInteger(), nullable=False),
        sa.Column("actor_id", sa.Text(), nullable=False),
        sa.Column("emoji", sa.Text(), nullable=False),
        sa.Column("chat_id", sa.Text(), nullable=True),
        sa.Column("actor_is_bot", sa.Boolean(), nullable=False),
        sa.Column("reacted_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("stream_sequence", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("telegram_chat_id", "telegram_message_id", "actor_id", "emoji"),
    )
    op.create_table(
        "settings",
        sa.Column("id", sa.Text(), nullable=False, comment="one aggregate in practice: one row"),
        sa.Column("values", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column(
            "version", sa.BigInteger(), nullable=False, comment="CONFIG stream sequence: the ETag"
        ),
        sa.Column(
            "updated_at",
            postgresql.TIMESTAMP(timezone=True),
            nullable=False,
            comment="occurred_at of that event",
        ),
        sa.CheckConstraint("version > 0", name="settings_version_positive"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "stances",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("bot_id", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("position", sa.Text(), nullable=False),
        sa.Column("strength", sa.Double(), nullable=False),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("cooldown_until", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column(
            "version", sa.BigInteger(), nullable=False, comment="CONFIG stream sequence: the ETag"
        ),
        sa.Column(
            "updated_at",
            postgresql.TIMESTAMP(timezone=True),
            nullable=False,
            comment="occurred_at of that event",
        ),
        sa.CheckConstraint("version > 0", name="stances_version_positive"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("stances_bot_id", "stances", ["bot_id"], unique=False)
    op.create_table(
        "turn_outcomes",
        sa.Column("turn_id", sa.Text(), nullable=False),
        sa.Column("chat_id", sa.Text(), nullable=True),
        sa.Column("bot_id", sa.Text(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("stream_sequence", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('sent', 'failed', 'expired', 'dropped')", name="turn_outcomes_outcome"
        ),
        sa.PrimaryKeyConstraint("turn_id"),
    )
    op.create_index("turn_outcomes_chat_id", "turn_outcomes", ["chat_id"], unique=False)


def downgrade() -> None:
    op.drop_table("turn_outcomes")
    op.drop_table("stances")
    op.drop_table("settings")
    op.drop_table("reactions")
    op.drop_table("projection_positions")
    op.drop_table("messages")
    op.drop_table("holdings")
    op.drop_table("dead_letters")
    op.drop_table("controls")
    op.drop_table("chats")
    op.drop_table("bots")
