"""A bot's update queue: confirmation by offset, one parked poll at a time."""

from __future__ import annotations

import asyncio

import pytest
from piyasa_sandbox.errors import TelegramError
from piyasa_sandbox.mailbox import Mailbox
from piyasa_sandbox.records import BotRecord

from tests.support.waiting import eventually


def _mailbox(max_pending: int = 100) -> Mailbox:
    return Mailbox(BotRecord(user_id=1, token="1:x", next_update_id=500), max_pending)


def _push(box: Mailbox, n: int) -> None:
    for _ in range(n):
        box.push("message", lambda uid: {"update_id": uid, "message": {}})


async def test_offset_confirms_and_the_queue_is_bounded() -> None:
    box = _mailbox(max_pending=3)
    _push(box, 5)
    assert [u.update_id for u in box.pending] == [502, 503, 504]
    assert [u["update_id"] for u in await box.poll(504, 100, 0)] == [504]


async def test_a_newer_poll_ends_the_parked_one() -> None:
    box = _mailbox()
    older = asyncio.create_task(box.poll(0, 100, 30))
    await eventually(lambda: box.polling, timeout=5, interval=0.001)
    newer = asyncio.create_task(box.poll(0, 100, 30))
    with pytest.raises(TelegramError) as caught:
        await asyncio.wait_for(older, 5)
    assert caught.value.status == 409
    _push(box, 1)
    assert [u["update_id"] for u in await asyncio.wait_for(newer, 5)] == [500]


async def test_close_answers_a_parked_poll_at_once() -> None:
    box = _mailbox()
    poll = asyncio.create_task(box.poll(0, 100, 30))
    await eventually(lambda: box.polling, timeout=5, interval=0.001)
    box.close()
    assert await asyncio.wait_for(poll, 5) == []
