"""Real service processes export their spans over OTLP/HTTP, as one trace across NATS.

A receiver written for this test (`http.server` in a thread) accepts `POST /v1/traces`
with `application/x-protobuf`, as Jaeger's and the collector's OTLP/HTTP port does,
and decodes each body as an `ExportTraceServiceRequest`. The generator (offline) and
the guard run as processes (`python -m piyasa_<service>.main`) pointed at it with
`OTEL_EXPORTER_OTLP_ENDPOINT`, the variable their settings read. The test publishes a
generation request carrying a `traceparent`, then stops both with SIGTERM: their drain
flushes the batched spans before they exit, so everything has arrived by then.
"""

from __future__ import annotations

import gzip
import threading
import uuid
import zlib
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from nats.js import JetStreamContext
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from piyasa_common.connection import connect, jetstream
from piyasa_common.heartbeat import read_heartbeats
from piyasa_common.provisioning import provision
from piyasa_common.publisher import Publisher
from piyasa_contracts import Envelope, StreamRole, Topology
from tests.chaos.processes import ServiceProcess, service_env
from tests.support.backbone import request_event, settings_for, stream_events
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

DECISIONS = {"message.approved", "draft.rejected"}


@dataclass(frozen=True)
class Received:
    """One exported span, with the resource's `service.name` it came under."""

    service: str
    span: Span

    @property
    def name(self) -> str:
        return self.span.name

    def attribute(self, key: str) -> Any:
        return _value(next((a.value for a in self.span.attributes if a.key == key), None))


class _OtlpHandler(BaseHTTPRequestHandler):
    receiver: ClassVar[OtlpReceiver]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        content_type = self.headers.get("Content-Type", "")
        if self.path != "/v1/traces" or content_type != "application/x-protobuf":
            self.receiver.refused.append(f"{self.path} {content_type}")
            self._answer(404 if self.path != "/v1/traces" else 415, b"")
            return
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.receiver.add(request)
        self._answer(200, ExportTraceServiceResponse().SerializeToString())

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class OtlpReceiver:
    """An OTLP/HTTP traces endpoint on 127.0.0.1 that keeps what it was sent."""

    def __init__(self) -> None:
        handler = type("Handler", (_OtlpHandler,), {"receiver": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._lock = threading.Lock()
        self._spans: list[Received] = []
        self.requests = 0
        self.refused: list[str] = []

    @property
    def endpoint(self) -> str:
        """What `OTEL_EXPORTER_OTLP_ENDPOINT` takes: the exporter appends `/v1/traces`."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add(self, request: ExportTraceServiceRequest) -> None:
        received = [
            Received(_service_name(rs.resource.attributes), span)
            for rs in request.resource_spans
            for scope in rs.scope_spans
            for span in scope.spans
        ]
        with self._lock:
            self.requests += 1
            self._spans.extend(received)

    def spans(self) -> list[Received]:
        with self._lock:
            return list(self._spans)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


@dataclass
class Bus:
    js: JetStreamContext
    topology: Topology
    publisher: Publisher


@pytest.fixture
async def bus(nats_url: str, prefix: str) -> AsyncIterator[Bus]:
    settings = settings_for(nats_url, prefix)
    nc = await connect(nats_url, "otlp-test")
    js = jetstream(nc)
    await provision(js, settings)
    topology = settings.topology()
    yield Bus(js, topology, Publisher(js, topology))
    await nc.close()


async def _start(module: str, env: dict[str, str], bus: Bus) -> ServiceProcess:
    """`python -m <module>` with `env`; returns once its heartbeat says it is ready."""
    instance = env["PIYASA_INSTANCE_ID"]
    process = await ServiceProcess(module, env=env).start()

    async def ready() -> bool:
        assert process.proc is not None
        if process.proc.returncode is not None:
            raise AssertionError(f"{module} exited: {await process.stderr_tail()}")
        beats = await read_heartbeats(bus.js, bus.topology)
        return any(b.instance == instance and b.ready for b in beats)

    await eventually(ready, timeout=60, interval=0.1, message=f"{module} ready")
    return process


async def test_service_processes_export_one_trace_over_otlp_http(
    nats_url: str, prefix: str, bus: Bus, receiver: OtlpReceiver
) -> None:
    suffix = uuid.uuid4().hex[:6]

    def env(service: str) -> dict[str, str]:
        return service_env(
            nats_url,
            prefix,
            f"{service}-{suffix}",
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
            PIYASA_TRACE_SAMPLE_RATIO="1.0",
            PIYASA_ACK_WAIT_S="30",
            PIYASA_LLM_PROVIDERS="offline",
        )

    processes = [
        await _start("piyasa_generator.main", env("generator"), bus),
        await _start("piyasa_guard.main", env("guard"), bus),
    ]
    try:
        # The request comes from "upstream": a sampled span context of the test's own.
        upstream = SpanContext(
            trace_id=uuid.uuid4().int,
            span_id=uuid.uuid4().int >> 64,
            is_remote=False,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
        )
        request = request_event("c-otlp", f"turn-{suffix}")
        with trace.use_span(NonRecordingSpan(upstream)):
            await bus.publisher.publish(request)

        async def decided() -> list[Envelope]:
            work = await stream_events(bus.js, bus.topology, StreamRole.WORK)
            return [
                e for e in work if e.type in DECISIONS and e.keys.turn_id == request.keys.turn_id
            ]

        first = (await eventually(decided, timeout=30, message="the guard's decision"))[0]
    finally:
        codes = [await p.terminate(timeout=30) for p in processes]
    assert codes == [0, 0], [await p.stderr_tail() for p in processes]

    # Drained: the batches were flushed before exit, so every span is here already.
    assert receiver.refused == []
    assert receiver.requests >= 2  # one export per process at least
    spans = [s for s in receiver.spans() if _int(s.span.trace_id) == upstream.trace_id]

    generate = _one(spans, "handle generation.requested", parent=upstream.span_id)
    assert generate.service == "generator"
    assert generate.attribute("piyasa.event_id") == request.id
    llm = _one(spans, "llm offline", parent=_int(generate.span.span_id))
    assert llm.service == "generator"
    assert llm.span.kind == Span.SpanKind.SPAN_KIND_CLIENT
    assert (llm.attribute("gen_ai.system"), llm.attribute("piyasa.llm.outcome")) == (
        "offline",
        "ok",
    )

    decide = _one(spans, "handle draft.created", parent=_int(generate.span.span_id))
    assert decide.service == "guard"
    expected = "approved" if first.type == "message.approved" else None
    if expected is None:
        expected = "rejected" if first.payload["will_retry"] else "dropped"
    assert decide.attribute("piyasa.guard.decision") == expected


def _one(spans: Sequence[Received], name: str, *, parent: int) -> Received:
    found = [s for s in spans if s.name == name and _int(s.span.parent_span_id) == parent]
    assert len(found) == 1, (name, sorted((s.service, s.name) for s in spans))
    return found[0]


def _int(raw: bytes) -> int:
    return int.from_bytes(raw, "big") if raw else 0


def _service_name(attributes: Sequence[KeyValue]) -> str:
    return str(next((_value(a.value) for a in attributes if a.key == "service.name"), ""))


def _value(value: AnyValue | None) -> Any:
    if value is None:
        return None
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind is not None else None
