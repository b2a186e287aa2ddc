"""Alembic environment: runs on the connection `schema.migrate` hands over.

There is no alembic.ini: `schema.alembic_config()` builds the configuration in
code and passes an open connection (inside a transaction holding the
migration lock) through `config.attributes["connection"]`.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from piyasa_projector.schema import VERSION_TABLE, metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if not isinstance(_connection, Connection):
    raise RuntimeError("run migrations through piyasa_projector.schema.migrate(database_url)")
if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
_run(_connection)
