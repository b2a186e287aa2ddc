"""Bot tokens: encrypted in the secrets bucket, and never in an event, a log line or a response."""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet

from piyasa_config.secrets import TokenVault, multi_fernet
from piyasa_contracts import Bucket, StreamRole
from tests.integration.config.conftest import BOT_TOKEN, OTHER_TOKEN
from tests.support.backbone import stream_messages

pytestmark = pytest.mark.integration

TOKEN_SECRET_PART = BOT_TOKEN.split(":", 1)[1]


async def test_the_plaintext_token_appears_in_no_event_log_line_or_response(api, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    client = api.operator
    answers = []
    created = await client.post("/bots?wait=projected", json={"name": "A", "token": BOT_TOKEN})
    answers.append(created)
    bot_id = created.json()["id"]
    answers += [
        # A duplicate, a wrong shape, a change, and every read that shows a bot.
        await client.post("/bots", json={"name": "B", "token": BOT_TOKEN}),
        await client.post("/bots", json={"name": "C", "token": BOT_TOKEN + " !"}),
        await client.post("/bots", json={"name": "D", "token": BOT_TOKEN, "bogus": 1}),
        await client.patch(f"/bots/{bot_id}", json={"token": BOT_TOKEN}),
        await client.patch(f"/bots/{bot_id}?wait=projected", json={"token": OTHER_TOKEN}),
        await client.patch(f"/bots/{bot_id}?wait=projected", json={"token": BOT_TOKEN}),
        await client.get(f"/bots/{bot_id}"),
        await client.get("/bots"),
        await client.get(f"/bots/{bot_id}/history"),
        await client.get(f"/bots/{bot_id}/state"),
        await client.get("/fleet/export"),
        await api.admin.get("/audit"),
    ]
    assert answers[1].status_code == 409
    assert answers[2].status_code == 422
    assert answers[3].status_code == 422

    events = await stream_messages(api.js, api.topology, StreamRole.CONFIG)
    captured = capsys.readouterr()
    haystacks = {
        "responses": "\n".join(
            a.text + "\n" + "\n".join(f"{k}: {v}" for k, v in a.headers.items()) for a in answers
        ),
        "events": "\n".join(data.decode() + str(headers) for _, headers, data in events),
        "logs": "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records),
        "stdout": captured.out,
        "stderr": captured.err,
    }
    for where, text in haystacks.items():
        assert TOKEN_SECRET_PART not in text, f"token found in {where}"
        assert OTHER_TOKEN.split(":", 1)[1] not in text, f"token found in {where}"
    assert events

    refs = [e for e in events if b'"token_ref"' in e[2]]
    assert refs, "events carry a reference"
    # The secrets bucket holds ciphertext that the configured key opens.
    bucket = await api.js.key_value(api.topology.bucket(Bucket.SECRETS))
    keys = await bucket.keys()
    assert len(keys) == 1  # the replaced tokens' secrets were deleted
    stored = (await bucket.get(keys[0])).value
    assert TOKEN_SECRET_PART.encode() not in stored
    assert await api.state.vault.reveal(keys[0]) == BOT_TOKEN


async def test_key_rotation_re_encrypts_every_stored_token(api):
    for i, token in enumerate((BOT_TOKEN, OTHER_TOKEN)):
        answer = await api.operator.post("/bots", json={"name": f"b{i}", "token": token})
        assert answer.status_code == 201
    old_key = api.settings.fernet_keys.get_secret_value()
    new_key = Fernet.generate_key().decode()
    rotating = TokenVault(api.js, api.topology, multi_fernet([new_key, old_key]))

    report = await rotating.rotate()

    assert report.rotated == 2 and report.failed == []
    only_new = TokenVault(api.js, api.topology, multi_fernet([new_key]))
    bucket = await api.js.key_value(api.topology.bucket(Bucket.SECRETS))
    revealed = {await only_new.reveal(ref) for ref in await bucket.keys()}
    assert revealed == {BOT_TOKEN, OTHER_TOKEN}
