# ruff: noqa: RUF001  (Turkish text on purpose)
"""Chats, stances, holdings, settings and control through the API."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

pytestmark = pytest.mark.integration


async def make_bot(client, name="Ayşe", **fields):
    response = await client.post("/bots", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def test_chat_create_read_update_delete(api):
    client = api.operator
    a, b = await make_bot(client, "A"), await make_bot(client, "B")
    created = await client.post(
        "/chats?wait=projected",
        json={
            "telegram_chat_id": -1001234567890,
            "title": "Borsa Sohbet",
            "topics": ["BTC/USD", "altın"],
            "bot_ids": [a["id"], b["id"]],
            "listener_bot_id": a["id"],
            "target_per_hour": 20,
            "typing": False,
        },
    )
    assert created.status_code == 201, created.text
    chat = created.json()

    got = await client.get(f"/chats/{chat['id']}")
    assert got.json()["topics"] == ["BTC/USD", "altın"]
    assert got.json()["typing"] is False
    by_bot = await client.get("/chats", params={"bot_id": b["id"]})
    assert [c["id"] for c in by_bot.json()["items"]] == [chat["id"]]

    changed = await client.patch(
        f"/chats/{chat['id']}?wait=projected",
        json={"title": "Borsa", "bot_ids": [a["id"]]},
        headers={"If-Match": got.headers["ETag"]},
    )
    assert changed.status_code == 200, changed.text
    assert (await client.get("/chats", params={"bot_id": b["id"]})).json()["items"] == []

    unknown = await client.patch(f"/chats/{chat['id']}", json={"bot_ids": [a["id"], "nobody"]})
    assert unknown.status_code == 404
    assert unknown.json()["details"][0]["field"] == "bot_ids"

    assert (await client.delete(f"/chats/{chat['id']}?wait=projected")).status_code == 200
    assert (await client.get(f"/chats/{chat['id']}")).status_code == 404
    # The Telegram chat id is free again.
    again = await client.post("/chats", json={"telegram_chat_id": -1001234567890, "title": "Yeni"})
    assert again.status_code == 201, again.text


async def test_two_concurrent_creates_of_one_telegram_chat_id_one_wins(api):
    body = {"telegram_chat_id": -1009999, "title": "Aynı grup"}
    answers = await asyncio.gather(
        *(api.as_(role).post("/chats", json=body) for role in ("operator", "admin", "operator"))
    )

    codes = sorted(a.status_code for a in answers)
    assert codes == [201, 409, 409], [a.text for a in answers]
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"already_exists"}


async def test_two_concurrent_updates_one_wins_the_other_gets_409_with_the_version(api):
    bot = await make_bot(api.operator)
    etag = f'"{bot["version"]}"'

    first, second = await asyncio.gather(
        api.operator.patch(f"/bots/{bot['id']}", json={"name": "X"}, headers={"If-Match": etag}),
        api.admin.patch(f"/bots/{bot['id']}", json={"name": "Y"}, headers={"If-Match": etag}),
    )

    codes = sorted([first.status_code, second.status_code])
    assert codes == [200, 409]
    winner = first if first.status_code == 200 else second
    loser = second if winner is first else first
    assert loser.json()["code"] == "version_conflict"
    assert loser.json()["current_version"] == winner.json()["version"]
    assert loser.headers["ETag"] == f'"{winner.json()["version"]}"'


async def test_concurrent_updates_without_if_match_never_lose_a_write_silently(api):
    bot = await make_bot(api.operator)
    answers = await asyncio.gather(
        *(api.operator.patch(f"/bots/{bot['id']}", json={"hourly_limit": n}) for n in range(8))
    )
    ok = [a for a in answers if a.status_code == 200]
    assert ok and all(a.status_code in (200, 409) for a in answers)
    history = (await api.operator.get(f"/bots/{bot['id']}/history")).json()["items"]
    assert len(history) == 1 + len(ok)  # every 200 is one stored event, no more


async def test_stance_flip_inside_its_cooldown_is_refused_unless_an_admin_forces_it(api):
    bot = await make_bot(api.operator)
    until = (datetime.now(UTC) + timedelta(hours=6)).isoformat()
    created = await api.operator.post(
        "/stances",
        json={
            "bot_id": bot["id"],
            "topic": "BTC/USD",
            "position": "bullish",
            "strength": 0.8,
            "cooldown_until": until,
        },
    )
    assert created.status_code == 201, created.text
    stance = created.json()
    duplicate = await api.operator.post(
        "/stances",
        json={"bot_id": bot["id"], "topic": "btc/usd ", "position": "bearish", "strength": 0.1},
    )
    assert duplicate.status_code == 409

    stronger = await api.operator.patch(f"/stances/{stance['id']}", json={"strength": 0.9})
    assert stronger.status_code == 200, stronger.text
    flip = await api.operator.patch(f"/stances/{stance['id']}", json={"position": "bearish"})
    assert flip.status_code == 409
    assert flip.json()["code"] == "stance_cooldown"
    assert flip.json()["details"][0]["field"] == "position"
    not_allowed = await api.operator.patch(
        f"/stances/{stance['id']}?force=true", json={"position": "bearish"}
    )
    assert not_allowed.status_code == 403

    forced = await api.admin.patch(
        f"/stances/{stance['id']}?force=true&wait=projected", json={"position": "bearish"}
    )

    assert forced.status_code == 200, forced.text
    assert (await api.viewer.get(f"/stances/{stance['id']}")).json()["position"] == "bearish"


async def test_stance_flip_after_its_cooldown_is_allowed(api):
    bot = await make_bot(api.operator)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    stance = (
        await api.operator.post(
            "/stances",
            json={
                "bot_id": bot["id"],
                "topic": "altın",
                "position": "bearish",
                "strength": 0.5,
                "cooldown_until": past,
            },
        )
    ).json()
    flip = await api.operator.patch(f"/stances/{stance['id']}", json={"position": "bullish"})
    assert flip.status_code == 200, flip.text


async def test_stance_and_holding_crud(api):
    client = api.operator
    bot = await make_bot(client)
    stance = (
        await client.post(
            "/stances?wait=projected",
            json={"bot_id": bot["id"], "topic": "THYAO", "position": "neutral", "strength": 0.3},
        )
    ).json()
    assert [
        s["id"] for s in (await client.get(f"/stances?bot_id={bot['id']}")).json()["items"]
    ] == [stance["id"]]
    assert (await client.delete(f"/stances/{stance['id']}?wait=projected")).status_code == 200
    assert (await client.get(f"/stances/{stance['id']}")).status_code == 404

    created = await client.post(
        "/holdings?wait=projected",
        json={
            "bot_id": bot["id"],
            "symbol": "THYAO",
            "quantity": 500,
            "average_cost": 281.5,
            "opened_at": "2025-01-02T10:00:00+03:00",
            "note": "uzun vade",
        },
    )
    assert created.status_code == 201, created.text
    holding = created.json()
    assert (await client.get(f"/holdings/{holding['id']}")).json()["quantity"] == 500
    patched = await client.patch(
        f"/holdings/{holding['id']}?wait=projected", json={"quantity": 250, "average_cost": None}
    )
    assert patched.status_code == 200, patched.text
    got = (await client.get(f"/holdings/{holding['id']}")).json()
    assert (got["quantity"], got["average_cost"]) == (250, None)
    listed = (await client.get("/holdings", params={"bot_id": bot["id"]})).json()["items"]
    assert [h["symbol"] for h in listed] == ["THYAO"]
    assert (await client.delete(f"/holdings/{holding['id']}")).status_code == 200
    no_bot = await client.post("/holdings", json={"bot_id": "ghost", "symbol": "X", "quantity": 1})
    assert no_bot.status_code == 404
    assert no_bot.json()["details"][0]["field"] == "bot_id"


async def test_settings_have_documented_defaults_and_validated_ranges(api):
    first = await api.viewer.get("/settings")
    assert first.status_code == 200
    assert first.json()["version"] == 0
    assert first.json()["values"]["dedup_threshold"] == 0.4

    patched = await api.operator.patch(
        "/settings?wait=projected",
        json={"values": {"dedup_threshold": 0.9, "guard_max_retries": 3}},
    )
    assert patched.status_code == 200, patched.text
    got = (await api.viewer.get("/settings")).json()
    assert got["values"]["dedup_threshold"] == 0.9
    assert got["values"]["guard_max_retries"] == 3
    assert got["values"]["typing_chars_per_second"] == 12.0

    out_of_range = await api.operator.patch("/settings", json={"values": {"dedup_threshold": 2}})
    assert out_of_range.status_code == 422
    assert out_of_range.json()["details"][0]["field"] == "values.dedup_threshold"
    unknown = await api.operator.patch("/settings", json={"values": {"no_such_knob": 1}})
    assert unknown.status_code == 422
    stale = await api.operator.put(
        "/settings", json={"gap_jitter": 0.1}, headers={"If-Match": str(first.json()["version"])}
    )
    assert stale.status_code == 409
    replaced = await api.operator.put(
        "/settings?wait=projected",
        json={"gap_jitter": 0.1},
        headers={"If-Match": str(got["version"])},
    )
    assert replaced.status_code == 200, replaced.text
    assert (await api.viewer.get("/settings")).json()["values"]["dedup_threshold"] == 0.4


async def test_control_start_stop_pause_fleet_chat_and_bot(api):
    bot = await make_bot(api.operator)
    chat = (await api.operator.post("/chats", json={"telegram_chat_id": -5, "title": "c"})).json()

    for path, state in (
        ("/control/fleet/pause", "paused"),
        (f"/control/chats/{chat['id']}/stop", "stopped"),
        (f"/control/bots/{bot['id']}/pause", "paused"),
        ("/control/fleet/start", "running"),
    ):
        answer = await api.operator.post(path + "?wait=projected")
        assert answer.status_code == 200, answer.text
        assert answer.json()["state"] == state

    listed = (await api.viewer.get("/control")).json()["items"]
    assert {(c["scope"], c["state"]) for c in listed} == {
        ("fleet", "running"),
        ("chat", "stopped"),
        ("bot", "paused"),
    }
    state = (await api.viewer.get(f"/bots/{bot['id']}/state")).json()
    assert state["control"] == "paused"
    assert (await api.operator.post("/control/bots/ghost/pause")).status_code == 404
