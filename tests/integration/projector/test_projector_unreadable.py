"""An unreadable event is parked and passed; an event from a newer producer stops the line."""

from __future__ import annotations

import base64

import pytest

from piyasa_common import metrics as backbone_metrics
from piyasa_contracts import StreamRole, subject_for
from piyasa_contracts.events.system import DeadLettered
from tests.integration.projector import projector_events as ev
from tests.support.backbone import raw_json, stream_events
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


async def publish_raw(harness, like, data: bytes, msg_id: str, **headers: str) -> int:
    subject = subject_for(harness.topology, like)
    ack = await harness.js.publish(subject, data, headers={"Nats-Msg-Id": msg_id, **headers})
    return ack.seq


async def test_malformed_and_unknown_config_events_are_dead_lettered_and_projection_goes_on(
    harness,
):
    template = ev.bot("b9")
    first = (await harness.publish(ev.bot("b1")))[0]
    bad_field = await publish_raw(
        harness,
        template,
        raw_json(template, payload={**template.payload, "hourly_limit": "lots"}),
        "bad-1",
    )
    not_json = await publish_raw(harness, template, b"\xff not json", "bad-2")
    unknown = await publish_raw(
        harness,
        template,
        raw_json(template, type="bot.renamed"),
        "bad-3",
        **{"Piyasa-Type": "bot.renamed"},
    )
    (after,) = await harness.publish(ev.bot("b2", "Mehmet"))

    async with harness.running():
        await eventually(harness.at(StreamRole.CONFIG, after), message="went on past them")
        parked = await eventually(
            lambda: _at_least(
                3, stream_events(harness.js, harness.topology, StreamRole.DEADLETTER)
            ),
            message="parked",
        )
        dlq_last = (
            await harness.js.stream_info(harness.stream(StreamRole.DEADLETTER))
        ).state.last_seq
        await eventually(
            harness.at(StreamRole.DEADLETTER, dlq_last), message="dead letters projected"
        )

    assert [r["id"] for r in await harness.rows("bots")] == ["b1", "b2"]
    records = [DeadLettered.model_validate(p.payload) for p in parked]
    assert [(r.stream_sequence, r.reason) for r in records] == [
        (bad_field, "malformed"),
        (not_json, "malformed"),
        (unknown, "unknown_type"),
    ]
    assert {r.consumer for r in records} == {"projector-config"}
    assert "payload.hourly_limit" in records[0].error
    assert records[0].original_id == "bad-1"
    assert records[2].original_type == "bot.renamed"
    assert base64.b64decode(records[1].data_b64) == b"\xff not json"
    assert first < bad_field

    rows = await harness.rows("dead_letters")
    assert sorted((r["original_sequence"], r["reason"], r["consumer"]) for r in rows) == [
        (bad_field, "malformed", "projector-config"),
        (not_json, "malformed", "projector-config"),
        (unknown, "unknown_type", "projector-config"),
    ]
    assert {r["original_stream"] for r in rows} == {harness.stream(StreamRole.CONFIG)}


async def test_a_newer_version_stops_the_line_and_is_never_dead_lettered(harness):
    (before,) = await harness.publish(ev.bot("b1"))
    future = ev.bot("b2", "Gelecek")
    newer = await publish_raw(harness, future, raw_json(future, version=99), future.id)
    (later,) = await harness.publish(
        ev.bot("b3", "Sonra"),
    )
    counter = backbone_metrics.NEWER_VERSION.labels("bot.changed")
    seen = counter._value.get()

    async with harness.running() as projector:
        # Retried (newer_version_delay_s is 0.5 s here), never passed.
        await eventually(lambda: counter._value.get() >= seen + 3, message="retried")
        assert await harness.position(StreamRole.CONFIG) == before
        assert [r["id"] for r in await harness.rows("bots")] == ["b1"]
        config = next(
            p for p in projector.projections if p.stream == harness.stream(StreamRole.CONFIG)
        )
        assert config.blocked_at == newer
        assert not projector.caught_up

    assert newer < later
    assert await stream_events(harness.js, harness.topology, StreamRole.DEADLETTER) == []
    assert await harness.rows("dead_letters") == []


async def _at_least(n, awaitable):
    items = await awaitable
    return items if len(items) >= n else None
