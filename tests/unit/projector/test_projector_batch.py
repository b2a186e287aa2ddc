"""Planning a batch: what is applied, parked, skipped, and where the line stops."""

from __future__ import annotations

import json
from pathlib import Path

from piyasa_contracts import decode, derive_event_id, encode
from piyasa_contracts.events.system import DeadLettered
from piyasa_projector.batch import RawMessage, plan_batch
from piyasa_projector.deadletter import parked_event
from tests.integration.projector import projector_events as ev
from tests.support.backbone import raw_json

SAMPLES = Path(__file__).resolve().parents[3] / "contracts" / "samples"


def message(sequence: int, data: bytes, **headers: str) -> RawMessage:
    return RawMessage(sequence, "piyasa.config.bot.b1", headers, data)


def test_messages_at_or_below_the_position_are_duplicates():
    plan = plan_batch([message(i, encode(ev.bot(f"b{i}"))) for i in (3, 4, 5, 6)], position=4)

    assert plan.duplicates == 2
    assert [r.values["id"] for r in plan.rows] == ["b5", "b6"]
    assert plan.last_sequence == 6


def test_an_unreadable_message_is_passed_and_the_position_moves_past_it():
    bot = ev.bot("b1")
    plan = plan_batch(
        [
            message(1, raw_json(bot, payload={**bot.payload, "hourly_limit": "many"})),
            message(2, raw_json(bot, type="bot.renamed")),
            message(3, encode(ev.bot("b2"))),
        ],
        position=0,
    )

    assert [(u.message.stream_sequence, u.reason) for u in plan.unreadable] == [
        (1, "malformed"),
        (2, "unknown_type"),
    ]
    assert [r.values["id"] for r in plan.rows] == ["b2"]
    assert plan.last_sequence == 3
    assert plan.blocked is None


def test_a_newer_version_stops_the_line_before_it():
    future = ev.bot("b2")
    plan = plan_batch(
        [
            message(7, encode(ev.bot("b1"))),
            message(8, raw_json(future, version=99)),
            message(9, encode(ev.bot("b3"))),
        ],
        position=6,
    )

    assert [r.values["id"] for r in plan.rows] == ["b1"]
    assert plan.last_sequence == 7
    assert plan.blocked is not None
    assert plan.blocked.message.stream_sequence == 8
    assert (plan.blocked.error.event_type, plan.blocked.error.version) == ("bot.changed", 99)


def test_an_old_version_is_upcast_and_counted():
    data = (SAMPLES / "bot.changed.v1.json").read_bytes()

    plan = plan_batch([message(1, data)], position=0)

    (row,) = plan.rows
    assert row.values["active_hours"]["timezone"] == "Europe/Berlin"
    assert plan.upcast == {("bot.changed", 1): 1}


def test_a_parked_record_has_the_id_the_consumer_runner_would_give_it():
    bot = ev.bot("b1")
    unreadable = plan_batch(
        [message(12, b"\xff", **{"Nats-Msg-Id": bot.id, "Piyasa-Type": "bot.changed"})], position=0
    ).unreadable[0]

    parked = parked_event(unreadable, consumer="projector-config", stream="p_CONFIG", now=ev.T0)

    assert parked.id == derive_event_id("p_CONFIG:12:projector-config", DeadLettered.event_type)
    record = decode(encode(parked)).payload
    assert isinstance(record, DeadLettered)
    assert (record.original_id, record.original_type, record.reason) == (
        bot.id,
        "bot.changed",
        "malformed",
    )
    assert (record.stream_name, record.stream_sequence, record.deliveries) == ("p_CONFIG", 12, 1)
    assert json.loads(parked.model_dump_json())["keys"] == {
        "bot_id": None,
        "chat_id": None,
        "turn_id": None,
    }
