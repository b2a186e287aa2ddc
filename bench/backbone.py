# ruff: noqa: RUF001  (Turkish text on purpose: realistic payloads carry the dotless i)
"""Backbone benchmark: publish and consume rates against raw nats-py, and bounded start-up.

    uv run python bench/backbone.py            # full run (about 2-3 minutes on 2 cores)
    uv run python bench/backbone.py --quick    # small N, seconds: a smoke run

Runs against a fresh embedded NATS server in a temporary directory (or the server at
`NATS_URL` when set), prints the figures, and writes them to `docs/performance.md`,
replacing only the section between the `bench:backbone` markers so that other
benchmarks can keep theirs in the same file.

What is compared:

1. Publishing one realistic `generation.requested` envelope N times, each with its own
   `Nats-Msg-Id`: raw `js.publish` awaiting each ack vs `Publisher.publish`, and raw
   `js.publish_async` pipelined vs `Publisher.publish_all` in chunks.
2. Consuming and acking a pre-filled stream: raw pull `fetch(500)` + `ack` vs
   `ConsumerRunner` with a no-op handler (which decodes and validates every event).
3. Start-to-ready of a toy stateful service (last config per subject + a conversation
   window) at 10,000 bots, with and without older history, and from a snapshot.

Project figures are taken with tracing off (sample ratio 0, the SDK provider installed as
in a service) and at 100% sampling into an exporter that drops the spans (the SDK's cost
without I/O). Each throughput figure is the best of `repeats` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
import timeit
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext, api
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from piyasa_common.clock import SystemClock
from piyasa_common.connection import connect, jetstream
from piyasa_common.consumer import ConsumerRunner, Delivery
from piyasa_common.provisioning import ensure_consumer, provision
from piyasa_common.publisher import MSG_ID, TYPE_HEADER, VERSION_HEADER, Publisher
from piyasa_common.settings import BackboneSettings
from piyasa_common.state import SnapshotStore, StartAt, StreamFollower
from piyasa_common.telemetry import configure_tracing, tracer
from piyasa_contracts import (
    Bucket,
    ConsumerSpec,
    Envelope,
    EventKeys,
    StreamRole,
    Topology,
    decode,
    encode,
    make_event,
    payload_class,
    subject_for,
)
from piyasa_contracts.events._common import (
    ChatLine,
    Emotion,
    HoldingView,
    Member,
    Persona,
    SealedText,
    StanceView,
)
from piyasa_contracts.events.config import BotChanged, ChatChanged, LlmChoice
from piyasa_contracts.events.conversation import IncomingMessage, Sent
from piyasa_contracts.events.work import GenerationRequested, Memory, Relationship
from piyasa_contracts.registry import Event

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"
START_MARK = "<!-- bench:backbone:start -->"
END_MARK = "<!-- bench:backbone:end -->"
GOAL = 0.70  # the project's consumer keeps >= 70% of raw throughput with tracing off


# --------------------------------------------------------------------------- sizes


@dataclass(frozen=True)
class Sizes:
    publish_each: int  # awaiting every ack: ~5k/s raw
    publish_async: int
    publish_chunk: int
    consume: int
    repeats: int  # throughput figures: best of this many
    startup_repeats: int
    bots: int
    updates_per_bot: int
    bots_per_chat: int
    conv_per_chat_hour: float
    old_factor: int  # older history, in days, for the "does not grow" run
    catchup_hours: float

    @property
    def chats(self) -> int:
        return self.bots // self.bots_per_chat

    @property
    def day(self) -> int:
        return round(self.chats * 24 * self.conv_per_chat_hour)


FULL = Sizes(
    publish_each=5_000,
    publish_async=30_000,
    publish_chunk=1_000,
    consume=20_000,
    repeats=3,
    startup_repeats=2,
    bots=10_000,
    updates_per_bot=3,
    bots_per_chat=10,
    conv_per_chat_hour=6.0,
    old_factor=2,
    catchup_hours=1.0,
)
QUICK = Sizes(
    publish_each=200,
    publish_async=1_000,
    publish_chunk=250,
    consume=1_000,
    repeats=1,
    startup_repeats=1,
    bots=200,
    updates_per_bot=3,
    bots_per_chat=10,
    conv_per_chat_hour=2.0,
    old_factor=2,
    catchup_hours=1.0,
)


# --------------------------------------------------------------------------- results


@dataclass
class Rate:
    section: str  # "publish-each", "publish-async", "consume"
    path: str  # "raw nats-py ..." / "Publisher.publish ..."
    tracing: str  # "-", "off", "100%"
    n: int
    seconds: float
    cpu_s: float  # this process's CPU time (the client's; the server runs beside it)
    raw: bool = False

    @property
    def per_s(self) -> float:
        return self.n / self.seconds


@dataclass(frozen=True)
class Stamp:
    wall: float
    cpu: float

    def since(self) -> tuple[float, float]:
        """Wall and CPU seconds elapsed since this stamp."""
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def stamp() -> Stamp:
    return Stamp(time.perf_counter(), time.process_time())


@dataclass
class Startup:
    label: str
    seconds: float
    config_s: float
    conv_s: float
    config_applied: int
    conv_applied: int
    conv_stream_msgs: int
    note: str = ""
    runs: list[float] = field(default_factory=list)


@dataclass
class Report:
    when: datetime
    quick: bool
    server_version: str
    embedded: bool
    loop: str
    payloads: list[tuple[str, int]]  # (event type, bytes): the big one, then the small one
    sizes: Sizes
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average at start and end
    total_s: float = 0.0
    rates: list[Rate] = field(default_factory=list)
    startups: list[Startup] = field(default_factory=list)
    fixture: dict[str, Any] = field(default_factory=dict)
    snapshot_bytes: int = 0
    decode_us: dict[str, float] = field(default_factory=dict)  # decode() alone, per event type
    markdown: str = ""

    def best(self, section: str, path: str, tracing: str) -> Rate:
        rows = [r for r in self.rates if (r.section, r.path, r.tracing) == (section, path, tracing)]
        return max(rows, key=lambda r: r.per_s)

    def ratio(self, section: str, path: str, tracing: str) -> float:
        raw = max((r for r in self.rates if r.section == section and r.raw), key=lambda r: r.per_s)
        return self.best(section, path, tracing).per_s / raw.per_s


# --------------------------------------------------------------------------- events

_TEXT = (
    "Bitcoin 68 binin üstünde kapanırsa haftaya yeni zirve gelir bence, "
    "ama FED tutanakları öncesi temkinli olmakta fayda var."
)


def generation_request(now: datetime) -> Envelope:
    """A realistic generation request: persona, stances, a few history lines, members."""
    chat, bot, turn = "c" + uuid.uuid4().hex[:16], "b" + uuid.uuid4().hex[:16], uuid.uuid4().hex
    members = [
        Member(member_id=f"m{i:04d}", display_name=f"Üye {i}", username=f"uye{i}") for i in range(6)
    ]
    history = [
        ChatLine(
            ref=uuid.uuid4().hex,
            author_id=members[i % 6].member_id,
            author_kind="bot" if i % 3 else "human",
            author_name=members[i % 6].display_name,
            text=_TEXT,
            telegram_message_id=1000 + i,
            sent_at=now - timedelta(minutes=30 - i),
        )
        for i in range(8)
    ]
    payload = GenerationRequested(
        turn_id=turn,
        deadline=now + timedelta(minutes=2),
        bot_id=bot,
        bot_name="Ayşe",
        persona=Persona(
            tone="samimi, biraz alaycı",
            background="İstanbul'da yaşayan, on yıldır kripto ve BIST takip eden bir yatırımcı.",
            expertise=["kripto", "teknik analiz", "makro"],
            risk_appetite=0.7,
            catchphrases=["sabır kazandırır"],
        ),
        emotion=Emotion(mood=0.3, label="iyimser"),
        stances=[
            StanceView(topic="BTC", position="bullish", strength=0.8, rationale="ETF girişleri"),
            StanceView(topic="THYAO", position="neutral", strength=0.4),
        ],
        holdings=[HoldingView(symbol="BTC", quantity=0.35, average_cost=51_200.0)],
        relationships=[Relationship(other_id="m0001", affinity=0.4, note="sık tartışırlar")],
        memories=[Memory(text="Geçen hafta ETH tahmini tuttu.", weight=0.6)],
        history=history,
        reply_target=history[-1],
        mentionable=members,
        topic="BTC",
        llm_provider="openai",
        llm_model="gpt-4o-mini",
    )
    return make_event(
        payload,
        occurred_at=now,
        keys=EventKeys(bot_id=bot, chat_id=chat, turn_id=turn),
        actor="scheduler",
    )


def with_ids(template: Envelope, n: int) -> list[Envelope]:
    """N copies of one envelope, each with its own id (so its own `Nats-Msg-Id`)."""
    return [template.model_copy(update={"id": uuid.uuid4().hex}) for _ in range(n)]


def plain_headers(envelope: Envelope) -> dict[str, str]:
    """What `Publisher.headers_for` writes outside a span."""
    return {MSG_ID: envelope.id, TYPE_HEADER: envelope.type, VERSION_HEADER: str(envelope.version)}


# --------------------------------------------------------------------------- tracing


class DroppingExporter(SpanExporter):
    """Accepts every span and keeps none: the SDK's cost without export I/O."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


