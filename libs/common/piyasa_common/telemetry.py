"""OpenTelemetry tracing: one provider per process, W3C trace context in NATS headers.

A message is one trace across services: the publisher calls `inject_headers`
on the message headers (`traceparent`, `tracestate`), the consumer calls
`extract_context` on them and starts its handler span as a child.

OpenTelemetry lets a process set its global tracer provider only once, so the
provider is created on the first `configure_tracing` call and kept; later calls
(tests, a service reconfigured) swap its sampler and its exporter in place.
The resource (`service.name`) is fixed by the first call.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Final

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.propagators.textmap import Getter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import (
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

__all__ = [
    "configure_tracing",
    "extract_context",
    "inject_headers",
    "shutdown_tracing",
    "tracer",
]

_log = logging.getLogger(__name__)

EXPORT_TIMEOUT_SECONDS: Final = 10.0
FLUSH_TIMEOUT_MILLIS: Final = 5_000

_PROPAGATOR: Final = TraceContextTextMapPropagator()


class _SwappableSampler(Sampler):
    """Delegates to a sampler that a later `configure_tracing` may replace."""

    def __init__(self, inner: Sampler) -> None:
        self.inner = inner

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        return self.inner.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return self.inner.get_description()


class _SwappableProcessor(SpanProcessor):
    """Delegates to the current export pipeline; None means spans are not exported."""

    def __init__(self) -> None:
        self.inner: SpanProcessor | None = None

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        inner = self.inner
        if inner is not None:
            inner.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        inner = self.inner
        if inner is not None:
            inner.on_end(span)

    def replace(self, new: SpanProcessor | None) -> None:
        """Install `new`, then flush and shut down the pipeline it replaces."""
        old, self.inner = self.inner, new
        if old is not None:
            old.force_flush(FLUSH_TIMEOUT_MILLIS)
            old.shutdown()

    def shutdown(self) -> None:
        self.replace(None)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        inner = self.inner
        return True if inner is None else inner.force_flush(timeout_millis)


_lock = threading.Lock()
_provider: TracerProvider | None = None
_sampler: _SwappableSampler | None = None
_processor: _SwappableProcessor | None = None


def configure_tracing(
    service: str,
    *,
    otlp_endpoint: str | None,
    sample_ratio: float,
    exporter: SpanExporter | None = None,
) -> TracerProvider:
    """Set up this process's tracer provider and return it.

    Sampling follows the parent's decision, and samples `sample_ratio` of new
    traces. Spans go to `exporter` synchronously when one is given (tests pass
    an `InMemorySpanExporter`), else in batches over OTLP/HTTP to
    `<otlp_endpoint>/v1/traces`, else nowhere (spans and trace ids still exist,
    so logs and headers carry them).
    """
    global _provider, _sampler, _processor
    if not 0.0 <= sample_ratio <= 1.0:
        raise ValueError(f"sample_ratio must be within [0, 1], got {sample_ratio}")
    sampler = ParentBased(TraceIdRatioBased(sample_ratio))
    pipeline: SpanProcessor | None = None
    if exporter is not None:
        pipeline = SimpleSpanProcessor(exporter)
    elif otlp_endpoint:
        endpoint = otlp_endpoint.rstrip("/") + "/v1/traces"
        pipeline = BatchSpanProcessor(
            OTLPSpanExporter(endpoint=endpoint, timeout=EXPORT_TIMEOUT_SECONDS)
        )
    with _lock:
        if _provider is None or _sampler is None or _processor is None:
            _sampler = _SwappableSampler(sampler)
            _processor = _SwappableProcessor()
            _provider = TracerProvider(
                sampler=_sampler, resource=Resource.create({SERVICE_NAME: service})
            )
            _provider.add_span_processor(_processor)
            trace.set_tracer_provider(_provider)
            if trace.get_tracer_provider() is not _provider:
                _log.warning(
                    "another global tracer provider was set first; "
                    "spans from tracer() still use piyasa's provider"
                )
        else:
            configured = _provider.resource.attributes.get(SERVICE_NAME)
            if configured != service:
                _log.warning(
                    "tracing already configured for service %s; keeping that name",
                    configured,
                )
            _sampler.inner = sampler
        _processor.replace(pipeline)
        return _provider


def shutdown_tracing() -> None:
    """Export the spans still buffered and stop exporting.

    The provider stays usable: spans are still created, and a later
    `configure_tracing` installs a new exporter.
    """
    with _lock:
        if _processor is not None:
            _processor.replace(None)


def tracer(name: str) -> trace.Tracer:
    """A tracer named for the instrumenting module (usually `__name__`)."""
    provider = _provider
    return trace.get_tracer(name) if provider is None else provider.get_tracer(name)


def inject_headers(headers: dict[str, str], context: Context | None = None) -> dict[str, str]:
    """Write the current (or the given) span's `traceparent`/`tracestate` into
    `headers` and return the same dict; nothing is written outside a valid span."""
    _PROPAGATOR.inject(headers, context=context)
    return headers


class _HeaderGetter(Getter[Mapping[str, str]]):
    """Reads header values, matching names case-insensitively when needed."""

    def get(self, carrier: Mapping[str, str], key: str) -> list[str] | None:
        value = carrier.get(key)
        if value is None:
            lowered = key.lower()
            value = next((v for k, v in carrier.items() if k.lower() == lowered), None)
        return None if value is None else [value]

    def keys(self, carrier: Mapping[str, str]) -> list[str]:
        return list(carrier)


_GETTER: Final = _HeaderGetter()


def extract_context(headers: Mapping[str, str] | None) -> Context:
    """The trace context carried by message headers.

    Without valid trace headers this is an empty context, so a span started in
    it begins a new trace rather than joining whatever is current.
    """
    if not headers:
        return Context()
    return _PROPAGATOR.extract(headers, context=Context(), getter=_GETTER)
