"""Trace context crosses NATS headers; spans reach the configured exporter."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import ValidationError

from piyasa_common.settings import BackboneSettings
from piyasa_common.telemetry import (
    configure_tracing,
    extract_context,
    inject_headers,
    shutdown_tracing,
    tracer,
)


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    configure_tracing("piyasa-test", otlp_endpoint=None, sample_ratio=1.0, exporter=exporter)
    try:
        yield exporter
    finally:
        shutdown_tracing()


def test_headers_carry_the_span_from_publisher_to_consumer(
    exporter: InMemorySpanExporter,
) -> None:
    with tracer("publisher").start_as_current_span("publish") as publish:
        headers = inject_headers({"Nats-Msg-Id": "e-1"})

    context = extract_context(headers)
    with tracer("consumer").start_as_current_span("handle", context=context) as handle:
        pass

    sent = publish.get_span_context()
    _version, trace_id, span_id, flags = headers["traceparent"].split("-")
    assert (trace_id, span_id) == (f"{sent.trace_id:032x}", f"{sent.span_id:016x}")
    assert int(flags, 16) & 0x01  # sampled
    assert headers["Nats-Msg-Id"] == "e-1"
    assert handle.get_span_context().trace_id == sent.trace_id
    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert spans.keys() == {"publish", "handle"}
    assert spans["publish"].parent is None
    assert spans["handle"].parent is not None
    assert spans["handle"].parent.span_id == sent.span_id
    assert spans["handle"].parent.is_remote


def test_header_names_are_matched_case_insensitively(exporter: InMemorySpanExporter) -> None:
    with tracer("publisher").start_as_current_span("publish") as publish:
        headers = inject_headers({})

    context = extract_context({k.title(): v for k, v in headers.items()})

    remote = trace.get_current_span(context).get_span_context()
    assert remote.trace_id == publish.get_span_context().trace_id


@pytest.mark.parametrize("headers", [None, {}, {"traceparent": "garbage"}])
def test_message_without_trace_headers_starts_a_new_trace(
    exporter: InMemorySpanExporter, headers: dict[str, str] | None
) -> None:
    with tracer("outer").start_as_current_span("unrelated") as unrelated:
        context = extract_context(headers)
        with tracer("consumer").start_as_current_span("handle", context=context) as handle:
            pass

    assert not trace.get_current_span(context).get_span_context().is_valid
    assert handle.get_span_context().trace_id != unrelated.get_span_context().trace_id


def test_nothing_is_injected_outside_a_span(exporter: InMemorySpanExporter) -> None:
    assert inject_headers({}) == {}


def test_configuring_again_keeps_the_provider_and_swaps_the_exporter(
    exporter: InMemorySpanExporter,
) -> None:
    first = trace.get_tracer_provider()
    second_exporter = InMemorySpanExporter()

    provider = configure_tracing(
        "piyasa-test", otlp_endpoint=None, sample_ratio=1.0, exporter=second_exporter
    )
    with tracer("t").start_as_current_span("after-swap"):
        pass

    assert provider is first
    assert [s.name for s in second_exporter.get_finished_spans()] == ["after-swap"]
    assert exporter.get_finished_spans() == ()


def test_sampling_follows_the_parent_decision(exporter: InMemorySpanExporter) -> None:
    with tracer("publisher").start_as_current_span("publish"):
        headers = inject_headers({})
    consumer_side = InMemorySpanExporter()
    configure_tracing("piyasa-test", otlp_endpoint=None, sample_ratio=0.0, exporter=consumer_side)

    with tracer("consumer").start_as_current_span("child", context=extract_context(headers)):
        pass
    with tracer("consumer").start_as_current_span("new-root") as root:
        pass

    assert not root.get_span_context().trace_flags.sampled
    assert [s.name for s in consumer_side.get_finished_spans()] == ["child"]


def test_sample_ratio_outside_unit_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="sample_ratio"):
        configure_tracing("piyasa-test", otlp_endpoint=None, sample_ratio=1.5)


def test_without_endpoint_or_exporter_spans_exist_but_are_not_exported(
    exporter: InMemorySpanExporter,
) -> None:
    configure_tracing("piyasa-test", otlp_endpoint=None, sample_ratio=1.0)

    with tracer("t").start_as_current_span("quiet") as span:
        headers = inject_headers({})

    assert span.get_span_context().is_valid
    assert "traceparent" in headers
    assert exporter.get_finished_spans() == ()


class _Collector(BaseHTTPRequestHandler):
    """A stand-in OTLP/HTTP receiver that records the paths posted to."""

    paths: queue.Queue[str]

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.paths.put(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_otlp_endpoint_receives_spans_on_v1_traces_when_flushed() -> None:
    _Collector.paths = queue.Queue()
    collector = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=collector.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{collector.server_address[1]}/"
    try:
        configure_tracing("piyasa-test", otlp_endpoint=endpoint, sample_ratio=1.0)
        with tracer("t").start_as_current_span("exported"):
            pass

        shutdown_tracing()

        assert _Collector.paths.get(timeout=10) == "/v1/traces"
    finally:
        shutdown_tracing()
        collector.shutdown()
        collector.server_close()
        thread.join(timeout=5)


def test_an_otlp_protocol_other_than_http_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Spans are exported over OTLP/HTTP only: a gRPC setting would export to nowhere."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    with pytest.raises(ValidationError, match="OTEL_EXPORTER_OTLP"):
        BackboneSettings()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    assert BackboneSettings().otlp_protocol == "http/protobuf"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")  # the traces' own wins
    with pytest.raises(ValidationError, match="OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"):
        BackboneSettings()
