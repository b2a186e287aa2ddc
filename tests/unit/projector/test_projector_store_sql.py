"""Settings and the statements the store sends, without a database."""

from __future__ import annotations

import pytest

from piyasa_projector.settings import (
    ProjectorSettings,
    asyncpg_dsn,
    database_password,
    sqlalchemy_url,
)
from piyasa_projector.store import upsert_statement


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:pw@db/piyasa",
        "postgres://u:pw@db/piyasa",
        "postgresql+asyncpg://u:pw@db/piyasa",
    ],
)
def test_every_accepted_database_url_means_the_same_database(url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", url)

    settings = ProjectorSettings()

    assert settings.database_url == "postgresql://u:pw@db/piyasa"
    assert sqlalchemy_url(url) == "postgresql+asyncpg://u:pw@db/piyasa"
    assert database_password(url) == "pw"


def test_other_databases_are_refused():
    with pytest.raises(ValueError, match="postgresql://"):
        asyncpg_dsn("mysql://u@db/piyasa")


def test_upserts_replace_every_column_but_the_key():
    sql, columns = upsert_statement("bots")

    assert columns[0] == "id"
    assert "ON CONFLICT (id) DO UPDATE SET" in sql
    assert '"version" = EXCLUDED."version"' in sql
    assert '"id" = EXCLUDED' not in sql
    assert f"${len(columns)})" in sql


def test_a_sent_turn_is_never_overwritten_by_a_later_outcome():
    sql, _ = upsert_statement("turn_outcomes")

    assert sql.endswith("WHERE existing.outcome <> 'sent'")
