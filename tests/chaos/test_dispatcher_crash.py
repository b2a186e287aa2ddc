"""SIGKILL the dispatcher at random moments while 1,000 approved messages flow.

A real dispatcher process posts to a sandbox process; a killer SIGKILLs it
every 0.5-2.5 s and starts a fresh one (a new instance, as a restarted pod
is). Afterwards the sandbox holds every message exactly once and each chat's
messages in turn order. The only turns allowed to be missing are those the
dispatcher itself reported ambiguous (a kill between recording the intent and
recording Telegram's answer), and there are few of them.

The flow (chats, bots, settings, what the sandbox must show) is
`tests/chaos/dispatcher_flow.py`, shared with the SIGTERM test; the run stays
well under 90 s.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import AsyncIterator

import pytest

from tests.chaos.dispatcher_flow import CHATS, Flow, flow_rig, wait_owner
from tests.integration.dispatcher.rig import DispatcherProcess, Rig
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

MESSAGES = 1000


@pytest.fixture
async def rig(nats_url: str, prefix: str) -> AsyncIterator[Rig]:
    async with flow_rig(nats_url, prefix) as rig:
        yield rig


class Killer:
    """Keeps one dispatcher process running, SIGKILLing and replacing it at random."""

    def __init__(self, rig: Rig, rng: random.Random) -> None:
        self.rig = rig
        self.rng = rng
        self.kills = 0
        self.current: DispatcherProcess | None = None

    async def run(self, until: asyncio.Event) -> None:
        self.current = await self.rig.start_process()
        while not until.is_set():
            await wait_owner(self.rig, self.current)  # each kill then lands in real work
            stop = asyncio.create_task(until.wait())
            await asyncio.wait({stop}, timeout=self.rng.uniform(0.3, 2.0))
            stop.cancel()
            if until.is_set():
                return
            self.current.kill()
            await self.current.wait()
            self.kills += 1
            self.current = await self.rig.start_process()


async def test_sigkill_while_1000_messages_flow_posts_each_exactly_once_in_order(
    rig: Rig,
) -> None:
    seed = int(os.environ.get("DISPATCHER_CRASH_SEED", time.time_ns() % 2**31))
    rng = random.Random(seed)
    started = time.monotonic()
    flow = await Flow.create(rig)

    killer = Killer(rig, rng)
    published = asyncio.Event()
    killing = asyncio.create_task(killer.run(published))
    await eventually(lambda: killer.current is not None, timeout=30)
    await flow.publish(MESSAGES)  # ~50 messages a second offered, for ~20 s
    published.set()
    await killing
    await flow.wait_decided()

    report = await flow.report()
    note = f"seed {seed}: "
    assert {e.payload["action"] for e in report.failures} <= {"drop"}, note
    assert all(e.payload["description"].startswith("outcome unknown") for e in report.failures)
    ambiguous = {flow.turns[e.keys.turn_id or ""] for e in report.failures}
    report.assert_sent_once_per_turn(note)
    report.assert_each_posted_once_in_order(allowed_missing=ambiguous, note=note)
    posted_all = report.posted_texts
    assert report.sent_texts <= posted_all
    # Posted, yet reported ambiguous: killed between Telegram's answer and the record of it.
    assert posted_all - report.sent_texts <= ambiguous, note
    assert killer.kills >= 3, f"{note}the run ended before enough kills"
    # At most one post in flight per chat when a kill lands.
    assert len(ambiguous) <= killer.kills * CHATS, f"{note}{len(ambiguous)} ambiguous"
    print(
        f"\ncrash test: seed {seed}, {killer.kills} kills, {len(posted_all)} posted, "
        f"{len(ambiguous)} ambiguous, {time.monotonic() - started:.1f} s"
    )
