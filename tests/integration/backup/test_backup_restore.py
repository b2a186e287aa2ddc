"""`piyasa backup`, then `piyasa restore` into empty NATS and PostgreSQL: the config API
answers the same, with the same ETags; the same credentials log in; a write with an ETag
read before the backup succeeds (the log continues at the same sequence) and a stale one
still gets 409. Into infrastructure that holds data a restore is refused, with --force too
while a service beats, and --force then puts the backup back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyotp
import pytest
from cryptography.fernet import Fernet
from nats.js import JetStreamContext

from piyasa_cli.backup import read_manifest
from piyasa_cli.backup.manifest import locate
from piyasa_common.clock import SystemClock
from piyasa_common.connection import connect, jetstream
from piyasa_common.heartbeat import HeartbeatWriter
from piyasa_common.publisher import Publisher
from piyasa_config.secrets import TokenVault, multi_fernet
from piyasa_config.settings import ConfigSettings
from piyasa_contracts import Bucket, StreamRole
from tests.integration.backup.rig import answers, config_on, empty_database, empty_nats, piyasa
from tests.integration.config.conftest import BOT_TOKEN, Api, api_with_projector, config_settings
from tests.integration.projector.projector_events import sent
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple"


async def build_fleet(api: Api) -> dict[str, Any]:
    """A wizard fleet, a bot with a token, a renamed bot, a paused chat, changed settings and
    an operator who logs in with a password and TOTP; returns their ids."""
    operator = api.operator
    wizard = await operator.post("/wizard/backup?wait=projected", json={"telegram_chat_id": -1007})
    assert wizard.status_code == 200, wizard.text
    fleet = wizard.json()
    with_token = await operator.post(
        "/bots?wait=projected", json={"name": "Tokenli", "token": BOT_TOKEN}
    )
    assert with_token.status_code == 201, with_token.text
    renamed_id = fleet["bot_ids"][0]
    first = await operator.get(f"/bots/{renamed_id}")
    renamed = await operator.patch(
        f"/bots/{renamed_id}?wait=projected",
        json={"name": "Yeni Ad"},
        headers={"If-Match": first.headers["ETag"]},
    )
    assert renamed.status_code == 200, renamed.text
    for path, body in (
        (f"/control/chats/{fleet['chat_id']}/pause?wait=projected", None),
        ("/settings?wait=projected", {"values": {"dedup_threshold": 0.9}}),
    ):
        method = operator.patch if body is not None else operator.post
        answer = await method(path, json=body)
        assert answer.status_code == 200, answer.text
    await converse(api, fleet["chat_id"], fleet["bot_ids"])
    person = await api.admin.post(
        "/operators", json={"username": "ayse", "role": "operator", "password": PASSWORD}
    )
    assert person.status_code == 201, person.text
    return {
        "bots": [*fleet["bot_ids"], with_token.json()["id"]],
        "chat": fleet["chat_id"],
        "token_bot": with_token.json()["id"],
        "renamed": renamed_id,
        "stale_etag": first.headers["ETag"],
        "totp_uri": person.json()["totp_uri"],
    }


async def converse(api: Api, chat_id: str, bot_ids: list[str]) -> None:
    """Three sent messages in the chat, projected, and the first acked by the scheduler's
    durable consumer of the chat's partition (a consumer position the restore must keep)."""
    publisher = Publisher(api.js, api.topology)
    for n, bot_id in enumerate(bot_ids[:3], start=1):
        await publisher.publish(sent(chat_id, f"turn{n}", bot_id, n, telegram_chat_id=-1007))

    async def projected() -> bool:
        page = await api.viewer.get(f"/chats/{chat_id}/messages")
        return len(page.json()["items"]) == 3

    await eventually(projected, message="the sent messages were not projected")
    scheduler = api.topology.consumer_spec("scheduler")
    durable = api.topology.durable_name(scheduler, api.topology.partition(chat_id))
    reader = await api.js.pull_subscribe_bind(durable, api.stream(StreamRole.CONVERSATION))
    [first] = await reader.fetch(1)
    await first.ack_sync()


async def paths_of(api: Api, fleet: dict[str, Any]) -> list[str]:
    stances = (await api.viewer.get("/stances")).json()["items"]
    holdings = (await api.viewer.get("/holdings")).json()["items"]
    assert stances and holdings
    paths = ["/bots", "/chats", "/stances", "/holdings", "/settings", "/control", "/operators"]
    paths += ["/auth/me", "/fleet/export", f"/chats/{fleet['chat']}"]
    paths.append(f"/chats/{fleet['chat']}/messages")
    for bot in fleet["bots"]:
        paths += [f"/bots/{bot}", f"/bots/{bot}/persona", f"/bots/{bot}/emotion"]
        paths.append(f"/bots/{bot}/history")
    paths += [f"/stances/{s['id']}" for s in stances]
    paths += [f"/holdings/{h['id']}" for h in holdings]
    return paths


async def log_state(js: JetStreamContext, streams: list[str]) -> dict[str, Any]:
    """Each stream's sequences and counts, and its durable consumers' positions."""
    out: dict[str, Any] = {}
    for name in streams:
        info = await js.stream_info(name)
        state = info.state
        consumers = {}
        for consumer in await js.consumers_info(name):
            if consumer.config.durable_name:
                delivered, acked = consumer.delivered, consumer.ack_floor
                assert delivered is not None and acked is not None
                consumers[consumer.name] = (delivered.stream_seq, acked.stream_seq)
        out[name] = (
            # An empty stream's first sequence reads 0 when new and 1 once restored.
            state.first_seq if state.messages else None,
            state.last_seq,
            state.messages,
            state.num_deleted,
            consumers,
        )
    return out