TRACING_MODES = ("off", "100%")


def set_tracing(mode: str) -> None:
    if mode == "off":
        configure_tracing("piyasa-bench", otlp_endpoint=None, sample_ratio=0.0)
    else:
        configure_tracing(
            "piyasa-bench", otlp_endpoint=None, sample_ratio=1.0, exporter=DroppingExporter()
        )


@contextlib.contextmanager
def producer_span(mode: str) -> Iterator[None]:
    """Publishing inside a caller's span (as a handler or an API request does), so that
    `traceparent` is injected; the Publisher itself creates no span."""
    if mode == "off":
        yield
        return
    with tracer("bench").start_as_current_span("produce"):
        yield


# --------------------------------------------------------------------------- backbone


@dataclass
class Backbone:
    nc: NATS
    js: JetStreamContext
    settings: BackboneSettings
    topology: Topology
    publisher: Publisher


@contextlib.asynccontextmanager
async def backbone(url: str, prefix: str) -> AsyncIterator[Backbone]:
    """Streams, buckets and consumers of one prefix; deleted again afterwards."""
    settings = BackboneSettings(
        nats_url=url, name_prefix=prefix, partitions=4, instance_id=f"bench-{prefix}"
    )
    nc = await connect(url, f"bench:{prefix}")
    js = jetstream(nc)
    topology = settings.topology()
    try:
        await provision(js, settings)
        yield Backbone(nc, js, settings, topology, Publisher(js, topology))
    finally:
        for role in StreamRole:
            with contextlib.suppress(Exception):
                await js.delete_stream(topology.stream(role))
        for bucket in Bucket:
            with contextlib.suppress(Exception):
                await js.delete_key_value(topology.bucket(bucket))
        await nc.close()


