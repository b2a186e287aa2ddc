"""An index for the recent turn failures: turn outcomes other than sent, newest first.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 12:00:00

Partial, so it stays as small as the failures are few. Built without
CONCURRENTLY: migrations run in one transaction under the migration lock,
and while it is built the projector (the only writer) is the one migrating.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index(
        "turn_outcomes_failures",
        "turn_outcomes",
        [sa.text("at DESC"), sa.text("turn_id DESC")],
        unique=False,
        postgresql_where=sa.text("outcome <> 'sent'"),
    )


def downgrade() -> None:
    op.drop_index("turn_outcomes_failures", table_name="turn_outcomes")
