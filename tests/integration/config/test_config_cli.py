"""`piyasa admin create`, `piyasa fleet export|import` and `piyasa secrets rotate`."""

from __future__ import annotations

import asyncio
import re

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from piyasa_cli.main import cli
from piyasa_config.secrets import TokenVault, multi_fernet
from piyasa_contracts import Bucket
from tests.integration.config.conftest import BOT_TOKEN

pytestmark = pytest.mark.integration


async def piyasa(api, *args: str, input: str | None = None, **env: str):
    environment = {
        "NATS_URL": api.settings.nats_url,
        "DATABASE_URL": api.settings.database_url,
        "PIYASA_NAME_PREFIX": api.settings.name_prefix,
        "PIYASA_FERNET_KEYS": api.settings.fernet_keys.get_secret_value(),
        "PIYASA_STATE_DIR": "/nonexistent-piyasa-state",
        **env,
    }
    runner = CliRunner()
    return await asyncio.to_thread(runner.invoke, cli, list(args), input=input, env=environment)


async def test_admin_create_prints_the_totp_enrolment_and_a_working_api_key(api):
    result = await piyasa(
        api, "admin", "create", "-u", "first-admin", "--password-stdin", input="a long passphrase\n"
    )

    assert result.exit_code == 0, result.output
    assert "otpauth://totp/" in result.output
    key = re.search(r"(pk_\S+)", result.output).group(1)
    me = await api.client({"X-API-Key": key}).get("/auth/me")
    assert me.json()["role"] == "admin"
    again = await piyasa(api, "admin", "create", "-u", "first-admin", "--no-password")
    assert again.exit_code != 0
    assert "exists" in again.output


async def test_fleet_export_and_import_through_the_cli(api, nats_url):
    wizard = await api.operator.post("/wizard/cli", json={"telegram_chat_id": -31337})
    assert wizard.status_code == 200

    exported = await piyasa(api, "fleet", "export")
    assert exported.exit_code == 0, exported.output
    assert exported.output == (await api.viewer.get("/fleet/export")).text

    imported = await piyasa(
        api, "fleet", "import", "-", input=exported.output, PIYASA_NAME_PREFIX="tcliimport"
    )
    assert imported.exit_code == 0, imported.output
    assert "created: 4 bot, 1 chat, 6 holding, 8 stance" in imported.output
    bad = await piyasa(api, "fleet", "import", "-", input="bots: 3\n")
    assert bad.exit_code != 0
    assert "bots" in bad.output


async def test_secrets_rotate_re_encrypts_with_the_newest_key(api):
    assert (
        await api.operator.post("/bots", json={"name": "a", "token": BOT_TOKEN})
    ).status_code == 201
    old = api.settings.fernet_keys.get_secret_value()
    new = Fernet.generate_key().decode()

    result = await piyasa(api, "secrets", "rotate", PIYASA_FERNET_KEYS=f"{new},{old}")

    assert result.exit_code == 0, result.output
    assert "re-encrypted 1 token(s)" in result.output
    bucket = await api.js.key_value(api.topology.bucket(Bucket.SECRETS))
    [ref] = await bucket.keys()
    assert await TokenVault(api.js, api.topology, multi_fernet([new])).reveal(ref) == BOT_TOKEN
