"""A scheduled send's spans, in the trace of its approved message.

The approved message's handler returns as soon as the send is scheduled, so its
span has ended by the time the bot types, posts or reacts, and the timers that
do it run in whatever context scheduled them (often another turn's). A job
therefore keeps its handler's trace context (`Job.trace`; `Record.traceparent`
for the partition's next owner after a takeover), and the work it does later
opens a span in that trace with `job_span`. The Bot API call is that span's
child, and the events it publishes (`message.sent`, failures) carry its
`traceparent`: one message is one trace, from schedule to Telegram.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span
from opentelemetry.util.types import Attributes

from piyasa_common.telemetry import extract_context, inject_headers, tracer
from piyasa_dispatcher.jobs import Job

_tracer = tracer(__name__)


def current() -> Context:
    """The trace context the caller runs in (the approved message's handler span)."""
    return otel_context.get_current()


def traceparent(context: Context | None) -> str | None:
    """The W3C `traceparent` of `context`'s span, to keep in the ledger record."""
    if context is None:
        return None
    return inject_headers({}, context).get("traceparent")


def from_traceparent(value: str | None) -> Context | None:
    """The trace context a ledger record kept (None when it kept none)."""
    return extract_context({"traceparent": value}) if value else None


@contextmanager
def job_span(name: str, job: Job) -> Iterator[Span]:
    """A span in the job's trace (a trace of its own when the job kept none), current
    while the block runs, so the Bot API call inside it becomes its child.

    In a trace that is not sampled nothing would be recorded: the job's context is made
    current as it is, so what the block publishes still carries the trace's id, without
    the cost of a span nobody sees."""
    parent = job.trace if job.trace is not None else Context()
    kept = trace.get_current_span(parent).get_span_context()
    if kept.is_valid and not kept.trace_flags.sampled:
        token = otel_context.attach(parent)
        try:
            yield trace.get_current_span(parent)
        finally:
            otel_context.detach(token)
        return
    attributes: Attributes = {
        "piyasa.bot_id": job.bot_id,
        "piyasa.chat_id": job.chat_id,
        "piyasa.turn_id": job.turn_id,
        "piyasa.dispatch.attempt": job.record.attempts if job.record is not None else 0,
    }
    with _tracer.start_as_current_span(name, context=parent, attributes=attributes) as span:
        yield span


__all__ = ["current", "from_traceparent", "job_span", "traceparent"]
