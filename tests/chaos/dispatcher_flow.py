"""Approved messages flowing through real dispatcher processes into a sandbox process, and
what the sandbox holds afterwards: shared by the chaos tests that kill or stop the dispatcher.

    async with flow_rig(nats_url, prefix) as rig:
        flow = await Flow.create(rig)          # 16 chats, two bots each, over 4 partitions
        await flow.publish(400)                # `message.approved`, ~50 a second
        await flow.wait_decided()              # every turn sent or failed
        report = await flow.report()           # events and what each chat shows
        report.assert_each_posted_once_in_order(allowed_missing=set())

Each chat's bots share a bot partition: a chat's turns are ordered by the partition's
consumer, and across partitions only as far as the scheduler keeps one turn in flight per
chat (services/dispatcher/README.md, "Turn order"). Typing, limits and lease TTLs are
compressed so that a run takes seconds.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from piyasa_contracts import Envelope, StreamRole
from tests.integration.dispatcher.conftest import rig_on
from tests.integration.dispatcher.rig import Bot, Chat, DispatcherProcess, Rig
from tests.integration.dispatcher.sandbox_process import SandboxProcess
from tests.support.waiting import eventually

CHATS = 16
PARTITIONS = 4
SETTINGS = {
    "partitions": PARTITIONS,
    "lease_ttl_s": 2,
    "ack_wait_s": 1.0,
    "dispatcher_chat_interval_s": 0.04,
    "dispatcher_group_per_window": 20,
    "dispatcher_group_window_s": 0.8,
    "dispatcher_bot_per_window": 30,
    "dispatcher_bot_window_s": 0.2,
    "dispatcher_typing_repeat_s": 0.05,
    "dispatcher_intent_grace_s": 0.5,
    "dispatcher_limit_margin": 0.25,
}


@asynccontextmanager
async def flow_rig(nats_url: str, prefix: str) -> AsyncIterator[Rig]:
    """A rig on a sandbox process of its own, with the compressed settings, Telegram's
    limits off in the sandbox (the dispatcher's own limits still apply)."""
    sandbox = await SandboxProcess().start()
    try:
        async with rig_on(nats_url, prefix, sandbox.url) as rig:
            rig.overrides.update(SETTINGS)
            await rig.tg.limits(enabled=False)
            yield rig
    finally:
        await sandbox.stop()


async def bots_by_partition(rig: Rig) -> dict[int, list[Bot]]:
    """Two bots in each partition (ids drawn until every partition has two)."""
    wanted: dict[int, list[str]] = defaultdict(list)
    while any(len(wanted[p]) < 2 for p in range(PARTITIONS)):
        bot_id = f"b{uuid.uuid4().hex[:12]}"
        partition = rig.topology.partition(bot_id) % PARTITIONS
        if len(wanted[partition]) < 2:
            wanted[partition].append(bot_id)
    out: dict[int, list[Bot]] = {}
    for partition, ids in wanted.items():
        out[partition] = [await rig.bot("flow", bot_id=bot_id) for bot_id in ids]
    return out


async def wait_owner(rig: Rig, *processes: DispatcherProcess) -> None:
    """Until every partition's lease is held, by these processes only, each holding some."""
    instances = {p.instance for p in processes}

    async def owned() -> bool:
        owners = await rig.lease_owners()
        return len(owners) == PARTITIONS and set(owners.values()) == instances

    await eventually(owned, timeout=30, interval=0.1, message=f"{sorted(instances)} own all")


@dataclass
class Flow:
    rig: Rig
    chats: list[Chat]
    expected: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    """Telegram chat id -> the texts approved for it, in turn order."""
    turns: dict[str, str] = field(default_factory=dict)
    """turn id -> its text."""

    @classmethod
    async def create(cls, rig: Rig, chats: int = CHATS) -> Flow:
        """`chats` chats (every other one typing), each with the two bots of one partition."""
        partitions = await bots_by_partition(rig)
        made = [await rig.chat(partitions[n % PARTITIONS], typing=n % 2 == 0) for n in range(chats)]
        await rig.fleet_settings(
            typing_chars_per_second=100.0, typing_max_s=0.3, typing_actions_per_minute=60
        )
        return cls(rig, made)

    @property
    def published(self) -> int:
        return len(self.turns)

    async def publish(self, count: int, *, burst: int = 10, pause_s: float = 0.2) -> None:
        """`count` approved messages round-robin over the chats, `burst` at a time with a
        pause between bursts (the pace a guard approves at: ~50 a second by default)."""
        for i in range(count):
            chat = self.chats[i % len(self.chats)]
            bot = chat.bots[i % 2]
            text = f"{chat.chat_id} #{len(self.expected[chat.telegram_chat_id]):03d}"
            envelope = await self.rig.approve(bot, chat, text, deadline_s=300)
            self.expected[chat.telegram_chat_id].append(text)
            self.turns[envelope.keys.turn_id or ""] = text
            if i % burst == burst - 1:
                await asyncio.sleep(pause_s)  # pacing the offered load, not waiting on it

    async def conversation_events(self) -> int:
        """Events in CONVERSATION so far (sent and failed): a cheap measure of progress."""
        info = await self.rig.js.stream_info(self.rig.topology.stream(StreamRole.CONVERSATION))
        return int(info.state.messages)

    async def undecided(self) -> list[str]:
        """Texts of the turns neither sent nor failed yet."""
        sent = {e.keys.turn_id for e in await self.rig.events("message.sent")}
        failed = {e.keys.turn_id for e in await self.rig.events("dispatch.failed")}
        return sorted(text for turn, text in self.turns.items() if turn not in sent | failed)

    async def decided(self) -> bool:
        return not await self.undecided()

    async def wait_decided(self, timeout: float = 60) -> None:
        try:
            await eventually(self.decided, timeout=timeout, interval=0.5)
        except AssertionError:
            left = await self.undecided()
            raise AssertionError(
                f"{len(left)} turns undecided after {timeout} s: {left[:10]}"
            ) from None

    async def report(self) -> Report:
        return Report(
            flow=self,
            sent=await self.rig.events("message.sent"),
            failures=await self.rig.events("dispatch.failed"),
            posted={
                c.telegram_chat_id: [m["text"] for m in await self.rig.posted(c)]
                for c in self.chats
            },
        )


@dataclass
class Report:
    """What the log and the sandbox hold once every turn is decided."""

    flow: Flow
    sent: list[Envelope]
    failures: list[Envelope]
    posted: dict[int, list[str]]
    """Telegram chat id -> the bot messages the sandbox shows, oldest first."""

    @property
    def sent_texts(self) -> set[str]:
        return {self.flow.turns[e.keys.turn_id or ""] for e in self.sent}

    @property
    def posted_texts(self) -> set[str]:
        return {text for texts in self.posted.values() for text in texts}

    def assert_sent_once_per_turn(self, note: str = "") -> None:
        sent_turns = Counter(e.keys.turn_id for e in self.sent)
        assert not sent_turns or max(sent_turns.values()) == 1, f"{note}a turn reported sent twice"

    def assert_each_posted_once_in_order(self, allowed_missing: set[str], note: str = "") -> None:
        """No chat shows a message twice, each shows its turns in the order approved, and
        only texts in `allowed_missing` may be absent."""
        for chat in self.flow.chats:
            texts = self.posted[chat.telegram_chat_id]
            duplicates = [t for t, n in Counter(texts).items() if n > 1]
            assert duplicates == [], f"{note}posted twice: {duplicates}"
            want = self.flow.expected[chat.telegram_chat_id]
            missing = set(want) - set(texts)
            assert missing <= allowed_missing, f"{note}lost: {sorted(missing - allowed_missing)}"
            in_order = [t for t in want if t in set(texts)]
            if texts != in_order:
                first = next(
                    i for i, (a, b) in enumerate(zip(texts, in_order, strict=True)) if a != b
                )
                around = slice(max(0, first - 2), first + 4)
                raise AssertionError(
                    f"{note}out of turn order at {first}: {texts[around]} "
                    f"instead of {in_order[around]}"
                )
