"""Idempotent creation of streams, key-value buckets and durable consumers.

Everything comes from `piyasa_contracts.topology`; running it twice changes
nothing, and a changed setting (ack wait, max_ack_pending) updates in place.
"""

from __future__ import annotations

import logging

from nats.js import JetStreamContext, api
from nats.js.errors import BadRequestError, NotFoundError

from piyasa_common.settings import BackboneSettings
from piyasa_contracts import BUCKETS, ConsumerSpec, StreamRole, Topology

log = logging.getLogger(__name__)

# Only the duplicate window matters for `Nats-Msg-Id` dedup; keep it explicit.
_DUPLICATE_WINDOW_S = 120.0


async def provision(js: JetStreamContext, settings: BackboneSettings) -> None:
    """Create or update every stream, bucket and durable consumer."""
    topology = settings.topology()
    await provision_streams(js, topology, settings.stream_replicas)
    await provision_buckets(js, topology, settings.stream_replicas)
    for spec, partition in topology.durable_consumers():
        await ensure_consumer(js, topology, settings, spec, partition)


async def provision_streams(js: JetStreamContext, topology: Topology, replicas: int) -> None:
    for role in StreamRole:
        spec = topology.stream_spec(role)
        config = api.StreamConfig(
            name=topology.stream(role),
            description=spec.description,
            subjects=[topology.stream_subjects(role)],
            retention=api.RetentionPolicy.LIMITS,
            storage=api.StorageType.FILE,
            max_age=float(spec.max_age_s) if spec.max_age_s else None,
            duplicate_window=_DUPLICATE_WINDOW_S,
            num_replicas=replicas,
            allow_direct=True,
        )
        await _create_or_update_stream(js, config)


async def _create_or_update_stream(js: JetStreamContext, config: api.StreamConfig) -> None:
    try:
        info = await js.stream_info(str(config.name))
    except NotFoundError:
        await js.add_stream(config)
        log.info("stream created", extra={"stream": config.name})
        return
    current = info.config
    if (
        current.subjects != config.subjects
        or (current.max_age or 0) != (config.max_age or 0)
        or current.num_replicas != config.num_replicas
    ):
        await js.update_stream(config)
        log.info("stream updated", extra={"stream": config.name})


async def provision_buckets(js: JetStreamContext, topology: Topology, replicas: int) -> None:
    for spec in BUCKETS:
        config = api.KeyValueConfig(
            bucket=topology.bucket(spec.bucket),
            description=spec.description,
            history=spec.history,
            replicas=replicas,
            storage=api.StorageType.FILE,
            limit_marker_ttl=1 if spec.ttl_markers else None,
            direct=True,
        )
        try:
            await js.create_key_value(config)
        except BadRequestError as exc:
            # An existing bucket with a different description or limits: keep it.
            log.info("bucket kept as is", extra={"bucket": config.bucket, "reason": str(exc)})


async def ensure_consumer(
    js: JetStreamContext,
    topology: Topology,
    settings: BackboneSettings,
    spec: ConsumerSpec,
    partition: int | None = None,
) -> str:
    """Create or update one durable pull consumer; returns its name.

    The server-side `max_deliver` stays unlimited: the consumer runner counts
    deliveries itself and dead-letters at the limit, because a message that
    hits the server's limit is silently dropped, and a message of a newer
    schema version must keep being redelivered until this reader is upgraded.
    """
    durable = topology.durable_name(spec, partition)
    filters = topology.consumer_filters(spec, partition)
    config = api.ConsumerConfig(
        durable_name=durable,
        description=spec.description or None,
        deliver_policy=api.DeliverPolicy.ALL,
        ack_policy=api.AckPolicy.EXPLICIT,
        ack_wait=settings.ack_wait_s,
        max_ack_pending=settings.max_ack_pending,
        max_deliver=-1,
        filter_subject=filters[0] if len(filters) == 1 else None,
        filter_subjects=filters if len(filters) > 1 else None,
        max_waiting=512,
    )
    await js.add_consumer(topology.stream(spec.stream), config)
    return durable
