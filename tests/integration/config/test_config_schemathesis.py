"""schemathesis against the OpenAPI document, on the real service process (its main).

Every operation is called with generated valid and invalid inputs as an admin;
no answer may be a 5xx or stray from the documented statuses, content types
and schemas.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, cast

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from piyasa_cli.embedded.postgres import create_database, drop_database
from piyasa_config.api.app import create_app
from piyasa_config.api.state import AppState
from piyasa_config.auth.roles import Role
from piyasa_config.auth.store import AuthStore
from piyasa_config.bootstrap import database_engine
from piyasa_config.schema import migrate
from piyasa_config.settings import ConfigSettings
from tests.integration.config.servers import service_env, service_process

pytestmark = pytest.mark.integration

SEMANTIC_INPUTS = {
    # A YAML document travels as a string: its schema cannot say which strings parse.
    ("POST", "/fleet/import"),
    # An opaque cursor: only the ones the API gave out are valid, which no pattern says.
    ("GET", "/chats/{chat_id}/messages"),
}
"""Operations where a schema-valid input may still be refused (400/422) on its meaning."""

OPENAPI = create_app(cast(AppState, None)).openapi()


@pytest.fixture(scope="module")
async def served(nats_url: str, database_url: str) -> AsyncIterator[dict[str, Any]]:
    name = f"test_{uuid.uuid4().hex[:12]}"
    url = await create_database(database_url, name)
    prefix = f"t{uuid.uuid4().hex[:10]}"
    try:
        await migrate(url)
        settings = ConfigSettings(database_url=url, nats_url=nats_url, name_prefix=prefix)
        engine = database_engine(settings)
        auth = AuthStore(engine, session_ttl=settings_ttl())
        admin = await auth.create_operator("schema-admin", Role.ADMIN, None, now=datetime.now(UTC))
        key = (
            await auth.issue_api_key(admin.operator_id, "schemathesis", now=datetime.now(UTC))
        ).key
        await engine.dispose()
        env = service_env(nats_url, prefix, url)
        async with (
            service_process("piyasa_projector.main", env),
            service_process("piyasa_config.main", env) as config,
        ):
            async with httpx.AsyncClient(base_url=config.base_url) as client:
                assert (await client.get("/health/ready")).status_code == 200
                assert (await client.get("/metrics")).status_code == 200
                bot = await client.post("/bots", json={"name": "seed"}, headers={"X-API-Key": key})
                assert bot.status_code == 201, bot.text
            yield {"base_url": config.base_url, "key": key, "output": config.output}
    finally:
        await drop_database(database_url, name)


def settings_ttl() -> Any:
    from datetime import timedelta

    return timedelta(minutes=15)


# Loaded eagerly from the app's own document: schemathesis' lazy `from_fixture` loader
# fails under pytest 9.2 (it reads the removed `Function._nodeid`).
schema = schemathesis.openapi.from_dict(OPENAPI)


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_the_api_answers_every_input_as_documented(case: Any, served: dict[str, Any]) -> None:
    excluded = []
    if (case.method, case.path) in SEMANTIC_INPUTS:
        excluded.append(positive_data_acceptance)
    case.call_and_validate(
        base_url=served["base_url"],
        headers={"X-API-Key": served["key"]},
        excluded_checks=excluded,
    )
