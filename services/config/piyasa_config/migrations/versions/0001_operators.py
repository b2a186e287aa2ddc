"""Operators, their API keys and login sessions.

Revision ID: c0001
Revises:
Create Date: 2026-11-28 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "c0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column(
            "password_hash", sa.Text(), nullable=True, comment="argon2id; NULL: API keys only"
        ),
        sa.Column(
            "totp_secret",
            sa.Text(),
            nullable=True,
            comment="base32 TOTP secret; required with a password",
        ),
        sa.Column(
            "totp_last_step",
            sa.BigInteger(),
            nullable=True,
            comment="last accepted TOTP step: no code twice",
        ),
        sa.Column("disabled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("created_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('viewer', 'operator', 'admin')", name="operators_role"),
        sa.CheckConstraint(
            "password_hash IS NULL OR totp_secret IS NOT NULL",
            name="operators_password_needs_mfa",
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("operator_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.Text(), nullable=False, comment="sha256 of the key, hex"),
        sa.Column(
            "prefix",
            sa.Text(),
            nullable=False,
            comment="the key's first characters, to tell keys apart",
        ),
        sa.Column("created_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("revoked_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
    )
    op.create_index("api_keys_operator_id", "api_keys", ["operator_id"])
    op.create_table(
        "sessions",
        sa.Column(
            "token_hash", sa.Text(), nullable=False, comment="sha256 of the bearer token, hex"
        ),
        sa.Column("operator_id", sa.Text(), nullable=False),
        sa.Column("created_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("expires_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("sessions_expires_at", "sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_table("sessions")
    op.drop_table("api_keys")
    op.drop_table("operators")
