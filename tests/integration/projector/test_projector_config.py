# ruff: noqa: RUF001  (Turkish text on purpose: the dotless i must survive the round trip)
"""Config events become rows holding the aggregate's full state, versioned by sequence."""

from __future__ import annotations

import pytest

from piyasa_contracts import StreamRole
from piyasa_contracts.events.config import ControlScope, ControlState
from tests.integration.projector import projector_events as ev
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


async def test_bot_created_updated_twice_and_deleted_keeps_last_state_and_its_sequence(harness):
    created, renamed, disabled, deleted = (
        ev.bot("b1", "Ayşe"),
        ev.bot("b1", "Ayşe Hanım"),
        ev.bot("b1", "Ayşe Hanım", enabled=False, hourly_limit=2),
        ev.bot("b1", "Ayşe Hanım", enabled=False, hourly_limit=2, deleted=True),
    )
    other = ev.bot("b2", "Mehmet", username="mehmet_bot", llm={"provider": "offline"})

    async with harness.running():
        seqs = await harness.publish(created, renamed, other)
        await eventually(harness.at(StreamRole.CONFIG, seqs[-1]), message="first three applied")
        b1 = (await harness.rows("bots"))[0]
        assert (b1["name"], b1["version"], b1["deleted"]) == ("Ayşe Hanım", seqs[1], False)

        later = await harness.publish(disabled, deleted)
        await eventually(harness.at(StreamRole.CONFIG, later[-1]), message="delete applied")

    b1, b2 = await harness.rows("bots")
    assert b1["id"] == "b1"
    assert b1["deleted"] is True
    assert b1["enabled"] is False
    assert b1["hourly_limit"] == 2
    assert b1["version"] == later[-1]
    assert b1["updated_at"] == deleted.occurred_at
    assert b2["username"] == "mehmet_bot"
    assert b2["version"] == seqs[2]
    assert '"provider": "offline"' in b2["llm"]
    assert '"timezone": "Europe/Istanbul"' in b2["active_hours"]


async def test_every_config_aggregate_lands_in_its_own_table(harness):
    events = [
        ev.chat("c1", -1001, topics=["BTC/USD", "THYAO"], bot_ids=["b1", "b2"]),
        ev.stance("s1", "b1", "BTC/USD", rationale="halving"),
        ev.holding("h1", "b1", "THYAO", quantity=50.5, average_cost=312.4),
        ev.settings_changed({"max_turns_in_flight": 1, "language": "tr"}),
        ev.control("fleet", ControlState.PAUSED),
        ev.control("c1-control", ControlState.STOPPED, ControlScope.CHAT, "c1"),
    ]
    async with harness.running():
        seqs = await harness.publish(*events)
        await eventually(harness.at(StreamRole.CONFIG, seqs[-1]), message="config applied")

    (chat,) = await harness.rows("chats")
    assert chat["telegram_chat_id"] == -1001
    assert chat["topics"] == ["BTC/USD", "THYAO"]
    assert chat["bot_ids"] == ["b1", "b2"]
    assert chat["activity_curve"] == [1.0] * 24
    assert chat["version"] == seqs[0]

    (stance,) = await harness.rows("stances")
    assert (stance["bot_id"], stance["topic"], stance["position"]) == ("b1", "BTC/USD", "bullish")
    assert (stance["rationale"], stance["version"]) == ("halving", seqs[1])

    (holding,) = await harness.rows("holdings")
    assert (holding["symbol"], holding["quantity"], holding["average_cost"]) == (
        "THYAO",
        50.5,
        312.4,
    )
    assert holding["version"] == seqs[2]

    (settings,) = await harness.rows("settings")
    assert settings["id"] == "global"
    assert settings["version"] == seqs[3]
    assert '"max_turns_in_flight": 1' in settings["values"]

    controls = {r["id"]: r for r in await harness.rows("controls")}
    assert (controls["fleet"]["scope"], controls["fleet"]["state"]) == ("fleet", "paused")
    assert controls["fleet"]["target_id"] is None
    assert (controls["c1-control"]["target_id"], controls["c1-control"]["version"]) == (
        "c1",
        seqs[5],
    )

    positions = {
        r["stream"]: r["last_sequence"] for r in await harness.rows("projection_positions")
    }
    assert positions[harness.stream(StreamRole.CONFIG)] == seqs[-1]