async def fill(
    js: JetStreamContext, items: Sequence[tuple[str, bytes, dict[str, str]]]
) -> list[api.PubAck]:
    """Store messages fast (fixtures, not measured): pipelined raw publishes."""
    futures = [
        await js.publish_async(subject, data, headers=headers) for subject, data, headers in items
    ]
    return list(await asyncio.gather(*futures))


# --------------------------------------------------------------------------- 1. publish


async def bench_publish(
    url: str, prefix: str, sizes: Sizes, template: Envelope, report: Report, say: Say
) -> None:
    async with backbone(url, prefix) as bb:
        subject = subject_for(bb.topology, template)
        stream = bb.topology.stream(StreamRole.WORK)

        async def raw_each(n: int, _mode: str) -> None:
            items = [(e, encode(e)) for e in with_ids(template, n)]
            t0 = stamp()
            for env, data in items:
                await bb.js.publish(subject, data, headers={MSG_ID: env.id})
            record("publish-each", "raw `js.publish`, await each ack", "-", n, t0, raw=True)

        async def project_each(n: int, mode: str) -> None:
            envelopes = with_ids(template, n)
            with producer_span(mode):
                t0 = stamp()
                for env in envelopes:
                    await bb.publisher.publish(env)
                record("publish-each", "`Publisher.publish`, await each", mode, n, t0)

        async def raw_async(n: int, _mode: str) -> None:
            items = [(e, encode(e)) for e in with_ids(template, n)]
            t0 = stamp()
            futures = [
                await bb.js.publish_async(subject, data, headers={MSG_ID: env.id})
                for env, data in items
            ]
            await asyncio.gather(*futures)
            record("publish-async", "raw `js.publish_async`, pipelined", "-", n, t0, raw=True)

        async def project_async(n: int, mode: str) -> None:
            envelopes = with_ids(template, n)
            chunk = sizes.publish_chunk
            with producer_span(mode):
                t0 = stamp()
                for start in range(0, n, chunk):
                    await bb.publisher.publish_all(envelopes[start : start + chunk])
                record("publish-async", f"`Publisher.publish_all`, chunks of {chunk}", mode, n, t0)

        def record(section: str, path: str, mode: str, n: int, t0: Stamp, raw: bool = False):
            rate = Rate(section, path, mode, n, *t0.since(), raw=raw)
            report.rates.append(rate)
            say(f"  {section:14} {path:45} tracing {mode:4} {rate.per_s:9,.0f} msg/s")

        runs: list[tuple[Callable[[int, str], Awaitable[None]], int, str]] = []
        for _ in range(sizes.repeats):
            runs.append((raw_each, sizes.publish_each, "-"))
            runs += [(project_each, sizes.publish_each, m) for m in TRACING_MODES]
            runs.append((raw_async, sizes.publish_async, "-"))
            runs += [(project_async, sizes.publish_async, m) for m in TRACING_MODES]
        for fn, n, mode in runs:
            set_tracing("off" if mode == "-" else mode)
            await fn(n, mode)
            await bb.js.purge_stream(stream)
        set_tracing("off")


# --------------------------------------------------------------------------- 2. consume


def small_event(now: datetime) -> Envelope:
    """A `message.sent` of about 650 bytes: the size of most conversation events."""
    payload = Sent(
        turn_id=uuid.uuid4().hex,
        bot_id="b" + uuid.uuid4().hex[:16],
        telegram_chat_id=-1_000_123,
        telegram_message_id=4242,
        text=_TEXT,
        sent_at=now,
    )
    return make_event(
        payload,
        occurred_at=now,
        keys=EventKeys(chat_id="c" + uuid.uuid4().hex[:16], bot_id=payload.bot_id),
        actor="dispatcher",
    )


