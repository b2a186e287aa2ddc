"""Rows and positions move together, once: replays change nothing, failures move nothing."""

from __future__ import annotations

import pytest

from piyasa_contracts import StreamRole
from piyasa_projector import metrics
from piyasa_projector.errors import StoreError
from piyasa_projector.rows import Row
from tests.integration.projector import projector_events as ev
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


def mixed_log() -> list:
    return [
        ev.bot("b1"),
        ev.chat("c1", -1001, bot_ids=["b1"]),
        ev.bot("b1", "Ayşe 2"),
        ev.stance("s1", "b1"),
        ev.sent("c1", "t1", "b1", 10),
        ev.incoming("c1", "p1", 11),
        ev.reaction("c1", 10, "p1"),
        ev.expired("c1", "t2"),
        ev.holding("h1", "b1"),
        ev.bot("b1", "Ayşe 3", deleted=True),
    ]


async def caught_up(harness, seqs_by_role):
    for role, seq in seqs_by_role.items():
        await eventually(harness.at(role, seq), message=f"{role} applied")


async def test_replaying_what_was_applied_changes_nothing(harness):
    events = mixed_log()
    seqs = await harness.publish(*events)
    last = {
        StreamRole.CONFIG: max(
            s for e, s in zip(events, seqs, strict=True) if e.type.endswith(".changed")
        ),
        StreamRole.CONVERSATION: max(
            s for e, s in zip(events, seqs, strict=True) if not e.type.endswith(".changed")
        ),
    }
    async with harness.running():
        await caught_up(harness, last)
    applied = await harness.dump()

    # A batch re-read from before the stored position (a redelivery, a stale replica).
    config = harness.stream(StreamRole.CONFIG)
    stale = [Row("bots", {**dict((await harness.rows("bots"))[0]), "name": "stale"}, 1)]
    position, written = await harness.store.commit(config, 0, stale, 1)
    assert (position, sum(written.values())) == (last[StreamRole.CONFIG], 0)
    assert await harness.dump() == applied

    # The whole range again, from a forgotten position, with two replicas racing over it.
    await harness.execute("UPDATE projection_positions SET last_sequence = 0")
    async with harness.running(), harness.running():
        await caught_up(harness, last)
    assert await harness.dump() == applied


async def test_a_batch_that_fails_midway_moves_neither_rows_nor_position(harness):
    await harness.execute(
        """
        CREATE FUNCTION refuse_exploding_bots() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.name = 'explode' THEN RAISE EXCEPTION 'injected failure'; END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_exploding_bots BEFORE INSERT OR UPDATE ON bots
            FOR EACH ROW EXECUTE FUNCTION refuse_exploding_bots();
        """
    )
    # One batch: its chat and its first bot are written before the bad bot fails.
    seqs = await harness.publish(
        ev.chat("c1", -1001), ev.bot("b1"), ev.bot("b2", "explode"), ev.holding("h1", "b1")
    )
    failures = metrics.FAILURES.labels("CONFIG", "database")
    before = failures._value.get()

    async with harness.running():
        await eventually(lambda: failures._value.get() >= before + 2, message="batch retried")
        for table in ("chats", "bots", "holdings"):
            assert await harness.count(table) == 0, table
        assert await harness.position(StreamRole.CONFIG) == 0

        await harness.execute("DROP TRIGGER refuse_exploding_bots ON bots")
        await eventually(harness.at(StreamRole.CONFIG, seqs[-1]), message="recovered")

    assert [r["name"] for r in await harness.rows("bots")] == ["Ayşe", "explode"]
    assert await harness.count("chats") == await harness.count("holdings") == 1


async def test_a_row_breaking_a_check_rolls_back_the_whole_commit(harness):
    config = harness.stream(StreamRole.CONFIG)
    event = ev.expired("c1", "t1")
    good = Row(
        "settings",
        {"id": "global", "values": {}, "deleted": False, "version": 1, "updated_at": ev.T0},
        1,
    )
    bad = Row(
        "turn_outcomes",
        {
            "turn_id": "t1",
            "chat_id": "c1",
            "bot_id": None,
            "outcome": "vanished",
            "stage": "guard",
            "reason": None,
            "detail": None,
            "at": ev.T0,
            "event_id": event.id,
            "stream_sequence": 2,
        },
        2,
    )

    with pytest.raises(StoreError) as caught:
        await harness.store.commit(config, 0, [good, bad], 2)

    assert "turn_outcomes_outcome" in str(caught.value)
    assert not caught.value.connection
    assert harness.store.healthy
    assert await harness.count("settings") == 0
    assert await harness.rows("projection_positions") == []


async def test_postgres_dropping_the_connections_loses_and_repeats_nothing(harness):
    async with harness.running():
        first = await harness.publish(ev.bot("b1"), ev.bot("b2"))
        await eventually(harness.at(StreamRole.CONFIG, first[-1]), message="first batch")

        await harness.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        later = await harness.publish(ev.bot("b1", "Ayşe 2"), ev.bot("b3"))
        await eventually(harness.at(StreamRole.CONFIG, later[-1]), message="after the drop")
        await eventually(lambda: harness.store.healthy, message="healthy again")

    bots = {r["id"]: (r["name"], r["version"]) for r in await harness.rows("bots")}
    assert bots == {"b1": ("Ayşe 2", later[0]), "b2": ("Ayşe", first[1]), "b3": ("Ayşe", later[1])}
