"""Two dispatcher replicas: each token is polled by exactly one of them, and killing that
replica moves its bots' polling and scheduled sends to the other, posting nothing twice.

Real processes against a sandbox process. The sandbox answers a superseded long
poll with 409 exactly as Telegram does, so "no poller ever got a 409" is read
from each replica's own counter (`piyasa_dispatcher_poll_conflicts_total`).
"""

# ruff: noqa: RUF001 -- Turkish text: the dotless i is a letter, not a look-alike

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest

from piyasa_common.heartbeat import read_heartbeats
from piyasa_dispatcher.ledger import SendLedger, State
from tests.integration.dispatcher.conftest import rig_on
from tests.integration.dispatcher.rig import Bot, Chat, DispatcherProcess, Rig
from tests.integration.dispatcher.sandbox_process import SandboxProcess
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

PARTITIONS = 4
TTL = 2


@pytest.fixture
async def rig(nats_url: str, prefix: str) -> AsyncIterator[Rig]:
    sandbox = await SandboxProcess().start()
    try:
        async with rig_on(nats_url, prefix, sandbox.url) as rig:
            rig.overrides.update(partitions=PARTITIONS, lease_ttl_s=TTL, ack_wait_s=2.0)
            yield rig
    finally:
        await sandbox.stop()


async def one_listener_per_partition(rig: Rig) -> list[tuple[Bot, Chat, int]]:
    out: dict[int, tuple[Bot, Chat, int]] = {}
    while len(out) < PARTITIONS:
        bot_id = f"b{uuid.uuid4().hex[:12]}"
        partition = rig.topology.partition(bot_id)
        if partition in out:
            continue
        bot = await rig.bot("ear", privacy_mode=False, bot_id=bot_id)
        human = await rig.tg.human(f"Human{partition}")
        chat = await rig.chat([bot], listener=bot, typing=True, humans=[human])
        out[partition] = (bot, chat, human)
    return [out[p] for p in range(PARTITIONS)]


async def conflicts(rig: Rig, process: DispatcherProcess) -> float:
    beats = await read_heartbeats(rig.js, rig.topology)
    [beat] = [b for b in beats if b.instance == process.instance]
    async with httpx.AsyncClient(timeout=5) as http:
        text = (await http.get(f"http://127.0.0.1:{beat.http_port}/metrics")).text
    for line in text.splitlines():
        if line.startswith("piyasa_dispatcher_poll_conflicts_total "):
            return float(line.split()[1])
    return 0.0


async def owners(rig: Rig) -> dict[int, str]:
    return await rig.lease_owners()


async def test_each_token_is_polled_by_one_replica_and_a_kill_moves_it_to_the_other(
    rig: Rig,
) -> None:
    fleet = await one_listener_per_partition(rig)
    await rig.fleet_settings(typing_chars_per_second=10.0, typing_max_s=3.0)
    a = await rig.start_process()
    b = await rig.start_process()

    async def balanced() -> bool:
        held = Counter((await owners(rig)).values())
        return held == Counter({a.instance: 2, b.instance: 2})

    await eventually(balanced, timeout=30, interval=0.2, message="partitions spread over both")

    async def everyone_polled() -> bool:
        views = {v["id"]: v for v in await rig.tg.admin("GET", "/bots")}
        return all(views[bot.telegram_id]["polling"] for bot, _, _ in fleet)

    await eventually(everyone_polled, timeout=20, message="every listener polled")
    for n, (_, chat, human) in enumerate(fleet):
        await rig.tg.say(chat.telegram_chat_id, human, f"merhaba {n}")
    received = await rig.wait_events("message.received", PARTITIONS)
    assert Counter(e.keys.chat_id for e in received) == Counter(c.chat_id for _, c, _ in fleet)

    # Scheduled sends on the replica about to die: typing keeps them waiting ~3 s.
    by_owner = await owners(rig)
    victim = a if by_owner[0] == a.instance else b
    survivor = b if victim is a else a
    doomed = [
        (bot, chat) for p, (bot, chat, _) in enumerate(fleet) if by_owner[p] == victim.instance
    ]
    for bot, chat in doomed:
        await rig.approve(bot, chat, "y" * 30, deadline_s=60)
    ledger = SendLedger(rig.js, rig.topology)
    victims = [p for p in range(PARTITIONS) if by_owner[p] == victim.instance]

    async def persisted() -> bool:
        """Every doomed turn is a scheduled send in the victim's ledger (still typing)."""
        loaded = [await ledger.load(p) for p in victims]
        scheduled = [s for records in loaded for s in records.values()]
        return sum(s.record.state is State.SCHEDULED for s in scheduled) >= len(doomed)

    await eventually(persisted, timeout=10, interval=0.05, message="the victim's scheduled sends")
    assert await rig.events("message.sent") == []
    assert await conflicts(rig, victim) == 0

    victim.kill()
    await victim.wait()
    killed_at = time.monotonic()

    async def survivor_owns_all() -> bool:
        return (
            set((await owners(rig)).values()) == {survivor.instance}
            and len(await owners(rig)) == PARTITIONS
        )

    await eventually(survivor_owns_all, timeout=20, interval=0.1, message="takeover")
    takeover_s = time.monotonic() - killed_at
    assert takeover_s <= 2 * TTL + 1.5, f"takeover took {takeover_s:.1f} s"

    sent = await rig.wait_events("message.sent", len(doomed), timeout=30)
    for _, chat in doomed:
        assert [m["text"] for m in await rig.posted(chat)] == ["y" * 30]
    assert len(sent) == len(doomed)

    # The dead replica's tokens are polled again, by the survivor.
    for n, (listener, chat, human) in enumerate(fleet):
        if any(listener is d for d, _ in doomed):
            await rig.tg.say(chat.telegram_chat_id, human, f"hâlâ burada mısınız {n}")
    await rig.wait_events("message.received", PARTITIONS + len(doomed), timeout=20)
    assert await conflicts(rig, survivor) == 0
    print(f"\nhandover: takeover in {takeover_s:.2f} s (lease TTL {TTL} s)")
