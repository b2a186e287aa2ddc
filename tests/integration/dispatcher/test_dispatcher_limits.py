"""Telegram's limits are kept before sending, measured where it matters: at the sandbox.

Limits are compressed (the same arithmetic on a shorter clock); the sandbox's
own `at` times of the messages it received are what the assertions read. For
those measurements the dispatcher and the sandbox run as processes of their
own, so that neither's clock is blurred by the test's event loop.
"""

# ruff: noqa: RUF001 -- Turkish text: the dotless i is a letter, not a look-alike

from __future__ import annotations

import asyncio
import base64
import json
from collections import defaultdict
from itertools import pairwise
from typing import Any

import pytest

from piyasa_contracts import StreamRole
from tests.integration.dispatcher.rig import Rig
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


def max_in_window(times: list[float], window: float) -> int:
    """The most messages found in any half-open window [t, t + window)."""
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def all_posted(rig: Rig, chats: list[Any], count: int, timeout: float = 30) -> None:
    """Wait on the sandbox's chat summaries: one light request, so the polling itself
    does not disturb the sandbox's clock."""
    wanted = {c.telegram_chat_id for c in chats}

    async def done() -> bool:
        summaries = await rig.tg.admin("GET", "/chats")
        return sum(s["messages"] for s in summaries if s["id"] in wanted) >= count

    await eventually(done, timeout=timeout, interval=0.3, message=f"{count} messages posted")


async def test_per_chat_per_group_and_per_bot_limits_are_never_exceeded(
    measured_rig: Rig,
) -> None:
    rig = measured_rig
    limits = {
        "dispatcher_chat_interval_s": 0.2,
        "dispatcher_group_per_window": 8,
        "dispatcher_group_window_s": 2.5,
        "dispatcher_bot_per_window": 6,
        "dispatcher_bot_window_s": 1.0,
        "dispatcher_limit_margin": 0.25,
    }
    await rig.tg.limits(enabled=False)  # our own limits are under test; measured below
    bot = await rig.bot("busy")
    chats = [await rig.chat([bot]) for _ in range(3)]
    await rig.start_process(**limits)  # its own event loop: what the sandbox sees is its pace

    for n in range(10):
        for chat in chats:
            await rig.approve(bot, chat, f"mesaj {n}")
    await all_posted(rig, chats, 30, timeout=40)

    every: list[float] = []
    for chat in chats:
        times = [m["at"] for m in await rig.posted(chat)]
        gaps = [b - a for a, b in pairwise(times)]
        assert min(gaps) >= 0.2, f"two posts {min(gaps):.3f} s apart in one chat"
        assert max_in_window(times, 2.5) <= 8
        every += times
    assert max_in_window(every, 1.0) <= 6


async def test_one_throttled_bot_never_slows_the_others(measured_rig: Rig) -> None:
    rig = measured_rig
    throttled, steady, other = await rig.bot("slow"), await rig.bot("steady"), await rig.bot("b")
    chats = {b.bot_id: await rig.chat([b]) for b in (throttled, steady, other)}
    await rig.start_process()
    await rig.fault(throttled, "sendMessage", 429, retry_after=2)

    started = asyncio.get_running_loop().time()
    for n in range(5):
        for bot in (throttled, steady, other):
            await rig.approve(bot, chats[bot.bot_id], f"{bot.username} {n}")
    await all_posted(rig, list(chats.values()), 15, timeout=30)

    posted = {b: await rig.posted(chats[b]) for b in chats}
    [refusal] = await rig.events("dispatch.failed")
    refused_at = refusal.occurred_at.timestamp()
    # The throttled bot waited exactly retry_after, then kept its pace.
    first_after = posted[throttled.bot_id][0]["at"]
    assert first_after >= refused_at + 2.0
    # The others posted at their own pace meanwhile: all five within ~1 s (0.2 s a message).
    for bot in (steady, other):
        times = [m["at"] for m in posted[bot.bot_id]]
        assert times[-1] < refused_at + 2.0, "a throttled bot slowed another"
        assert min(b - a for a, b in pairwise(times)) >= 0.2
    assert asyncio.get_running_loop().time() - started < 30


async def test_a_too_long_text_is_rejected_before_sending(rig: Rig) -> None:
    bot = await rig.bot("talker")
    chat = await rig.chat([bot])
    await rig.start()
    fine = await rig.approve(bot, chat, "kısa")
    data = json.loads(fine.model_dump_json())
    # Past the contract's limit: what an older or buggy guard might emit.
    data.update(id=fine.id[:-4] + "beef")
    data["payload"]["text"] = "x" * 4097
    data["payload"]["turn_id"] = data["keys"]["turn_id"] = "toolongturn"
    subject = f"{rig.prefix}.work.approved.{rig.topology.partition(bot.bot_id)}.{bot.bot_id}"
    await rig.js.publish(subject, json.dumps(data).encode(), headers={"Nats-Msg-Id": data["id"]})

    [parked] = await rig.wait_events("deadletter.parked", 1, role=StreamRole.DEADLETTER)
    assert "payload.text" in parked.payload["error"]
    assert json.loads(base64.b64decode(parked.payload["data_b64"]))["payload"]["turn_id"] == (
        "toolongturn"
    )
    await rig.wait_events("message.sent", 1)
    assert [m["text"] for m in await rig.posted(chat)] == ["kısa"]


async def test_a_chats_turns_are_posted_in_turn_order(rig: Rig) -> None:
    a, b = await rig.bot("a"), await rig.bot("b")
    chat = await rig.chat([a, b], typing=True)
    await rig.fleet_settings(typing_chars_per_second=100.0, typing_max_s=2.0)
    await rig.start()

    # Long texts first: their typing ends last, yet they go out first.
    texts = [("x" * (200 - 20 * n)) + f" {n}" for n in range(8)]
    for n, text in enumerate(texts):
        await rig.approve(a if n % 2 else b, chat, text)
    await all_posted(rig, [chat], 8, timeout=30)

    assert [m["text"] for m in await rig.posted(chat)] == texts


async def test_an_expired_turn_is_dropped_and_counted(rig: Rig) -> None:
    bot = await rig.bot("late")
    chat = await rig.chat([bot], typing=True)
    await rig.fleet_settings(typing_chars_per_second=10.0, typing_max_s=2.0)
    await rig.start()

    late = await rig.approve(bot, chat, "y" * 40, deadline_s=0.5)

    [expired] = await rig.wait_events("turn.expired", 1)
    assert expired.keys.turn_id == late.keys.turn_id
    assert expired.payload == {
        "turn_id": late.keys.turn_id,
        "stage": "dispatcher",
        "reason": "deadline",
    }
    assert await rig.posted(chat) == []
    counts: dict[str, float] = defaultdict(float)
    from piyasa_dispatcher import metrics

    for sample in metrics.EXPIRED.collect()[0].samples:
        counts[sample.labels.get("where", "")] += sample.value
    assert counts["dispatcher"] >= 1
