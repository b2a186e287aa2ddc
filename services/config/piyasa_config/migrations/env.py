"""Alembic environment for the config service's own tables (see `schema.migrate`).

Only this service's tables are compared and migrated: the projector's tables
in the same database have their own history (`projector_alembic_version`).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from piyasa_config.schema import OWN_TABLES, VERSION_TABLE, metadata


def _own(name: str | None, type_: str, parent_names: object) -> bool:
    del parent_names
    return type_ != "table" or name in OWN_TABLES


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        include_name=_own,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if not isinstance(_connection, Connection):
    raise RuntimeError("run migrations through piyasa_config.schema.migrate(database_url)")
if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
_run(_connection)
