# ruff: noqa: RUF001  (Turkish text on purpose: the dotless i must survive the round trip)
"""A rebuilt projection equals the live one, column for column."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
from pathlib import Path

import pytest

from piyasa_contracts import StreamRole, subject_for
from piyasa_contracts.events.config import ControlScope, ControlState
from piyasa_contracts.events.conversation import TurnStage
from piyasa_projector import rebuild
from tests.integration.projector import projector_events as ev
from tests.support.backbone import raw_json
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

_unreadable = itertools.count()
SAMPLES = Path(__file__).resolve().parents[3] / "contracts" / "samples"


def config_log(rng: random.Random, n: int) -> list:
    bots = [f"b{i}" for i in range(12)]
    out = []
    for i in range(n):
        kind = rng.choice(
            ["bot", "bot", "chat", "stance", "holding", "settings", "control", "status"]
        )
        b = rng.choice(bots)
        if kind == "bot":
            out.append(
                ev.bot(
                    b,
                    f"bot {b} #{i}",
                    enabled=rng.random() > 0.2,
                    deleted=rng.random() < 0.1,
                    hourly_limit=rng.randint(0, 20),
                )
            )
        elif kind == "chat":
            out.append(
                ev.chat(
                    f"c{rng.randint(0, 4)}",
                    -1000 - rng.randint(0, 4),
                    f"chat {i}",
                    topics=rng.sample(["BTC/USD", "THYAO", "altın", "faiz"], 2),
                    bot_ids=rng.sample(bots, 3),
                )
            )
        elif kind == "stance":
            out.append(
                ev.stance(
                    f"s{rng.randint(0, 20)}",
                    b,
                    rng.choice(["BTC/USD", "altın"]),
                    strength=round(rng.random(), 3),
                )
            )
        elif kind == "holding":
            out.append(
                ev.holding(
                    f"h{rng.randint(0, 20)}",
                    b,
                    quantity=rng.randint(1, 999) / 4,
                    average_cost=rng.choice([None, 12.5, 310.25]),
                )
            )
        elif kind == "status":
            out.append(
                rng.choice(
                    [
                        ev.bot_status(b, token_check="verified", disabled_in_chats=["c1"]),
                        ev.chat_status(f"c{rng.randint(0, 4)}", can_hear_humans=rng.random() > 0.5),
                        ev.person_erased(f"p{rng.randint(0, 5)}"),
                    ]
                )
            )
        elif kind == "settings":
            out.append(ev.settings_changed({"turns_in_flight": rng.randint(1, 3), "i": i}))
        else:
            scope = rng.choice(list(ControlScope))
            out.append(
                ev.control(
                    f"ctl-{scope.value}",
                    rng.choice(list(ControlState)),
                    scope,
                    None if scope is ControlScope.FLEET else "x1",
                )
            )
    return out


def conversation_log(rng: random.Random, n: int, start: int) -> list:
    out = []
    for i in range(start, start + n):
        chat = f"c{rng.randint(0, 4)}"
        tg = -1000 - int(chat[1:])
        bot, turn = f"b{rng.randint(0, 11)}", f"t{i}"
        kind = rng.choice(["sent", "sent", "incoming", "reaction", "failed", "expired", "dropped"])
        if kind == "sent":
            out.append(ev.sent(chat, turn, bot, i, telegram_chat_id=tg, text=f"mesaj {i}"))
            if rng.random() < 0.1:
                out.append(ev.expired(chat, turn, TurnStage.DISPATCHER))  # late: stays sent
        elif kind == "incoming":
            message_id = rng.choice([i, max(start, i - 3)])  # sometimes an edit of an earlier one
            out.append(
                ev.incoming(
                    chat,
                    f"p{rng.randint(0, 5)}",
                    message_id,
                    telegram_chat_id=tg,
                    update_id=i,
                    edited=message_id != i,
                    ciphertext=f"gAAAAAB{i}",
                )
            )
        elif kind == "reaction":
            out.append(
                ev.reaction(
                    chat,
                    rng.randint(start, i),
                    f"p{rng.randint(0, 5)}",
                    rng.choice(["👍", "🔥", "😂"]),
                    telegram_chat_id=tg,
                )
            )
        elif kind == "failed":
            out.append(ev.failed(chat, turn, bot, code=rng.choice([None, 403, 429])))
        elif kind == "expired":
            out.append(ev.expired(chat, turn))
        else:
            out.append(ev.dropped(chat, turn))
    return out


async def publish_unreadable(harness, rng: random.Random, count: int) -> None:
    for _ in range(count):
        i = next(_unreadable)
        like = rng.choice([ev.bot("b1"), ev.sent("c1", "t-x", "b1", 1)])
        data = (
            raw_json(like, payload={**like.payload, "id": "not opaque!", "bot_id": "not opaque!"})
            if i % 2
            else b"{"
        )
        await harness.js.publish(
            subject_for(harness.topology, like), data, headers={"Nats-Msg-Id": f"bad-{i}"}
        )


async def publish_v1_sample(harness) -> None:
    sample = json.loads((SAMPLES / "bot.changed.v1.json").read_text())
    subject = harness.topology.config_subject("bot", sample["payload"]["id"])
    await harness.js.publish(
        subject, json.dumps(sample).encode(), headers={"Nats-Msg-Id": sample["id"]}
    )


async def all_applied(harness) -> bool:
    for role in (StreamRole.CONFIG, StreamRole.CONVERSATION, StreamRole.DEADLETTER):
        last = (await harness.js.stream_info(harness.stream(role))).state.last_seq
        if await harness.position(role) < last:
            return False
    return True


async def test_rebuilt_projections_equal_the_live_ones(harness):
    rng = random.Random(20250301)
    config = [*config_log(rng, 150), *config_log(rng, 100)]
    conversation = [*conversation_log(rng, 200, start=1), *conversation_log(rng, 250, start=1000)]
    await publish_v1_sample(harness)
    await harness.publish(*config[:150])
    await harness.publish(*conversation[:200])
    await publish_unreadable(harness, rng, 4)

    # Small batches live, so batch boundaries differ from the rebuild's.
    async with harness.running(batch_size=37):
        # More of everything while the projector runs.
        await harness.publish(*config[150:])
        await harness.publish(*conversation[200:])
        await publish_unreadable(harness, rng, 2)
        await eventually(lambda: all_applied(harness), timeout=30, message="live caught up")
    live = await harness.dump()

    report = await rebuild(harness.settings, harness.database_url)
    rebuilt = await harness.dump()

    assert {t: len(rows) for t, rows in rebuilt.items()} == {
        t: len(rows) for t, rows in live.items()
    }
    for table in live:
        assert rebuilt[table] == live[table], table
    assert all(live[table] for table in live), "every table has rows"
    assert len(live["dead_letters"]) == 6
    assert report.skipped == 6  # parked live; the rebuild replays their dead letters instead
    assert report.events == {
        harness.stream(StreamRole.CONFIG): 1 + len(config),
        harness.stream(StreamRole.CONVERSATION): len(conversation),
        harness.stream(StreamRole.DEADLETTER): 6,
    }
    print(
        f"\nrebuild: {report.total_events} events, {report.total_rows} rows"
        f" in {report.seconds:.3f}s"
        f" = {report.events_per_second:,.0f} events/s, {report.rows_per_second:,.0f} rows/s"
    )


async def test_rebuild_throughput(harness):
    n = int(os.environ.get("PIYASA_REBUILD_EVENTS", "5000"))
    rng = random.Random(7)
    events = config_log(rng, n // 10) + conversation_log(rng, n - n // 10, start=1)
    for i in range(0, len(events), 1000):
        await harness.publisher.publish_all(events[i : i + 1000])

    report = await rebuild(harness.settings, harness.database_url)

    assert report.total_events >= n
    print(
        f"\nrebuild of {report.total_events} events: {report.total_rows} rows in"
        f" {report.seconds:.2f}s = {report.events_per_second:,.0f} events/s,"
        f" {report.rows_per_second:,.0f} rows/s"
    )


async def test_a_rebuild_beside_the_live_projector_ends_in_the_same_rows(harness):
    rng = random.Random(11)
    await harness.publish(*config_log(rng, 120))
    await harness.publish(*conversation_log(rng, 300, start=1))
    async with harness.running(batch_size=50):
        await eventually(lambda: all_applied(harness), timeout=30, message="live caught up")

        # New events reach the live loops while the rebuild replays from scratch:
        # both write the same streams, serialised on the position rows.
        rebuilding = asyncio.create_task(
            rebuild(harness.settings, harness.database_url, batch_size=50)
        )
        for start in range(1000, 1500, 50):
            await harness.publish(*conversation_log(rng, 50, start=start))
        await rebuilding
        await eventually(lambda: all_applied(harness), timeout=30, message="both done")
        both = await harness.dump()

    await rebuild(harness.settings, harness.database_url)
    assert await harness.dump() == both