async def bench_consume(
    url: str, prefix: str, sizes: Sizes, template: Envelope, report: Report, say: Say
) -> None:
    """Consume + ack a pre-filled stream; one fresh durable consumer per measurement."""
    section = f"consume:{template.type}"
    async with backbone(url, prefix) as bb:
        n = sizes.consume
        subject = subject_for(bb.topology, template)
        role = payload_class(template.type).stream
        stream = bb.topology.stream(role)
        await fill(bb.js, [(subject, encode(e), plain_headers(e)) for e in with_ids(template, n)])
        data = encode(template)
        times = timeit.repeat(lambda: decode(data), number=300, repeat=5)
        report.decode_us[template.type] = min(times) / 300 * 1e6
        runs = 0

        async def fresh_consumer() -> str:
            nonlocal runs
            runs += 1
            spec = ConsumerSpec(f"bench-{runs}", role, (">",))
            return await ensure_consumer(bb.js, bb.topology, bb.settings, spec)

        async def raw(decoding: bool) -> None:
            durable = await fresh_consumer()
            sub = await bb.js.pull_subscribe_bind(durable=durable, stream=stream)
            done = 0
            t0 = stamp()
            while done < n:
                try:
                    msgs = await sub.fetch(500, timeout=1.0)
                except TimeoutError:
                    continue
                for msg in msgs:
                    if decoding:
                        decode(msg.data)
                    await msg.ack()
                done += len(msgs)
            await bb.nc.flush()
            if decoding:
                record("raw `fetch(500)` + `decode()` + `ack` (reference)", "-", t0)
            else:
                record("raw pull `fetch(500)` + `ack`", "-", t0, raw=True)
            await sub.unsubscribe()
            await check_all_acked(durable)

        async def project(mode: str) -> None:
            durable = await fresh_consumer()
            handled = 0
            all_handled = asyncio.Event()

            async def handler(event: Event, delivery: Delivery) -> None:
                nonlocal handled
                handled += 1
                if handled == n:
                    all_handled.set()

            runner = ConsumerRunner(
                js=bb.js,
                publisher=bb.publisher,
                settings=bb.settings,
                clock=SystemClock(),
                stream=role,
                durable=durable,
                handler=handler,
                label="bench",
            )
            t0 = stamp()
            runner.start()
            await all_handled.wait()
            await asyncio.sleep(0)  # the last handlers' tasks send their acks
            await bb.nc.flush()
            limit = f"fetch {bb.settings.fetch_batch}, concurrency {bb.settings.concurrency}"
            record(f"`ConsumerRunner`, no-op handler ({limit})", mode, t0)
            await runner.stop()
            await check_all_acked(durable)

        def record(path: str, mode: str, t0: Stamp, raw: bool = False) -> None:
            rate = Rate(section, path, mode, n, *t0.since(), raw=raw)
            report.rates.append(rate)
            say(f"  {template.type:20} {path[:48]:48} tracing {mode:4} {rate.per_s:9,.0f} msg/s")

        async def check_all_acked(durable: str) -> None:
            for _ in range(300):
                info = await bb.js.consumer_info(stream, durable)
                if info.num_ack_pending == 0 and info.num_pending == 0:
                    break
                await asyncio.sleep(0.01)
            else:
                raise RuntimeError(f"{durable}: not every message was acked: {info}")
            await bb.js.delete_consumer(stream, durable)

        for _ in range(sizes.repeats):
            set_tracing("off")
            await raw(decoding=False)
            await raw(decoding=True)
            for mode in TRACING_MODES:
                set_tracing(mode)
                await project(mode)
        set_tracing("off")


# --------------------------------------------------------------------------- 3. start-up


class ToyState:
    """A toy stateful service's state: bots and chats by id, and each chat's recent lines."""

    RECENT = 10

    def __init__(self) -> None:
        self.bots: dict[str, BotChanged] = {}
        self.chats: dict[str, ChatChanged] = {}
        self.conversation: dict[str, dict[str, Any]] = {}
        self.position = 0

    def apply_config(self, event: Event, seq: int) -> None:
        payload = event.payload
        if isinstance(payload, BotChanged):
            self.bots[payload.id] = payload
        elif isinstance(payload, ChatChanged):
            self.chats[payload.id] = payload

    def apply_conversation(self, event: Event, seq: int) -> None:
        if seq <= self.position:
            return  # already covered (idempotent fold)
        self.position = seq
        chat_id = event.envelope.keys.chat_id or "-"
        chat = self.conversation.get(chat_id)
        if chat is None:
            chat = self.conversation[chat_id] = {"count": 0, "recent": deque(maxlen=self.RECENT)}
        chat["count"] += 1
        payload = event.payload
        author = getattr(payload, "bot_id", None) or getattr(payload, "person_id", "?")
        chat["recent"].append([author, event.envelope.id])

    def snapshot(self) -> dict[str, Any]:
        return {
            chat_id: {"count": c["count"], "recent": list(c["recent"])}
            for chat_id, c in self.conversation.items()
        }

    def restore(self, sequence: int, data: dict[str, Any]) -> None:
        self.position = sequence
        self.conversation = {
            chat_id: {"count": c["count"], "recent": deque(c["recent"], maxlen=self.RECENT)}
            for chat_id, c in data.items()
        }


