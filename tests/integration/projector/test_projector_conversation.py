"""Conversation events become messages (humans' still sealed), reactions and turn outcomes."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from piyasa_contracts import StreamRole
from tests.integration.projector import projector_events as ev
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


async def test_sent_and_incoming_messages_are_rows_and_humans_text_stays_sealed(harness):
    first = ev.sent("c1", "t1", "b1", 10, text="BIST bugün yükselir mi?")
    human = ev.incoming("c1", "p1", 11, ciphertext="gAAAAAB-original")
    reply = ev.sent("c1", "t2", "b2", 12, reply_to=11, text="Bence yatay.")
    edit = ev.incoming("c1", "p1", 11, update_id=2, edited=True, ciphertext="gAAAAAB-edited")

    async with harness.running():
        seqs = await harness.publish(first, human, reply, edit)
        await eventually(harness.at(StreamRole.CONVERSATION, seqs[-1]), message="applied")

    m10, m11, m12 = await harness.rows("messages")
    assert (m10["kind"], m10["chat_id"], m10["turn_id"], m10["bot_id"]) == ("bot", "c1", "t1", "b1")
    assert m10["text"] == "BIST bugün yükselir mi?"
    assert m10["sealed_text"] is None
    assert (m10["event_id"], m10["stream_sequence"]) == (first.id, seqs[0])

    assert (m11["kind"], m11["person_id"], m11["text"]) == ("human", "p1", None)
    assert json.loads(m11["sealed_text"]) == {"key_id": "k-p1", "ciphertext": "gAAAAAB-edited"}
    assert m11["sent_at"] == datetime.fromisoformat(edit.payload["date"])
    assert m11["edited_at"] == datetime.fromisoformat(edit.payload["edit_date"])
    assert (m11["event_id"], m11["stream_sequence"]) == (edit.id, seqs[3])

    assert (m12["reply_to_message_id"], m12["bot_id"]) == (11, "b2")


async def test_reactions_and_every_kind_of_turn_outcome(harness):
    events = [
        ev.sent("c1", "t1", "b1", 10),
        ev.reaction("c1", 10, "p1", "🔥"),
        ev.reaction("c1", 10, "b2", "👍", actor_is_bot=True),
        ev.failed("c1", "t2", "b2"),
        ev.expired("c1", "t3"),
        ev.dropped("c1", "t4"),
        # A late expiry of a turn that was posted does not unsay it.
        ev.expired("c1", "t1"),
    ]
    async with harness.running():
        seqs = await harness.publish(*events)
        await eventually(harness.at(StreamRole.CONVERSATION, seqs[-1]), message="applied")

    reactions = await harness.rows("reactions")
    assert [(r["actor_id"], r["emoji"], r["actor_is_bot"]) for r in reactions] == [
        ("b2", "👍", True),
        ("p1", "🔥", False),
    ]
    assert {r["chat_id"] for r in reactions} == {"c1"}

    outcomes = {r["turn_id"]: r for r in await harness.rows("turn_outcomes")}
    assert {t: (o["outcome"], o["stage"]) for t, o in outcomes.items()} == {
        "t1": ("sent", "dispatcher"),
        "t2": ("failed", "dispatcher"),
        "t3": ("expired", "generator"),
        "t4": ("dropped", "guard"),
    }
    assert outcomes["t1"]["stream_sequence"] == seqs[0]
    assert (outcomes["t2"]["reason"], outcomes["t2"]["detail"]) == (
        "disable_in_chat",
        "403 Forbidden: bot was kicked from the group chat",
    )
    assert outcomes["t3"]["reason"] == "deadline passed"
    assert outcomes["t4"]["bot_id"] == "b1"
