"""What the config service reads matches what the projector writes; the new status events
project; the OpenAPI document says what the API enforces."""

from __future__ import annotations

from typing import cast

import pytest

from piyasa_config.api.app import NO_NUL, create_app
from piyasa_config.api.state import AppState
from piyasa_config.schema import OWN_TABLES
from piyasa_config.store.tables import projections
from piyasa_contracts import decode, encode
from piyasa_projector.rows import rows_for
from piyasa_projector.schema import PROJECTION_TABLES, metadata
from tests.integration.projector import projector_events as ev

OPENAPI = create_app(cast(AppState, None)).openapi()


def test_every_projection_column_the_config_service_reads_exists_with_its_type():
    for name, table in projections.tables.items():
        written = metadata.tables[name]
        for column in table.columns:
            assert column.name in written.columns, f"{name}.{column.name}"
            assert type(column.type) is type(written.columns[column.name].type), (
                f"{name}.{column.name}"
            )


def test_the_config_services_own_tables_are_not_projections():
    assert not set(OWN_TABLES) & set(PROJECTION_TABLES)


@pytest.mark.parametrize(
    "envelope",
    [
        ev.bot_status("b1", token_check="verified", can_read_all_group_messages=True),
        ev.chat_status("c1", can_hear_humans=False, migrated_to_chat_id=-100123),
        ev.person_erased("p1", reason="KVKK"),
    ],
    ids=lambda e: e.type,
)
def test_status_and_erasure_events_fill_their_tables(envelope):
    [row] = rows_for(decode(encode(envelope)), 7)
    assert set(row.values) == set(metadata.tables[row.table].columns.keys())
    assert row.values["version"] == 7


def test_every_operation_documents_the_error_shape_and_its_statuses():
    for path, operations in OPENAPI["paths"].items():
        for method, operation in operations.items():
            documented = set(operation["responses"])
            assert {"401", "403", "404", "409", "422", "429"} <= documented, (method, path)
            assert "500" not in documented


def test_both_credentials_are_documented():
    schemes = OPENAPI["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http", "apiKey"}


def test_the_token_is_write_only_and_never_in_a_response_model():
    schemas = OPENAPI["components"]["schemas"]
    assert schemas["BotCreate"]["properties"]["token"]["writeOnly"] is True
    assert "token" not in schemas["Bot"]["properties"]


def test_free_text_says_it_refuses_nul():
    persona = OPENAPI["components"]["schemas"]["PersonaIn"]["properties"]
    assert persona["tone"]["pattern"] == NO_NUL