class Fixture:
    """Encoded config and conversation events (built from real models, varied as JSON)."""

    def __init__(self, topology: Topology, sizes: Sizes) -> None:
        self.topology = topology
        self.sizes = sizes
        now = datetime.now(UTC)
        self.bot_ids = [f"bot{i:06d}" for i in range(sizes.bots)]
        self.chat_ids = [f"chat{i:05d}" for i in range(sizes.chats)]
        bot = make_event(
            BotChanged(
                id="x",
                name="x",
                username="x_bot",
                token_ref="tok-x",
                language="tr",
                llm=LlmChoice(provider="openai", model="gpt-4o-mini"),
                persona=Persona(
                    tone="samimi",
                    background="Borsa İstanbul ve kripto takip eden emekli bir mühendis.",
                    expertise=["kripto", "bist"],
                    catchphrases=["sabır kazandırır"],
                ),
            ),
            occurred_at=now,
            actor="operator",
        )
        chat = make_event(
            ChatChanged(id="x", telegram_chat_id=-1, title="x", topics=["BTC", "THYAO", "altın"]),
            occurred_at=now,
            actor="operator",
        )
        sent = make_event(
            Sent(
                turn_id="t",
                bot_id="b",
                telegram_chat_id=-1,
                telegram_message_id=1,
                text=_TEXT,
                sent_at=now,
            ),
            occurred_at=now,
            keys=EventKeys(chat_id="c", bot_id="b", turn_id="t"),
            actor="dispatcher",
        )
        incoming = make_event(
            IncomingMessage(
                person_id="p",
                via_bot_id="b",
                telegram_chat_id=-1,
                telegram_message_id=1,
                update_id=1,
                sender_name=SealedText(key_id="k", ciphertext="gAAAAA" + "x" * 94),
                text=SealedText(key_id="k", ciphertext="gAAAAA" + "y" * 250),
                date=now,
            ),
            occurred_at=now,
            keys=EventKeys(chat_id="c"),
            actor="dispatcher",
        )
        self._bot = json.loads(encode(bot))
        self._chat = json.loads(encode(chat))
        self._sent = json.loads(encode(sent))
        self._incoming = json.loads(encode(incoming))
        self._message_no = 0
        self._subjects: dict[tuple[str, str], str] = {}

    @staticmethod
    def _item(subject: str, body: dict[str, Any]) -> tuple[str, bytes, dict[str, str]]:
        headers = {MSG_ID: body["id"], TYPE_HEADER: body["type"]}
        headers[VERSION_HEADER] = str(body["version"])
        return subject, json.dumps(body, ensure_ascii=False).encode(), headers

    def config(self) -> list[tuple[str, bytes, dict[str, str]]]:
        """Every bot updated `updates_per_bot` times (full state each time), then each chat."""
        items = []
        for update in range(self.sizes.updates_per_bot):
            for bot_id in self.bot_ids:
                body = {**self._bot, "id": uuid.uuid4().hex, "keys": {"bot_id": bot_id}}
                body["correlation_id"] = body["id"]
                body["payload"] = {
                    **self._bot["payload"],
                    "id": bot_id,
                    "name": f"Bot {bot_id} v{update}",
                    "hourly_limit": 4 + update,
                }
                items.append((self.topology.config_subject("bot", bot_id), body))
        per = self.sizes.bots_per_chat
        for i, chat_id in enumerate(self.chat_ids):
            body = {**self._chat, "id": uuid.uuid4().hex}
            body["correlation_id"] = body["id"]
            body["payload"] = {
                **self._chat["payload"],
                "id": chat_id,
                "telegram_chat_id": -1_000_000 - i,
                "title": f"Piyasa sohbet {i}",
                "bot_ids": self.bot_ids[i * per : (i + 1) * per],
            }
            items.append((self.topology.config_subject("chat", chat_id), body))
        return [self._item(subject, body) for subject, body in items]

    def conversation(self, messages: int) -> Iterator[tuple[str, bytes, dict[str, str]]]:
        """Messages spread over every chat: three bots' messages to one human's."""
        per = self.sizes.bots_per_chat
        for _ in range(messages):
            self._message_no += 1
            no = self._message_no
            chat_index = no % len(self.chat_ids)
            chat_id = self.chat_ids[chat_index]
            event_id = uuid.uuid4().hex
            if no % 4:
                bot_id = self.bot_ids[chat_index * per + no % per]
                turn_id = uuid.uuid4().hex
                body = {
                    **self._sent,
                    "id": event_id,
                    "correlation_id": event_id,
                    "keys": {"chat_id": chat_id, "bot_id": bot_id, "turn_id": turn_id},
                    "payload": {
                        **self._sent["payload"],
                        "turn_id": turn_id,
                        "bot_id": bot_id,
                        "telegram_message_id": no,
                    },
                }
                kind = "sent"
            else:
                body = {
                    **self._incoming,
                    "id": event_id,
                    "correlation_id": event_id,
                    "keys": {"chat_id": chat_id},
                    "payload": {
                        **self._incoming["payload"],
                        "person_id": f"p{no % 5000}",
                        "via_bot_id": self.bot_ids[chat_index * per],
                        "telegram_message_id": no,
                        "update_id": no,
                    },
                }
                kind = "incoming"
            subject = self._subjects.get((chat_id, kind))
            if subject is None:
                subject = self.topology.conversation_subject(chat_id, kind)
                self._subjects[chat_id, kind] = subject
            yield self._item(subject, body)


async def publish_conversation(js: JetStreamContext, fixture: Fixture, messages: int) -> int:
    """Publish in slices (fixtures, not measured); returns the last stream sequence."""
    last = 0
    items = fixture.conversation(messages)
    while True:
        batch = [item for _, item in zip(range(5_000), items, strict=False)]
        if not batch:
            return last
        acks = await fill(js, batch)
        last = max(last, *(a.seq for a in acks))


