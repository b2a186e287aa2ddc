"""Bots' and chats' Telegram status (from the dispatcher) and erased people.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.schema import SchemaItem

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def _aggregate_state(table: str) -> list[SchemaItem]:
    return [
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
        sa.CheckConstraint("version > 0", name=f"{table}_version_positive"),
        sa.PrimaryKeyConstraint("id"),
    ]


def upgrade() -> None:
    op.create_table(
        "bot_statuses",
        sa.Column("id", sa.Text(), nullable=False, comment="the bot's id"),
        sa.Column("token_check", sa.Text(), nullable=False),
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=True),
        sa.Column("telegram_username", sa.Text(), nullable=True),
        sa.Column("can_read_all_group_messages", sa.Boolean(), nullable=True),
        sa.Column("disabled_everywhere", sa.Boolean(), nullable=False),
        sa.Column("disabled_in_chats", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("admin_in_chats", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("checked_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        *_aggregate_state("bot_statuses"),
    )
    op.create_table(
        "chat_statuses",
        sa.Column("id", sa.Text(), nullable=False, comment="the chat's id"),
        sa.Column("can_hear_humans", sa.Boolean(), nullable=True),
        sa.Column("listener_bot_id", sa.Text(), nullable=True),
        sa.Column("migrated_to_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("checked_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        *_aggregate_state("chat_statuses"),
    )
    op.create_table(
        "erased_people",
        sa.Column("id", sa.Text(), nullable=False, comment="the person's opaque id"),
        sa.Column("erased_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        *_aggregate_state("erased_people"),
    )


def downgrade() -> None:
    op.drop_table("erased_people")
    op.drop_table("chat_statuses")
    op.drop_table("bot_statuses")
