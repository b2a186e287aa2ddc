"""A dispatcher replica frozen (SIGSTOP) past its lease TTL while messages flow, then woken.

Its partitions go to the other replica, which loads their ledgers. When the frozen one
wakes, its fetch loops and timers run before its lease round notices the loss: whatever
it handles then must not be acked (the new owner would never see the record it wrote,
and the turn would sit unposted until its deadline), and whatever it posts must not be
posted twice. Every turn is decided well before its deadline, each posted once, in order.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator

import pytest

from tests.chaos.dispatcher_flow import Flow, flow_rig, wait_owner
from tests.integration.dispatcher.rig import Rig
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

MESSAGES = 300
TTL = 2  # dispatcher_flow's lease TTL


@pytest.fixture
async def rig(nats_url: str, prefix: str) -> AsyncIterator[Rig]:
    async with flow_rig(nats_url, prefix) as rig:
        yield rig


async def test_a_replica_frozen_past_its_lease_loses_and_repeats_nothing_when_it_wakes(
    rig: Rig,
) -> None:
    started = time.monotonic()
    flow = await Flow.create(rig)
    frozen = await rig.start_process()
    other = await rig.start_process()
    await wait_owner(rig, frozen, other)
    assert frozen.proc is not None

    # ~50 approved a second for ~6 s, with a burst right after the wake-up.
    publishing = asyncio.create_task(flow.publish(MESSAGES // 2))

    async def mid_flow() -> bool:
        return await flow.conversation_events() >= MESSAGES // 8

    await eventually(mid_flow, timeout=30, interval=0.05, message="mid-flow")
    os.kill(frozen.proc.pid, signal.SIGSTOP)
    frozen_at = time.monotonic()
    try:
        await wait_owner(rig, other)  # its leases ran out; the other owns every partition
        await publishing
    finally:
        os.kill(frozen.proc.pid, signal.SIGCONT)
    stall_s = time.monotonic() - frozen_at
    await flow.publish(MESSAGES // 2, burst=50, pause_s=0.05)
    await flow.wait_decided(timeout=60)  # the deadlines are 300 s away: nothing waits for them

    report = await flow.report()
    assert {e.payload["action"] for e in report.failures} <= {"drop"}
    assert all(e.payload["description"].startswith("outcome unknown") for e in report.failures)
    ambiguous = {flow.turns[e.keys.turn_id or ""] for e in report.failures}
    report.assert_sent_once_per_turn()
    report.assert_each_posted_once_in_order(allowed_missing=ambiguous)
    assert report.sent_texts <= report.posted_texts
    # Frozen between sendMessage and Telegram's answer: posted, and reported ambiguous.
    assert report.posted_texts - report.sent_texts <= ambiguous
    assert len(ambiguous) <= len(flow.chats), "more than one post in flight per chat"
    assert stall_s >= TTL
    print(
        f"\nstall test: frozen {stall_s:.1f} s (lease TTL {TTL} s), "
        f"{len(report.posted_texts)} posted, {len(ambiguous)} ambiguous, "
        f"{time.monotonic() - started:.1f} s"
    )
