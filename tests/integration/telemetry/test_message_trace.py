"""One message is one trace: the scheduler's turn, the generator and its LLM call, the
guard's decision, and the dispatcher's Telegram call, as parent and child spans.

The four services run in this process inside the service runner, each wired by the
setup its own `main.py` uses, over the session's NATS. Telegram is the sandbox; the
LLM is a fake OpenAI-compatible server reached through the real openai SDK, so the
provider layer opens its own span. The runner configures tracing when a service
starts, so the in-memory exporter is installed once all four are ready, before the
fleet is configured and the first turn can be scheduled.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from piyasa_sandbox import SandboxServer

from piyasa_common.connection import connect, jetstream
from piyasa_common.provisioning import provision
from piyasa_common.publisher import Publisher
from piyasa_common.service import Service
from piyasa_common.settings import BackboneSettings
from piyasa_common.telemetry import configure_tracing
from piyasa_contracts import Envelope, EventKeys, Payload, StreamRole, decode, make_event
from piyasa_contracts.events._common import ActiveHours, Persona
from piyasa_contracts.events.config import BotChanged, ChatChanged, SettingsChanged
from piyasa_contracts.fleet_settings import SETTINGS_ID
from piyasa_dispatcher.main import setup_for as dispatcher_setup
from piyasa_generator.main import generator_setup
from piyasa_generator.settings import GeneratorSettings
from piyasa_guard.main import setup_for as guard_setup
from piyasa_guard.settings import GuardSettings
from piyasa_scheduler.main import setup_for as scheduler_setup
from piyasa_scheduler.settings import SchedulerSettings
from tests.fakes.llm import OPENAI, FakeLLM
from tests.fakes.llm.core import count_tokens
from tests.integration.dispatcher.rig import SANDBOX_LIMITS, Rig
from tests.integration.sandbox.sandbox_client import SandboxClient, compressed_settings
from tests.support.backbone import settings_for, stream_messages
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

MODEL = "fake-chat-model"
REPLY = "BTC bugün sakin görünüyor, hacim de düşük; akşamki veriyi bekliyorum."
NO_KEYS: dict[str, Any] = {
    "openai_api_key": None,
    "gemini_api_key": None,
    "groq_api_key": None,
    "llm_base_url": None,
    "llm_api_key": None,
}


@dataclass
class Fleet:
    """The four services of the message path, the sandbox behind the dispatcher, the fake LLM."""

    rig: Rig
    llm: FakeLLM
    services: list[tuple[Service, asyncio.Task[int]]]

    async def publish(self, payload: Payload, **keys: str) -> Envelope:
        envelope = make_event(
            payload, occurred_at=datetime.now(UTC), keys=EventKeys(**keys), actor="test"
        )
        await self.rig.publisher.publish(envelope)
        return envelope


def _backbone(nats_url: str, prefix: str, service: str) -> dict[str, Any]:
    values = settings_for(nats_url, prefix, ack_wait_s=30.0).model_dump()
    values.update(instance_id=f"{service}-{uuid.uuid4().hex[:6]}", otlp_endpoint=None)
    return values


async def _run(services: list[tuple[Service, asyncio.Task[int]]], service: Service) -> None:
    services.append((service, asyncio.create_task(service.run())))
    await eventually(lambda: service.ready, timeout=60, message=f"{service.name} ready")


@pytest.fixture
async def fleet(nats_url: str, prefix: str) -> AsyncIterator[Fleet]:
    sandbox = SandboxServer(compressed_settings())
    await sandbox.start("127.0.0.1", 0)
    http = httpx.AsyncClient(base_url=sandbox.url, timeout=30)
    tg = SandboxClient(sandbox.url, http)
    await tg.limits(**SANDBOX_LIMITS)
    nc = await connect(nats_url, "telemetry-test")
    js = jetstream(nc)
    backbone = BackboneSettings(**_backbone(nats_url, prefix, "test"))
    await provision(js, backbone)
    topology = backbone.topology()
    rig = Rig(nats_url, prefix, sandbox.url, tg, js, topology, Publisher(js, topology))
    services: list[tuple[Service, asyncio.Task[int]]] = []
    llm = FakeLLM(OPENAI, text=lambda body, n: REPLY)
    await llm.start()
    try:
        scheduler = SchedulerSettings(
            **_backbone(nats_url, prefix, "scheduler"), scheduler_tick_interval_s=0.2
        )
        generator = GeneratorSettings(
            **{
                **_backbone(nats_url, prefix, "generator"),
                **NO_KEYS,
                "llm_base_url": llm.openai_base_url,
                "llm_model": MODEL,
                "llm_timeout_s": 10.0,
                "bot_daily_budget_usd": 0.0,
            }
        )
        guard = GuardSettings(**_backbone(nats_url, prefix, "guard"))
        dispatcher = rig.settings(otlp_endpoint=None, ack_wait_s=30.0)
        await asyncio.gather(
            _run(services, Service("scheduler", scheduler, scheduler_setup(scheduler))),
            _run(services, Service("generator", generator, generator_setup(generator))),
            _run(services, Service("guard", guard, guard_setup(guard))),
            _run(services, Service("dispatcher", dispatcher, dispatcher_setup(dispatcher))),
        )
        yield Fleet(rig, llm, services)
    finally:
        for service, _ in services:
            service.request_stop()
        for service, task in services:
            assert await asyncio.wait_for(task, 60) == 0, f"{service.name} did not stop cleanly"
        await llm.stop()
        await nc.close()
        await http.aclose()
        await sandbox.stop()


async def test_one_message_is_one_trace_from_the_schedulers_turn_to_telegram(
    fleet: Fleet,
) -> None:
    exporter = InMemorySpanExporter()
    configure_tracing("piyasa-tests", otlp_endpoint=None, sample_ratio=1.0, exporter=exporter)
    rig = fleet.rig
    handle = await rig.tg.bot(f"ayse_{uuid.uuid4().hex[:6]}_bot")
    bot_id = f"b{uuid.uuid4().hex[:12]}"
    await rig.store_token(bot_id, handle.token)
    telegram_chat_id = await rig.tg.chat(members=[handle.id])
    chat_id = f"c{uuid.uuid4().hex[:12]}"
    # One bot allowed one message an hour, awake all day: the chat gets exactly one turn.
    await fleet.publish(
        SettingsChanged(
            id=SETTINGS_ID,
            values={"scheduler": {"min_gap_s": 0, "slot_grace_s": 60, "turn_deadline_s": 60}},
        )
    )
    await fleet.publish(
        BotChanged(
            id=bot_id,
            name="Ayşe",
            username=handle.username,
            token_ref=f"ref-{bot_id}",
            hourly_limit=1,
            active_hours=ActiveHours(start="00:00", end="00:00"),
            persona=Persona(tone="calm"),
        ),
        bot_id=bot_id,
    )
    await fleet.publish(
        ChatChanged(
            id=chat_id,
            telegram_chat_id=telegram_chat_id,
            title="Piyasa",
            topics=["BTC"],
            target_per_hour=720.0,
            typing=False,
            bot_ids=[bot_id],
        ),
        chat_id=chat_id,
    )

    [sent] = await rig.wait_events("message.sent", 1, timeout=60)
    turn_id = sent.keys.turn_id
    assert turn_id is not None and sent.keys.chat_id == chat_id
    posted = await rig.posted(telegram_chat_id)
    assert [m["text"] for m in posted] == [REPLY]

    def turn_trace() -> list[ReadableSpan] | None:
        """Every span of the turn's trace, once the scheduler has handled the sent event
        (the last span the message causes)."""
        finished = exporter.get_finished_spans()
        roots = [
            s
            for s in finished
            if s.name == "schedule generation.requested" and _attr(s, "piyasa.turn_id") == turn_id
        ]
        if len(roots) != 1:
            return None
        trace_id = roots[0].context.trace_id
        spans = [s for s in finished if s.context.trace_id == trace_id]
        done = any(s.name == "handle message.sent" for s in spans)
        return spans if done else None

    spans = await eventually(turn_trace, timeout=30, message="the turn's trace, sent included")
    assert spans is not None

    # The scheduler's turn is the root: it publishes the generation request.
    schedule = _one(spans, "schedule generation.requested")
    assert schedule.parent is None
    assert (_attr(schedule, "piyasa.chat_id"), _attr(schedule, "piyasa.bot_id")) == (
        chat_id,
        bot_id,
    )

    # The generator handles the request, and calls the LLM in a child span of its own.
    generate = _one(spans, "handle generation.requested")
    _assert_child(generate, schedule, remote=True)
    assert _attr(generate, "piyasa.consumer") == "generator"
    llm = _one(spans, "llm compatible")
    _assert_child(llm, generate)
    assert llm.kind is SpanKind.CLIENT
    [call] = fleet.llm.requests
    assert _attr(llm, "gen_ai.request.model") == MODEL
    assert _attr(llm, "gen_ai.response.model") == MODEL
    assert _attr(llm, "gen_ai.usage.input_tokens") == count_tokens(OPENAI.prompt_text(call.body))
    assert _attr(llm, "gen_ai.usage.output_tokens") == count_tokens(REPLY)
    assert _attr(llm, "piyasa.llm.outcome") == "ok"

    # The guard handles the draft, and its decision is on its span.
    decide = _one(spans, "handle draft.created")
    _assert_child(decide, generate, remote=True)
    assert _attr(decide, "piyasa.consumer") == "guard"
    assert _attr(decide, "piyasa.guard.decision") == "approved"
    assert _attr(decide, "piyasa.guard.attempt") == 0

    # The dispatcher takes the approved message; the post runs later from a timer, in a
    # span of the same trace, and the Bot API call is that span's child.
    approved = _one(spans, "handle message.approved")
    _assert_child(approved, decide, remote=True)
    assert _attr(approved, "piyasa.consumer") == "dispatcher"
    post = _one(spans, "dispatch message")
    _assert_child(post, approved)
    assert _attr(post, "piyasa.turn_id") == turn_id
    send = _one(spans, "telegram sendMessage")
    _assert_child(send, post)
    assert (_attr(send, "telegram.method"), _attr(send, "telegram.outcome")) == (
        "sendMessage",
        "ok",
    )

    # The sent event carries the trace on: the scheduler's handling of it is the post's child.
    closed = _one(spans, "handle message.sent")
    _assert_child(closed, post, remote=True)
    assert _attr(closed, "piyasa.consumer") == "scheduler"
    [stored] = [
        headers
        for _, headers, data in await stream_messages(rig.js, rig.topology, StreamRole.CONVERSATION)
        if decode(data).envelope.id == sent.id
    ]
    assert stored["traceparent"].split("-")[1:3] == [
        f"{post.context.trace_id:032x}",
        f"{post.context.span_id:016x}",
    ]
    # Nothing else of this turn went into another trace.
    of_turn = [s for s in exporter.get_finished_spans() if _attr(s, "piyasa.turn_id") == turn_id]
    assert {s.context.trace_id for s in of_turn} == {schedule.context.trace_id}


def _attr(span: ReadableSpan, name: str) -> Any:
    return (span.attributes or {}).get(name)


def _one(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, (name, sorted(s.name for s in spans))
    return found[0]


def _assert_child(child: ReadableSpan, parent: ReadableSpan, *, remote: bool = False) -> None:
    """`child`'s parent is `parent`; `remote`: the link crossed NATS headers."""
    assert child.parent is not None, f"{child.name} has no parent"
    assert child.parent.span_id == parent.context.span_id, (child.name, parent.name)
    assert child.context.trace_id == parent.context.trace_id
    assert child.parent.is_remote is remote, (child.name, child.parent.is_remote)
