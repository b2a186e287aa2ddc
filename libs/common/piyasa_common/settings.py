"""The backbone's settings: one typed object, read once at start."""

from __future__ import annotations

import os
import socket
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from piyasa_contracts import Topology


def _default_instance() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class BackboneSettings(BaseSettings):
    """Settings every service shares. Service settings subclass this.

    Environment variables use the `PIYASA_` prefix; the infrastructure ones
    that DESIGN.md names (`NATS_URL`, `OTEL_EXPORTER_OTLP_ENDPOINT`) are read
    without it too.
    """

    model_config = SettingsConfigDict(
        env_prefix="PIYASA_",
        env_file=".env",
        extra="ignore",
        frozen=True,
        populate_by_name=True,
    )

    nats_url: str = Field(
        "nats://127.0.0.1:4222", validation_alias=AliasChoices("NATS_URL", "PIYASA_NATS_URL")
    )
    name_prefix: str = Field("piyasa", description="Prefix of every stream, subject and bucket.")
    partitions: int = Field(32, ge=1, le=1024)
    stream_replicas: int = Field(1, ge=1, le=5, description="1 embedded, 3 on a cluster.")
    instance_id: str = Field(default_factory=_default_instance, max_length=100)

    # consumers
    ack_wait_s: float = Field(30.0, gt=0, le=3600)
    max_ack_pending: int = Field(1000, ge=1, le=100_000)
    max_deliver: int = Field(5, ge=1, le=100, description="Deliveries before dead-lettering.")
    nak_backoff_s: tuple[float, ...] = Field((1.0, 5.0, 30.0), min_length=1)
    newer_version_delay_s: float = Field(30.0, gt=0, le=3600)
    fetch_batch: int = Field(100, ge=1, le=10_000)
    concurrency: int = Field(64, ge=1, le=10_000, description="Handlers in flight per consumer.")
    drain_grace_s: float = Field(20.0, gt=0, le=600)
    consumer_lag_interval_s: float = Field(
        5.0,
        gt=0,
        le=300,
        description="How often each durable's lag is read from JetStream (consumer info) "
        "for /metrics; off the message path.",
    )

    # leases, heartbeats, start-up
    lease_ttl_s: int = Field(6, ge=2, le=300, description="Whole seconds: NATS TTLs are.")
    heartbeat_interval_s: float = Field(5.0, gt=0, le=300)
    conversation_window_h: float = Field(24.0, gt=0, le=24 * 30)

    # telemetry and HTTP side server
    http_host: str = "127.0.0.1"
    http_port: int = Field(0, ge=0, le=65535, description="0 picks a free port.")
    otlp_endpoint: str | None = Field(
        None,
        validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT", "PIYASA_OTLP_ENDPOINT"),
    )
    otlp_protocol: Literal["http/protobuf"] = Field(
        "http/protobuf",
        validation_alias=AliasChoices(
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"
        ),
        description="Spans go out over OTLP/HTTP only (the collector's port 4318): a gRPC "
        "setting is refused at start rather than exporting to nowhere.",
    )
    trace_sample_ratio: float = Field(1.0, ge=0.0, le=1.0)
    log_level: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")

    @field_validator("name_prefix")
    @classmethod
    def _prefix_is_token(cls, v: str) -> str:
        Topology(prefix=v)  # raises with a clear message when not a subject token
        return v

    def topology(self) -> Topology:
        return Topology(prefix=self.name_prefix, partitions=self.partitions)

    def backoff_for(self, delivery: int) -> float:
        """Nak delay after the `delivery`-th failed delivery (1-based)."""
        steps = self.nak_backoff_s
        return steps[min(max(delivery, 1), len(steps)) - 1]
