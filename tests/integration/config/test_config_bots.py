# ruff: noqa: RUF001  (Turkish text on purpose)
"""Bots through the API: create, read, change, delete, history, tombstones."""

from __future__ import annotations

import pytest

from piyasa_contracts import StreamRole
from tests.integration.config.conftest import BOT_TOKEN, OTHER_TOKEN
from tests.support.backbone import stream_events

pytestmark = pytest.mark.integration


async def test_bot_create_read_update_delete(api):
    client = api.operator
    created = await client.post(
        "/bots?wait=projected",
        json={
            "name": "Kemal Bey",
            "token": BOT_TOKEN,
            "persona": {"tone": "alaycı", "expertise": ["BIST"], "verbosity": 0.4},
            "emotion": {"baseline_mood": 0.2},
            "active_hours": {"start": "09:00", "end": "22:00", "timezone": "Europe/Istanbul"},
            "llm": {"provider": "openai", "model": "gpt-4o-mini"},
            "hourly_limit": 4,
        },
    )
    assert created.status_code == 201, created.text
    bot = created.json()
    assert bot["has_token"] is True
    assert "token" not in bot
    assert created.headers["ETag"] == f'"{bot["version"]}"'

    got = await client.get(f"/bots/{bot['id']}")
    assert got.status_code == 200
    assert got.json()["persona"]["tone"] == "alaycı"
    assert got.json()["version"] == bot["version"]

    changed = await client.patch(
        f"/bots/{bot['id']}?wait=projected",
        json={"name": "Kemal", "enabled": False},
        headers={"If-Match": got.headers["ETag"]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "Kemal"
    assert changed.json()["version"] > bot["version"]
    assert changed.json()["has_token"] is True

    persona = await client.put(
        f"/bots/{bot['id']}/persona?wait=projected", json={"tone": "neşeli", "emoji_use": 0.9}
    )
    assert persona.status_code == 200, persona.text
    assert (await client.get(f"/bots/{bot['id']}/persona")).json()["tone"] == "neşeli"

    listed = await client.get("/bots", params={"limit": 10})
    assert [b["id"] for b in listed.json()["items"]] == [bot["id"]]

    deleted = await client.delete(f"/bots/{bot['id']}?wait=projected")
    assert deleted.status_code == 200, deleted.text
    assert (await client.get(f"/bots/{bot['id']}")).status_code == 404
    assert (await client.get("/bots")).json()["items"] == []

    history = await client.get(f"/bots/{bot['id']}/history")
    assert history.status_code == 200
    entries = history.json()["items"]
    assert [e["deleted"] for e in entries] == [False, False, False, True]
    assert all(e["actor"] == f"operator:{api.operator_ids['operator']}" for e in entries)
    assert entries[1]["state"]["name"] == "Kemal"


async def test_a_deleted_bot_can_be_created_again_with_its_id_and_token(api):
    client = api.operator
    first = (await client.post("/bots", json={"name": "A", "token": BOT_TOKEN})).json()
    taken = await client.post("/bots", json={"name": "B", "token": BOT_TOKEN})
    assert taken.status_code == 409
    assert taken.json()["code"] == "already_exists"
    assert (await client.delete(f"/bots/{first['id']}")).status_code == 200

    again = await client.post(
        "/bots?wait=projected", json={"id": first["id"], "name": "A2", "token": BOT_TOKEN}
    )

    assert again.status_code == 201, again.text
    assert again.json()["version"] > first["version"]
    assert (await client.get(f"/bots/{first['id']}")).json()["name"] == "A2"
    history = (await client.get(f"/bots/{first['id']}/history")).json()["items"]
    assert [e["deleted"] for e in history] == [False, True, False]


async def test_token_change_frees_the_old_token(api):
    client = api.operator
    a = (await client.post("/bots", json={"name": "A", "token": BOT_TOKEN})).json()
    changed = await client.patch(f"/bots/{a['id']}", json={"token": OTHER_TOKEN})
    assert changed.status_code == 200, changed.text

    b = await client.post("/bots", json={"name": "B", "token": BOT_TOKEN})

    assert b.status_code == 201, b.text
    events = await stream_events(api.js, api.topology, StreamRole.CONFIG)
    refs = [e.payload.get("token_ref") for e in events if e.type == "bot.changed"]
    assert len(set(refs)) == 3
    assert await api.state.vault.reveal(refs[-1]) == BOT_TOKEN
