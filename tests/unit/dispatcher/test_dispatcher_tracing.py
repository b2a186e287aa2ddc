"""A scheduled send's spans join its approved message's trace, also after a takeover."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from piyasa_common.telemetry import configure_tracing, shutdown_tracing, tracer
from piyasa_contracts import EventKeys, make_event
from piyasa_contracts.events.work import Approved
from piyasa_dispatcher import tracing
from piyasa_dispatcher.jobs import Job
from piyasa_dispatcher.ledger import Record, State


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    configure_tracing("piyasa-test", otlp_endpoint=None, sample_ratio=1.0, exporter=exporter)
    try:
        yield exporter
    finally:
        shutdown_tracing()


def _job(trace: Context | None) -> Job:
    now = datetime.now(UTC)
    payload = Approved(
        turn_id="t1", deadline=now + timedelta(minutes=1), bot_id="b1", text="merhaba"
    )
    envelope = make_event(
        payload, occurred_at=now, keys=EventKeys(bot_id="b1", chat_id="c1", turn_id="t1")
    )
    return Job("p000.t1", 0, envelope, payload, "c1", 7, trace=trace)


def test_a_post_is_a_child_of_the_handler_span_that_took_the_message(
    exporter: InMemorySpanExporter,
) -> None:
    with tracer("consumer").start_as_current_span("handle message.approved") as handler:
        job = _job(tracing.current())

    # Later, from a timer that another turn's handler scheduled.
    with (
        tracer("consumer").start_as_current_span("another turn"),
        tracing.job_span("dispatch message", job) as post,
    ):
        pass

    parent = handler.get_span_context()
    [finished] = [s for s in exporter.get_finished_spans() if s.name == "dispatch message"]
    assert finished.parent is not None and finished.parent.span_id == parent.span_id
    assert post.get_span_context().trace_id == parent.trace_id
    assert finished.attributes is not None
    assert finished.attributes["piyasa.turn_id"] == "t1"
    assert finished.attributes["piyasa.dispatch.attempt"] == 0


def test_a_new_owner_posts_in_the_trace_the_ledger_record_kept(
    exporter: InMemorySpanExporter,
) -> None:
    with tracer("consumer").start_as_current_span("handle message.approved") as handler:
        kept = tracing.traceparent(tracing.current())
    record = Record(State.SCHEDULED, 7, 1.0, traceparent=kept)

    again = Record.decode(record.encode()).moved(State.INTENT, 2.0)
    with tracing.job_span("dispatch message", _job(tracing.from_traceparent(again.traceparent))):
        pass

    assert again.traceparent == kept
    [finished] = [s for s in exporter.get_finished_spans() if s.name == "dispatch message"]
    assert finished.parent is not None and finished.parent.is_remote
    assert finished.parent.span_id == handler.get_span_context().span_id
    assert finished.context.trace_id == handler.get_span_context().trace_id


def test_a_job_without_a_trace_starts_its_own_instead_of_joining_the_current_one(
    exporter: InMemorySpanExporter,
) -> None:
    with (
        tracer("consumer").start_as_current_span("another turn") as other,
        tracing.job_span("dispatch message", _job(None)) as post,
    ):
        pass

    assert tracing.traceparent(None) is None
    assert Record.decode(Record(State.SCHEDULED, 7, 1.0).encode()).traceparent is None
    assert post.get_span_context().trace_id != other.get_span_context().trace_id
    [finished] = [s for s in exporter.get_finished_spans() if s.name == "dispatch message"]
    assert finished.parent is None


def test_an_unsampled_trace_gets_no_span_but_what_the_post_publishes_keeps_its_id() -> None:
    exporter = InMemorySpanExporter()
    configure_tracing("piyasa-test", otlp_endpoint=None, sample_ratio=0.0, exporter=exporter)
    try:
        with tracer("consumer").start_as_current_span("handle message.approved") as handler:
            job = _job(tracing.current())
        with (
            tracer("consumer").start_as_current_span("another turn"),
            tracing.job_span("dispatch message", job) as post,
        ):
            published = tracing.traceparent(tracing.current())
    finally:
        shutdown_tracing()

    kept = handler.get_span_context()
    assert not kept.trace_flags.sampled and not post.is_recording()
    assert published is not None
    assert published.startswith(f"00-{kept.trace_id:032x}-{kept.span_id:016x}-")
    assert exporter.get_finished_spans() == ()
