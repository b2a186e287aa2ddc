"""Publishing events: `Nats-Msg-Id` for dedup, trace context, optimistic concurrency.

A publish whose ack is lost is retried with the same `Nats-Msg-Id`; JetStream
answers the retry with a duplicate ack, which counts as success, so a caller
never sees its own write as a conflict.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence

import nats.errors
from nats.js import JetStreamContext, api
from nats.js.errors import APIError, NoStreamResponseError
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from piyasa_common import metrics
from piyasa_common.acks import JetStreamAcks, acks_for
from piyasa_common.errors import Conflict, PublishFailed
from piyasa_common.telemetry import inject_headers
from piyasa_contracts import Envelope, StreamRole, Topology, encode, subject_for

log = logging.getLogger(__name__)

MSG_ID = "Nats-Msg-Id"
EXPECTED_LAST_SUBJECT_SEQ = "Nats-Expected-Last-Subject-Sequence"
TYPE_HEADER = "Piyasa-Type"
VERSION_HEADER = "Piyasa-Version"

_WRONG_LAST_SEQUENCE = 10071
_LAST_SEQ_IN_DESCRIPTION = re.compile(r"(\d+)\s*$")

# Transient: the server did not answer (lost ack, reconnect in progress).
_TRANSIENT = (
    nats.errors.TimeoutError,
    NoStreamResponseError,
    nats.errors.ConnectionReconnectingError,
)


class Publisher:
    def __init__(
        self,
        js: JetStreamContext,
        topology: Topology,
        *,
        attempts: int = 6,
        timeout_s: float = 5.0,
        acks: JetStreamAcks | None = None,
    ) -> None:
        self._js = js
        self._acks = acks or acks_for(js)
        self._topology = topology
        self._attempts = attempts
        self._timeout_s = timeout_s

    @property
    def topology(self) -> Topology:
        return self._topology

    def headers_for(self, envelope: Envelope) -> dict[str, str]:
        headers = {
            MSG_ID: envelope.id,
            TYPE_HEADER: envelope.type,
            VERSION_HEADER: str(envelope.version),
        }
        return inject_headers(headers)

    async def publish(
        self,
        envelope: Envelope,
        *,
        expected_last_subject_seq: int | None = None,
        subject: str | None = None,
        encoded: bytes | None = None,
    ) -> api.PubAck:
        """Store one event and return its ack; duplicates are success.

        `encoded`: the envelope's `encode()`, when the caller has it already (it costs
        about as much as the publish).

        With `expected_last_subject_seq` the write only lands if the subject's
        last sequence is still that one (0: the subject must be empty), else
        `Conflict` is raised with the stream's current sequence.
        """
        subject = subject or subject_for(self._topology, envelope)
        headers = self.headers_for(envelope)
        if expected_last_subject_seq is not None:
            headers[EXPECTED_LAST_SUBJECT_SEQ] = str(expected_last_subject_seq)
        payload = encode(envelope) if encoded is None else encoded
        try:
            try:
                # The first attempt runs outside tenacity, whose per-call machinery
                # costs about as much as encoding the event; retries go through it.
                ack = await self._acks.publish(
                    subject, payload, timeout=self._timeout_s, headers=dict(headers)
                )
            except _TRANSIENT as first_failure:
                ack = await self._retry(subject, payload, headers, first_failure)
        except APIError as exc:
            if exc.err_code == _WRONG_LAST_SEQUENCE:
                # The server checks the expected sequence before `Nats-Msg-Id`
                # dedup, so a retry of a write whose ack was lost lands here:
                # if the subject's last message is ours, the write succeeded.
                current = _current_seq(exc.description)
                if current and await self._last_is(subject, envelope.id):
                    metrics.EVENTS_PUBLISHED.labels(envelope.type, "duplicate").inc()
                    return api.PubAck(stream="", seq=current, duplicate=True)
                metrics.EVENTS_PUBLISHED.labels(envelope.type, "error").inc()
                raise Conflict(subject, expected_last_subject_seq, current) from exc
            metrics.EVENTS_PUBLISHED.labels(envelope.type, "error").inc()
            raise PublishFailed(f"{envelope.type} {envelope.id}: {exc.description}") from exc
        except _TRANSIENT as exc:
            metrics.EVENTS_PUBLISHED.labels(envelope.type, "error").inc()
            raise PublishFailed(f"{envelope.type} {envelope.id}: no ack ({exc!r})") from exc
        metrics.EVENTS_PUBLISHED.labels(envelope.type, "duplicate" if ack.duplicate else "ok").inc()
        return ack

    async def _retry(
        self, subject: str, payload: bytes, headers: dict[str, str], first_failure: Exception
    ) -> api.PubAck:
        """Attempts 2..N after a transient failure of the first, on the same schedule
        as if tenacity had run the first attempt too (its failure is replayed)."""
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_random_exponential(multiplier=0.05, max=2.0),
            retry=retry_if_exception_type(_TRANSIENT),
            reraise=True,
        ):
            with attempt:
                if attempt.retry_state.attempt_number == 1:
                    raise first_failure
                metrics.PUBLISH_RETRIES.inc()
                return await self._acks.publish(
                    subject, payload, timeout=self._timeout_s, headers=dict(headers)
                )
        raise AssertionError("unreachable: tenacity re-raises the last failure")

    async def _last_is(self, subject: str, event_id: str) -> bool:
        try:
            last = await self._js.get_last_msg(_stream_of(self._topology, subject), subject)
        except APIError:
            return False
        return (last.headers or {}).get(MSG_ID) == event_id

    async def publish_all(self, envelopes: Sequence[Envelope]) -> list[api.PubAck]:
        """Store several events with pipelined acks; each is retried on its own.

        Used by handlers that emit more than one derived event, and by
        throughput-bound producers. Order of storage is not guaranteed across
        subjects, only within one.
        """
        if len(envelopes) == 1:
            return [await self.publish(envelopes[0])]
        futures: list[asyncio.Future[api.PubAck]] = []
        for envelope in envelopes:
            futures.append(
                await self._js.publish_async(
                    subject_for(self._topology, envelope),
                    encode(envelope),
                    headers=self.headers_for(envelope),
                )
            )
        acks: list[api.PubAck] = []
        for envelope, future in zip(envelopes, futures, strict=True):
            try:
                # An ack that has already arrived needs no timer (wait_for's costs one).
                ack = (
                    future.result()
                    if future.done()
                    else await asyncio.wait_for(future, self._timeout_s)
                )
            except (TimeoutError, *_TRANSIENT):
                ack = await self.publish(envelope)  # same id: a stored one acks as duplicate
            except APIError as exc:
                metrics.EVENTS_PUBLISHED.labels(envelope.type, "error").inc()
                raise PublishFailed(f"{envelope.type} {envelope.id}: {exc.description}") from exc
            else:
                outcome = "duplicate" if ack.duplicate else "ok"
                metrics.EVENTS_PUBLISHED.labels(envelope.type, outcome).inc()
            acks.append(ack)
        return acks


def _stream_of(topology: Topology, subject: str) -> str:
    root = subject.split(".", 2)[1]
    for role in StreamRole:
        if topology.stream_spec(role).subject_root == root:
            return topology.stream(role)
    raise ValueError(f"no stream holds {subject}")


def _current_seq(description: str | None) -> int | None:
    match = _LAST_SEQ_IN_DESCRIPTION.search(description or "")
    return int(match.group(1)) if match else None
