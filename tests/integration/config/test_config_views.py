# ruff: noqa: RUF001  (Turkish text on purpose)
"""Read-only views: messages (and erasure), bot state, deaf chats, heartbeats, queues,
dead letters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from piyasa_common.sealing import DataKeys
from piyasa_contracts import EventKeys, StreamRole, make_event
from piyasa_contracts.events.config import BotStatusChanged, ChatStatusChanged, TokenCheck
from piyasa_contracts.events.conversation import IncomingMessage, Sent
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


async def setup_chat(api):
    bot = (await api.operator.post("/bots", json={"name": "Dinleyici"})).json()
    chat = (
        await api.operator.post(
            "/chats?wait=projected",
            json={
                "telegram_chat_id": -100500,
                "title": "Borsa",
                "bot_ids": [bot["id"]],
                "listener_bot_id": bot["id"],
            },
        )
    ).json()
    return bot, chat


async def publish(api, *payloads, chat_id=None, bot_id=None):
    seq = 0
    for i, payload in enumerate(payloads):
        event = make_event(
            payload,
            occurred_at=T0 + timedelta(seconds=i),
            keys=EventKeys(chat_id=chat_id, bot_id=bot_id),
            actor="dispatcher",
        )
        seq = (await api.state.events._publisher.publish(event)).seq
    return seq


async def test_messages_show_humans_text_until_the_person_is_erased(api):
    bot, chat = await setup_chat(api)
    keys = DataKeys(api.js, api.topology)
    human = IncomingMessage(
        person_id="p1",
        via_bot_id=bot["id"],
        telegram_chat_id=-100500,
        telegram_message_id=11,
        update_id=1,
        sender_name=await keys.seal("p1", "Mehmet Yılmaz"),
        text=await keys.seal("p1", "altın ne olur sizce?"),
        date=T0,
    )
    reply = Sent(
        turn_id="t1",
        bot_id=bot["id"],
        telegram_chat_id=-100500,
        telegram_message_id=12,
        text="Bence yükselir.",
        reply_to_message_id=11,
        sent_at=T0 + timedelta(seconds=5),
    )
    seq = await publish(api, human, reply, chat_id=chat["id"])
    await api.state.reader.wait_projected(api.stream(StreamRole.CONVERSATION), seq, 10)

    page = (await api.viewer.get(f"/chats/{chat['id']}/messages")).json()
    assert [(m["kind"], m["text"], m["erased"]) for m in page["items"]] == [
        ("bot", "Bence yükselir.", False),
        ("human", "altın ne olur sizce?", False),
    ]
    assert page["items"][1]["sender_name"] == "Mehmet Yılmaz"

    assert (await api.operator.post("/people/p1/erase", json={})).status_code == 403
    erased = await api.admin.post("/people/p1/erase?wait=projected", json={"reason": "KVKK-1"})
    assert erased.status_code == 200, erased.text

    page = (await api.viewer.get(f"/chats/{chat['id']}/messages")).json()
    assert [(m["kind"], m["text"], m["erased"]) for m in page["items"]] == [
        ("bot", "Bence yükselir.", False),
        ("human", None, True),
    ]
    assert page["items"][1]["sender_name"] is None
    assert not await DataKeys(api.js, api.topology).exists("p1")  # the key is gone for all


async def test_messages_page_backwards_with_a_cursor(api):
    bot, chat = await setup_chat(api)
    sent = [
        Sent(
            turn_id=f"t{i}",
            bot_id=bot["id"],
            telegram_chat_id=-100500,
            telegram_message_id=100 + i,
            text=f"mesaj {i}",
            sent_at=T0 + timedelta(seconds=i),
        )
        for i in range(5)
    ]
    seq = await publish(api, *sent, chat_id=chat["id"])
    await api.state.reader.wait_projected(api.stream(StreamRole.CONVERSATION), seq, 10)
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"before": cursor} if cursor else {})}
        page = (await api.viewer.get(f"/chats/{chat['id']}/messages", params=params)).json()
        seen += [m["text"] for m in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [f"mesaj {i}" for i in (4, 3, 2, 1, 0)]
    bad = await api.viewer.get(f"/chats/{chat['id']}/messages", params={"before": "abc"})
    assert bad.status_code == 400


async def test_bot_state_and_chats_that_cannot_hear_their_humans(api):
    bot, chat = await setup_chat(api)
    silent = (
        await api.operator.post(
            "/chats?wait=projected", json={"telegram_chat_id": -7, "title": "Sessiz"}
        )
    ).json()
    deaf = (await api.viewer.get("/deaf-chats")).json()["items"]
    assert {c["id"]: c["reason"] for c in deaf} == {
        chat["id"]: "the listener bot's token is not checked yet",
        silent["id"]: "no listener bot is set",
    }

    seq = await publish(
        api,
        BotStatusChanged(
            id=bot["id"],
            token_check=TokenCheck.VERIFIED,
            telegram_user_id=7012345678,
            telegram_username="dinleyici_bot",
            can_read_all_group_messages=True,
            checked_at=T0,
        ),
        bot_id=bot["id"],
    )
    await api.state.reader.wait_projected(api.stream(StreamRole.CONFIG), seq, 10)
    state = (await api.viewer.get(f"/bots/{bot['id']}/state")).json()
    assert state["telegram"]["token_check"] == "verified"
    assert state["can_hear_humans"] is True
    assert state["control"] == "running"
    assert [c["id"] for c in (await api.viewer.get("/deaf-chats")).json()["items"]] == [
        silent["id"]
    ]

    seq = await publish(
        api,
        ChatStatusChanged(id=chat["id"], can_hear_humans=False, detail="listener was kicked"),
        chat_id=chat["id"],
    )
    await api.state.reader.wait_projected(api.stream(StreamRole.CONFIG), seq, 10)
    deaf = (await api.viewer.get("/deaf-chats")).json()["items"]
    assert {c["id"]: c["reason"] for c in deaf}[chat["id"]] == "listener was kicked"


async def test_heartbeats_and_queues(api):
    from piyasa_common.clock import SystemClock
    from piyasa_common.heartbeat import HeartbeatWriter

    writer = HeartbeatWriter(
        api.js,
        api.topology,
        service="scheduler",
        instance="i1",
        version="1.2.3",
        clock=SystemClock(),
        interval_s=5,
        status=lambda: (True, 3),
    )
    await writer.beat()
    beats = (await api.viewer.get("/system/heartbeats")).json()
    assert [(b["service"], b["ready"], b["lag"]) for b in beats] == [("scheduler", True, 3)]

    await api.operator.post("/bots?wait=projected", json={"name": "x"})
    queues = (await api.viewer.get("/system/queues")).json()
    config = next(s for s in queues["streams"] if s["stream"] == api.stream(StreamRole.CONFIG))
    assert config["messages"] >= 1
    assert config["projected"] == config["last_sequence"]
    assert any(c["consumer"] == "generator" for c in queues["consumers"])


async def test_dead_letters_list_inspect_replay_purge(api):
    subject = api.topology.config_subject("bot", "broken")
    for i in range(2):
        await api.js.publish(subject, b"{not json", headers={"Nats-Msg-Id": f"bad-{i}"})

    async def parked():
        page = (await api.operator.get("/dead-letters")).json()
        return page["items"] if len(page["items"]) == 2 else None

    items = await eventually(parked, message="the projector parks the broken events")
    assert {i["reason"] for i in items} == {"malformed"}
    detail = await api.operator.get(f"/dead-letters/{items[0]['seq']}")
    assert detail.status_code == 200
    assert detail.json()["body"] == "{not json"
    assert (await api.operator.post(f"/dead-letters/{items[0]['seq']}/replay")).status_code == 403

    replayed = await api.admin.post(f"/dead-letters/{items[0]['seq']}/replay")
    assert replayed.status_code == 200, replayed.text
    purged = await api.admin.delete(f"/dead-letters/{items[1]['seq']}")
    assert purged.json() == {"purged": 1}
    assert (await api.operator.get(f"/dead-letters/{items[1]['seq']}")).status_code == 404

    # The replayed one is parked again by the projector (it is still broken); purge them all.
    await eventually(lambda: _count(api), message="parked again")
    assert (await api.admin.delete("/dead-letters")).json()["purged"] >= 1
    assert (await api.operator.get("/dead-letters")).json()["items"] == []


async def _count(api) -> int:
    return len((await api.operator.get("/dead-letters")).json()["items"])