async def start_toy(
    url: str, topology: Topology, conversation_start: StartAt | None, snapshot_key: str | None
) -> tuple[Startup, ToyState]:
    """Start the toy service and return the time until both followers caught up."""
    t0 = time.perf_counter()
    nc = await connect(url, "bench:toy")
    js = jetstream(nc)
    state = ToyState()
    note = ""
    if snapshot_key is not None:
        loaded = await SnapshotStore(js, topology, snapshot_key).load()
        if loaded is None:
            raise RuntimeError("no snapshot to start from")
        sequence, data = loaded
        state.restore(sequence, data)
        conversation_start = StartAt.after(sequence)
        note = f"snapshot covers seq {sequence}"
    assert conversation_start is not None
    config = StreamFollower(
        js,
        topology,
        stream=StreamRole.CONFIG,
        apply=state.apply_config,
        start=StartAt.last_per_subject(),
    )
    conversation = StreamFollower(
        js,
        topology,
        stream=StreamRole.CONVERSATION,
        apply=state.apply_conversation,
        start=conversation_start,
    )
    try:
        await config.start()
        await conversation.start()

        async def caught_up(follower: StreamFollower) -> float:
            await follower.caught_up.wait()
            return time.perf_counter() - t0

        config_s, conv_s = await asyncio.wait_for(
            asyncio.gather(caught_up(config), caught_up(conversation)), timeout=600
        )
        seconds = time.perf_counter() - t0
        info = await js.stream_info(topology.stream(StreamRole.CONVERSATION))
        startup = Startup(
            label="",
            seconds=seconds,
            config_s=config_s,
            conv_s=conv_s,
            config_applied=config.applied,
            conv_applied=conversation.applied,
            conv_stream_msgs=info.state.messages,
            note=note,
        )
    finally:
        await config.stop()
        await conversation.stop()
        await nc.close()
    return startup, state


async def bench_startup(url: str, prefix: str, sizes: Sizes, report: Report, say: Say) -> None:
    """Two logs that differ only in older conversation; starts measured alternately."""
    day = sizes.day
    old = day * sizes.old_factor
    catchup = round(day * sizes.catchup_hours / 24)
    report.fixture = {
        "bots": sizes.bots,
        "chats": sizes.chats,
        "config": sizes.bots * sizes.updates_per_bot + sizes.chats,
        "day": day,
        "old": old,
        "catchup": catchup,
    }

    async def prepare(bb: Backbone, older: int) -> tuple[datetime, Fixture]:
        fixture = Fixture(bb.topology, sizes)
        t0 = time.perf_counter()
        await fill(bb.js, fixture.config())
        await publish_conversation(bb.js, fixture, older)
        await asyncio.sleep(0.05)
        window_start = datetime.now(UTC)  # JetStream stamps server time: "now - 24h"
        await asyncio.sleep(0.05)
        await publish_conversation(bb.js, fixture, day)
        say(
            f"  fixture: {report.fixture['config']:,} config + {older:,} older + {day:,} "
            f"in-window conversation messages published in {time.perf_counter() - t0:.1f} s"
        )
        return window_start, fixture

    def check(startup: Startup, state: ToyState, conversation: int) -> None:
        bots, chats = len(state.bots), len(state.chats)
        if bots != sizes.bots or chats != sizes.chats:
            raise RuntimeError(f"config not fully loaded: {bots} bots, {chats} chats")
        if startup.config_applied != sizes.bots + sizes.chats:
            raise RuntimeError(f"config follower applied {startup.config_applied} events")
        if startup.conv_applied != conversation:
            raise RuntimeError(
                f"conversation follower applied {startup.conv_applied}, expected {conversation}"
            )

    def keep_best(runs: list[Startup]) -> None:
        best = min(runs, key=lambda r: r.seconds)
        best.runs = [r.seconds for r in runs]
        report.startups.append(best)

    async with (
        backbone(url, f"{prefix}a") as plain,
        backbone(url, f"{prefix}b") as aged,
    ):
        plain_since, fixture = await prepare(plain, 0)
        aged_since, _ = await prepare(aged, old)
        # The two runs alternate, so that a busy moment on the machine hits both alike.
        cases = (
            ("window, no older history", plain, plain_since),
            (f"window, {sizes.old_factor}x as much older history", aged, aged_since),
        )
        runs: dict[str, list[Startup]] = {label: [] for label, _, _ in cases}
        states: dict[str, ToyState] = {}
        for _ in range(sizes.startup_repeats):
            for label, bb, since in cases:
                startup, states[label] = await start_toy(
                    url, bb.topology, StartAt.window(since), None
                )
                check(startup, states[label], day)
                startup.label = label
                say_startup(say, startup)
                runs[label].append(startup)
        for label, _, _ in cases:
            keep_best(runs[label])

        # A snapshot of the folded conversation, then more of it; restart from the snapshot.
        state = states[cases[0][0]]
        await SnapshotStore(plain.js, plain.topology, "bench-toy").save(
            state.position, state.snapshot()
        )
        kv = await plain.js.key_value(plain.topology.bucket(Bucket.SNAPSHOTS))
        report.snapshot_bytes = len((await kv.get("bench-toy")).value or b"")
        await publish_conversation(plain.js, fixture, catchup)
        label = f"snapshot + catch-up of {sizes.catchup_hours:g} h"
        snapshot_runs = []
        for _ in range(sizes.startup_repeats):
            startup, state = await start_toy(url, plain.topology, None, "bench-toy")
            check(startup, state, catchup)
            startup.label = label
            say_startup(say, startup)
            snapshot_runs.append(startup)
        keep_best(snapshot_runs)


def say_startup(say: Say, s: Startup) -> None:
    say(
        f"  start-to-ready {s.label:38} {s.seconds:6.2f} s "
        f"(config {s.config_applied:,} in {s.config_s:.2f} s, "
        f"conversation {s.conv_applied:,} of {s.conv_stream_msgs:,} in {s.conv_s:.2f} s)"
    )


# --------------------------------------------------------------------------- report

Say = Callable[[str], None]