async def test_restore_into_empty_infrastructure_answers_the_same_with_the_same_etags(
    nats_url: str, database_url: str, prefix: str, fresh_database: str, tmp_path: Path
) -> None:
    fernet = Fernet.generate_key().decode()
    backups = tmp_path / "backups"
    source = config_settings(nats_url, prefix, fresh_database, fernet_keys=fernet)
    async with api_with_projector(source) as api:
        fleet = await build_fleet(api)
        paths = await paths_of(api, fleet)
        before = await answers(api.admin, paths)
        keys = dict(api.keys)

        backed_up = await piyasa(
            "backup",
            "--to",
            str(backups),
            NATS_URL=nats_url,
            DATABASE_URL=fresh_database,
            PIYASA_NAME_PREFIX=prefix,
        )
        assert backed_up.exit_code == 0, backed_up.output
        manifest = read_manifest(locate(backups))
        streams = [entry.name for entry in manifest.streams]
        logged = await log_state(api.js, streams)

    assert {api.stream(role) for role in StreamRole} <= set(streams)
    conversation = logged[api.stream(StreamRole.CONVERSATION)]
    assert conversation[1] == 3 and (1, 1) in conversation[4].values()
    assert f"KV_{api.topology.bucket(Bucket.SECRETS)}" in streams
    config_stream = api.stream(StreamRole.CONFIG)
    config_last = next(e.last_seq for e in manifest.streams if e.name == config_stream)
    assert all(status == 200 for status, _, _ in before.values()), before
    assert before[f"/bots/{fleet['renamed']}"][2] != fleet["stale_etag"]

    async with empty_nats() as restored_nats, empty_database(database_url) as restored_database:
        target = {"NATS_URL": restored_nats, "DATABASE_URL": restored_database}
        restored = await piyasa("restore", str(backups), **target)
        assert restored.exit_code == 0, restored.output

        settings = config_settings(restored_nats, prefix, restored_database, fernet_keys=fernet)
        async with config_on(settings, keys) as restored_api:
            assert await log_state(restored_api.js, streams) == logged
            assert await answers(restored_api.admin, paths) == before

            totp = pyotp.parse_uri(fleet["totp_uri"])
            assert isinstance(totp, pyotp.TOTP)
            login = await restored_api.client().post(
                "/auth/login", json={"username": "ayse", "password": PASSWORD, "otp": totp.now()}
            )
            assert login.status_code == 200, login.text
            bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
            me = await restored_api.client(bearer).get("/auth/me")
            assert me.json()["username"] == "ayse"

            bot = f"/bots/{fleet['renamed']}"
            stale = await restored_api.operator.patch(
                bot, json={"name": "Geç"}, headers={"If-Match": fleet["stale_etag"]}
            )
            assert stale.status_code == 409, stale.text
            etag = before[bot][2]
            assert etag is not None
            write = await restored_api.operator.patch(
                bot, json={"name": "Geri Geldi"}, headers={"If-Match": etag}
            )
            assert write.status_code == 200, write.text
            assert write.headers["ETag"] == f'"{config_last + 1}"'

            vault = TokenVault(restored_api.js, restored_api.topology, multi_fernet([fernet]))
            token_bot = before[f"/bots/{fleet['token_bot']}"][1]
            assert token_bot["has_token"] is True
            secrets = await restored_api.js.key_value(restored_api.topology.bucket(Bucket.SECRETS))
            [ref] = await secrets.keys()
            assert await vault.reveal(ref) == BOT_TOKEN

        # Now the target holds data: a restore is refused and changes nothing...
        refused = await piyasa("restore", str(backups), **target)
        assert refused.exit_code == 1
        assert "not empty" in refused.output and "--force" in refused.output
        await refuses_to_force_while_a_service_beats(settings, backups, target)
        # ...until --force puts the backup back, the write after it undone.
        forced = await piyasa("restore", "--force", str(backups), **target)
        assert forced.exit_code == 0, forced.output
        assert "replaced:" in forced.output
        async with config_on(settings, keys) as again:
            assert await log_state(again.js, streams) == logged
            assert await answers(again.admin, paths) == before


async def refuses_to_force_while_a_service_beats(
    settings: ConfigSettings, backups: Path, target: dict[str, str]
) -> None:
    """A replica's fresh heartbeat in the restored bucket: --force must not pull the log from
    under it. Once it stops (its key purged), --force goes ahead."""
    nc = await connect(settings.nats_url, "backup-tests-heartbeat")
    try:
        config = await jetstream(nc).stream_info(settings.topology().stream(StreamRole.CONFIG))
        writer = HeartbeatWriter(
            jetstream(nc),
            settings.topology(),
            service="scheduler",
            instance="scheduler-0",
            version="test",
            clock=SystemClock(),
            interval_s=5.0,
            status=lambda: (True, 0),
        )
        await writer.beat()
        refused = await piyasa("restore", "--force", str(backups), **target)
        assert refused.exit_code == 1
        assert "scheduler/scheduler-0" in refused.output
        await writer.stop()
        untouched = await jetstream(nc).stream_info(settings.topology().stream(StreamRole.CONFIG))
        assert untouched.state.last_seq == config.state.last_seq
    finally:
        await nc.close()