def render(report: Report, command: str) -> str:
    sizes = report.sizes
    big, small = report.payloads
    lines = [
        START_MARK,
        "## Backbone: publish, consume, start-up"
        + (" (quick smoke run: figures not meaningful)" if report.quick else ""),
        "",
        f"- Date: {report.when:%Y-%m-%d %H:%M} UTC",
        f"- Machine: {os.cpu_count()} cores, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}, nats-py {metadata.version('nats-py')}, "
        f"event loop {report.loop}; "
        f"nats-server {report.server_version} "
        f"({'embedded, fresh store in a temp dir' if report.embedded else 'from NATS_URL'}) "
        "on the same machine; 1-minute load average "
        f"{report.load[0]:.2f} at the start, {report.load[1]:.2f} at the end",
        f"- Command: `{command}` (total {report.total_s:.0f} s)",
        f"- Payloads: `{big[0]}` envelope of **{big[1]:,} bytes** (persona, 2 stances, 8 history "
        f"lines, 6 members); `{small[0]}` envelope of {small[1]:,} bytes. Every message has its "
        "own `Nats-Msg-Id`.",
        f"- Rates are the best of {sizes.repeats} run{'s' if sizes.repeats > 1 else ''}; "
        "*client CPU* is the benchmark process's CPU time per message (the least of the "
        "runs), which a busy machine disturbs less than wall time. "
        "Tracing *off*: sample ratio 0 with the SDK provider installed, as a service runs it; "
        "*100%*: every span sampled and handed to an exporter that drops it (the SDK's cost "
        "without export I/O). The Publisher creates no span of its own: at 100% the publishes "
        "run inside one caller span, so each message gets a `traceparent` header.",
        "",
        "### Publish",
        "",
        "| operation | path | tracing | N | msg/s | us/msg | client CPU us/msg | vs raw |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    lines += _rows(report, ("publish-each", "publish-async"))
    lines += [
        "",
        "### Consume + ack",
        "",
        f"A stream pre-filled with N copies of one event (each its own id, no trace headers); a "
        "fresh durable consumer per measurement. The *reference* row is raw nats-py that "
        "also calls the contracts' `decode()` (parse + validate) on each message: the ceiling "
        "for any consumer that validates. The runner uses the default settings (fetch "
        f"batch {BackboneSettings().fetch_batch}, {BackboneSettings().concurrency} handlers in "
        "flight).",
        "",
        "`decode()` alone, in-process without I/O, costs "
        + " and ".join(f"{us:.0f} us per `{name}`" for name, us in report.decode_us.items())
        + " (best of 5 x 300 calls).",
        "",
        "| payload | path | tracing | N | msg/s | us/msg | client CPU us/msg | vs raw |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    sections = [f"consume:{big[0]}", f"consume:{small[0]}"]
    lines += _rows(report, tuple(sections))
    verdicts = []
    for section, (name, size) in zip(sections, report.payloads, strict=True):
        runner = next(r for r in report.rates if r.section == section and r.tracing == "off")
        ratio = report.ratio(section, runner.path, "off")
        verdicts.append(f"{ratio:.0%} for the {size:,}-byte `{name}`")
    met = all(
        report.ratio(sec, r.path, "off") >= GOAL
        for sec in sections
        for r in report.rates
        if r.section == sec and r.tracing == "off"
    )
    lines += [
        "",
        f"Goal: the project's consumer keeps >= {GOAL:.0%} of raw throughput with tracing off. "
        f"This run: {' and '.join(verdicts)}, so it **{'meets' if met else 'misses'}** the "
        "goal. The raw loop only acks; the runner also parses and validates every event "
        "(pydantic), parses the JetStream metadata, runs each handler in its own task under a "
        "semaphore, opens a span (a non-recording one at ratio 0, so logs and published "
        "headers still carry trace ids) and a log context, and records metrics.",
        "",
        "### Start-to-ready of a toy stateful service",
        "",
        f"{report.fixture['bots']:,} bots in {report.fixture['chats']:,} chats; CONFIG holds "
        f"{report.fixture['config']:,} messages (each bot updated {sizes.updates_per_bot} times, "
        "full state each time, plus one event per chat) and is loaded last-per-subject "
        "(`StartAt.last_per_subject`). A day of conversation is "
        f"{report.fixture['day']:,} messages ({report.fixture['chats']:,} chats x 24 h x "
        f"{sizes.conv_per_chat_hour:g}/h; three `message.sent` to one `message.received`), "
        "loaded as a time window (`StartAt.window`). JetStream stamps server time, so the "
        "older history is published first, then the window start is recorded (standing in "
        "for now - 24 h), then the day is published; the runs use separate prefixes and are "
        "otherwise identical. Ready = both `StreamFollower`s caught up, timed from connect; "
        "the fold keeps bots and chats by id and each chat's count and last "
        f"{ToyState.RECENT} lines. The counts applied are checked.",
        "",
        "| start | conversation in stream | config applied | conversation applied | "
        "config caught up | ready (best) | every run |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in report.startups:
        every = ", ".join(f"{t:.2f}" for t in s.runs)
        lines.append(
            f"| {s.label} | {s.conv_stream_msgs:,} | {s.config_applied:,} | "
            f"{s.conv_applied:,} | {s.config_s:.2f} s | **{s.seconds:.2f} s** | {every} s |"
        )
    plain, aged = report.startups[0], report.startups[1]
    change = aged.seconds / plain.seconds - 1
    lines += [
        "",
        f"With {aged.conv_stream_msgs - plain.conv_stream_msgs:,} older messages in the stream "
        f"({sizes.old_factor}x the window) start-to-ready changes by {change:+.0%}: the "
        "window start (`DeliverPolicy.BY_START_TIME`) skips the older history instead of "
        "reading it.",
        "",
        f"The snapshot (`SnapshotStore`: zlib-compressed JSON, {report.snapshot_bytes:,} bytes) "
        "records the conversation sequence it covers; the restarted service loads it, the "
        f"last config per subject, and only the {report.fixture['catchup']:,} messages "
        "published after it.",
        END_MARK,
    ]
    return "\n".join(lines) + "\n"


def _rows(report: Report, sections: tuple[str, ...]) -> list[str]:
    titles = {"publish-each": "await each ack", "publish-async": "pipelined"}
    out: list[str] = []
    seen: set[tuple[str, str, str]] = set()
    for rate in report.rates:
        key = (rate.section, rate.path, rate.tracing)
        if rate.section not in sections or key in seen:
            continue
        seen.add(key)
        best = report.best(*key)
        cpu = min(r.cpu_s / r.n for r in report.rates if (r.section, r.path, r.tracing) == key)
        vs = "1.00" if rate.raw else f"{report.ratio(*key):.2f}"
        first = titles.get(rate.section) or f"`{rate.section.split(':', 1)[1]}`"
        out.append(
            f"| {first} | {rate.path} | {rate.tracing} | {rate.n:,} | {best.per_s:,.0f} | "
            f"{1e6 / best.per_s:,.0f} | {cpu * 1e6:,.0f} | {vs} |"
        )
    return out


def write_section(path: Path, section: str) -> None:
    """Replace the section between the markers, or append it; keep everything else."""
    text = path.read_text() if path.exists() else "# Performance\n\nMeasured figures.\n"
    start, end = text.find(START_MARK), text.find(END_MARK)
    if start != -1 and end != -1 and end > start:
        text = text[:start] + section.rstrip("\n") + text[end + len(END_MARK) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text.endswith("\n") else text + "\n")


# --------------------------------------------------------------------------- driver


@contextlib.asynccontextmanager
async def nats_server(url: str | None) -> AsyncIterator[tuple[str, bool]]:
    """The given URL, else `NATS_URL`, else a fresh embedded server in a temp dir."""
    url = url or os.environ.get("NATS_URL")
    if url:
        yield url, False
        return
    from piyasa_cli.embedded import EmbeddedNats

    state_dir = Path(tempfile.mkdtemp(prefix="piyasa-bench-"))
    server = EmbeddedNats(state_dir)
    try:
        await server.start()
        yield server.url, True
    finally:
        await server.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


async def run(
    *,
    nats_url: str | None = None,
    quick: bool = False,
    output: Path | None = DOC,
    prefix: str | None = None,
    command: str = "uv run python bench/backbone.py",
    say: Say = print,
) -> Report:
    """Run every benchmark once; write the markdown section to `output` (None: don't)."""
    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    sizes = QUICK if quick else FULL
    prefix = prefix or f"bench{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    big, small = generation_request(now), small_event(now)
    loop = type(asyncio.get_running_loop()).__module__.split(".")[0]
    async with nats_server(nats_url) as (url, embedded):
        probe = await nats.connect(url)
        version = probe.connected_server_version
        await probe.close()
        report = Report(
            when=datetime.now(UTC),
            quick=quick,
            server_version=f"v{version.major}.{version.minor}.{version.patch}",
            embedded=embedded,
            loop="uvloop" if loop == "uvloop" else "asyncio",
            payloads=[(e.type, len(encode(e))) for e in (big, small)],
            sizes=sizes,
        )
        say(f"NATS {report.server_version} at {url}; payloads {report.payloads}")
        say("1. publish")
        await bench_publish(url, f"{prefix}p", sizes, big, report, say)
        say("2. consume + ack")
        await bench_consume(url, f"{prefix}c", sizes, big, report, say)
        await bench_consume(url, f"{prefix}d", sizes, small, report, say)
        say("3. start-to-ready")
        await bench_startup(url, f"{prefix}s", sizes, report, say)
    # Leave tracing as a service with default settings has it: every trace sampled, no exporter.
    configure_tracing("piyasa-bench", otlp_endpoint=None, sample_ratio=1.0)
    report.load = (load_start, os.getloadavg()[0])
    report.total_s = time.perf_counter() - started
    report.markdown = render(report, command)
    if output is not None:
        write_section(output, report.markdown)
        say(f"wrote {output}")
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small N: a smoke run in seconds")
    parser.add_argument("--output", type=Path, default=DOC, help="markdown file to update")
    parser.add_argument("--no-uvloop", action="store_true", help="plain asyncio event loop")
    args = parser.parse_args(argv)
    if not args.no_uvloop:
        with contextlib.suppress(ImportError):
            import uvloop

            uvloop.install()
    command = "uv run python bench/backbone.py" + " ".join(
        ["", *(a for a in (argv if argv is not None else sys.argv[1:]))]
    )
    logging.basicConfig(level=logging.ERROR)  # reconnect chatter at close is not news
    report = asyncio.run(run(quick=args.quick, output=args.output, command=command.rstrip()))
    print(f"total {report.total_s:.0f} s")


if __name__ == "__main__":
    main()
