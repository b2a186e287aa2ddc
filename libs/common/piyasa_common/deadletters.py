"""Dead letters: list, inspect, replay and purge what consumers parked.

A dead letter is one message in the DEADLETTER stream: a `deadletter.parked`
event (`DeadLettered`) that carries the parked message's subject, headers and
bytes, and why it was parked (see `consumer.dead_letter`). Operators reach
these functions through the CLI (`piyasa dlq ...`) and the config service's API.

Replay re-publishes the original bytes to the original subject with the
original headers, except two kinds:

- `Nats-Msg-Id` becomes `<original id>-replay-<dead-letter seq>` (the original
  id is the event id, else the parked message's `<stream>:<seq>`). A new id,
  because JetStream would drop the original one as a duplicate while it is in
  the duplicate window; a deterministic one, because two replays of the same
  dead letter (two operators, or a retry after a lost answer) then store it once.
- `Nats-Expected-*` headers are dropped: an expected last sequence was true
  when the original was written, and would make every replay a conflict.

The dead letter is deleted once the replay is stored. Every consumer whose
filter matches the subject receives the replayed message, not only the one
that parked it; handlers are idempotent, so the others skip it.

    DeadLetterError (PiyasaError)
     ├── DeadLetterNotFound     no dead letter at that sequence
     ├── NotADeadLetter         the stored message is not a readable DeadLettered event
     └── DeadLetterStreamMissing  the prefix's streams were never provisioned
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import nats.errors
from nats.js import JetStreamContext, api
from nats.js.errors import APIError, NoStreamResponseError

from piyasa_common.errors import BackboneError, PiyasaError
from piyasa_common.publisher import MSG_ID
from piyasa_contracts import ContractError, StreamRole, Topology, decode
from piyasa_contracts.events.system import DeadLettered

__all__ = [
    "MAX_PAGE",
    "DeadLetterError",
    "DeadLetterNotFound",
    "DeadLetterRecord",
    "DeadLetterStreamMissing",
    "NotADeadLetter",
    "ReplayResult",
    "count_dead_letters",
    "get_dead_letter",
    "list_dead_letters",
    "purge",
    "replay",
    "replay_msg_id",
]

MAX_PAGE = 1000
"""The most dead letters one `list_dead_letters` call returns."""

_NO_MESSAGE = 10037
_SEQUENCE_NOT_FOUND = 10043
_STORE_EOF = 10057
_MISSING = frozenset({_NO_MESSAGE, _SEQUENCE_NOT_FOUND})
_STREAM_NOT_FOUND = 10059
_EXPECTED_PREFIX = "Nats-Expected-"
_TIMEOUT_S = 5.0


class DeadLetterError(PiyasaError):
    pass


class DeadLetterNotFound(DeadLetterError):
    def __init__(self, seq: int) -> None:
        self.seq = seq
        super().__init__(f"no dead letter at sequence {seq}")


class NotADeadLetter(DeadLetterError):
    def __init__(self, seq: int, problem: str) -> None:
        self.seq = seq
        self.problem = problem
        super().__init__(f"message {seq} of the dead-letter stream is unreadable: {problem}")


class DeadLetterStreamMissing(DeadLetterError):
    def __init__(self, stream: str) -> None:
        self.stream = stream
        super().__init__(
            f"stream {stream} does not exist: no service has provisioned this name prefix"
        )


@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    """One message of the DEADLETTER stream.

    `dead_letter` is None when the stored bytes are not a readable
    `DeadLettered` event (`problem` says why); such a record can be listed,
    shown and purged, not replayed.
    """

    seq: int
    subject: str
    parked_at: datetime | None
    event_id: str | None
    dead_letter: DeadLettered | None
    problem: str | None = None

    def original_data(self) -> bytes:
        """The parked message's body, as it was delivered to the consumer."""
        return _original_data(self)


@dataclass(frozen=True, slots=True)
class ReplayResult:
    dead_letter_seq: int
    subject: str
    msg_id: str
    stream: str
    stream_seq: int
    duplicate: bool
    """True when an earlier replay of this dead letter had stored it already."""


def replay_msg_id(dead_letter: DeadLettered, dead_letter_seq: int) -> str:
    """The `Nats-Msg-Id` a replay of this dead letter is published with."""
    original = (
        dead_letter.original_id
        or dead_letter.headers.get(MSG_ID)
        or f"{dead_letter.stream_name}:{dead_letter.stream_sequence}"
    )
    return f"{original}-replay-{dead_letter_seq}"


async def list_dead_letters(
    js: JetStreamContext, topology: Topology, *, limit: int, after_seq: int | None = None
) -> list[DeadLetterRecord]:
    """Up to `limit` dead letters with a sequence above `after_seq`, oldest first.

    Page on with `after_seq` = the last record's `seq`. One request per record,
    so `limit` is capped at `MAX_PAGE`.
    """
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}, not {limit}")
    if after_seq is not None and after_seq < 0:
        raise ValueError(f"after_seq must not be negative, not {after_seq}")
    stream = topology.stream(StreamRole.DEADLETTER)
    subjects = topology.stream_subjects(StreamRole.DEADLETTER)
    records: list[DeadLetterRecord] = []
    seq = (after_seq or 0) + 1
    while len(records) < limit:
        try:
            with _translated(stream):
                # next_by_subj: the first message at or after `seq`, skipping deleted ones.
                raw = await js.get_msg(stream, seq=seq, subject=subjects, next=True)
        except _NoMessage:
            break
        record = _record(raw)
        records.append(record)
        seq = record.seq + 1
    return records


async def count_dead_letters(js: JetStreamContext, topology: Topology) -> int:
    """How many dead letters are parked now."""
    stream = topology.stream(StreamRole.DEADLETTER)
    with _translated(stream):
        info = await js.stream_info(stream)
    return int(info.state.messages)


async def get_dead_letter(js: JetStreamContext, topology: Topology, seq: int) -> DeadLetterRecord:
    """The dead letter at stream sequence `seq`; `DeadLetterNotFound` if none."""
    stream = topology.stream(StreamRole.DEADLETTER)
    if seq < 1:
        raise DeadLetterNotFound(seq)
    try:
        with _translated(stream):
            raw = await js.get_msg(stream, seq=seq)
    except _NoMessage:
        raise DeadLetterNotFound(seq) from None
    return _record(raw)


async def replay(js: JetStreamContext, topology: Topology, seq: int) -> ReplayResult:
    """Re-publish dead letter `seq` where it came from, then delete it (module docstring)."""
    record = await get_dead_letter(js, topology, seq)
    dead_letter = record.dead_letter
    if dead_letter is None:
        raise NotADeadLetter(seq, record.problem or "unreadable")
    data = _original_data(record)
    msg_id = replay_msg_id(dead_letter, seq)
    headers = {
        key: value
        for key, value in dead_letter.headers.items()
        if key != MSG_ID and not key.startswith(_EXPECTED_PREFIX)
    }
    headers[MSG_ID] = msg_id
    try:
        ack = await js.publish(dead_letter.subject, data, timeout=_TIMEOUT_S, headers=headers)
    except NoStreamResponseError as exc:
        raise DeadLetterError(
            f"dead letter {seq}: no stream stores {dead_letter.subject} any more"
        ) from exc
    except (nats.errors.Error, APIError) as exc:
        raise BackboneError(
            f"dead letter {seq}: replay to {dead_letter.subject} failed: {exc}"
        ) from exc
    await _delete(js, topology.stream(StreamRole.DEADLETTER), seq, missing_ok=True)
    return ReplayResult(
        dead_letter_seq=seq,
        subject=dead_letter.subject,
        msg_id=msg_id,
        stream=ack.stream,
        stream_seq=ack.seq,
        duplicate=bool(ack.duplicate),
    )


async def purge(js: JetStreamContext, topology: Topology, seq: int | None) -> int:
    """Delete dead letter `seq`, or with None every dead letter parked so far.

    Returns how many were deleted. Purging all removes what the stream holds
    up to its last sequence now; a message parked meanwhile stays.
    """
    stream = topology.stream(StreamRole.DEADLETTER)
    if seq is not None:
        if seq < 1:
            raise DeadLetterNotFound(seq)
        await _delete(js, stream, seq, missing_ok=False)
        return 1
    with _translated(stream):
        info = await js.stream_info(stream)
        if not info.state.messages:
            return 0
        await js.purge_stream(stream, seq=info.state.last_seq + 1)
    return int(info.state.messages)


# -- internals -------------------------------------------------------------------------


class _NoMessage(Exception):
    """The stream exists but holds no message where we asked."""


@contextlib.contextmanager
def _translated(stream: str, missing: frozenset[int] = _MISSING) -> Iterator[None]:
    """nats errors -> this module's errors, chained (one boundary, like httpx's transports).

    The server's error codes in `missing` mean "no message there" and become `_NoMessage`.
    """
    try:
        yield
    except APIError as exc:
        if exc.err_code == _STREAM_NOT_FOUND:
            raise DeadLetterStreamMissing(stream) from exc
        if exc.err_code in missing:
            raise _NoMessage from exc
        raise BackboneError(f"{stream}: {exc.description or exc}") from exc
    except nats.errors.Error as exc:
        raise BackboneError(f"{stream}: {exc!r}") from exc


async def _delete(js: JetStreamContext, stream: str, seq: int, *, missing_ok: bool) -> None:
    try:
        # A sequence past the last one is answered with "stream store EOF".
        with _translated(stream, _MISSING | {_STORE_EOF}):
            await js.delete_msg(stream, seq)
    except _NoMessage:
        if not missing_ok:
            raise DeadLetterNotFound(seq) from None


def _record(raw: api.RawStreamMsg) -> DeadLetterRecord:
    seq = int(raw.seq or 0)
    subject = raw.subject or ""
    try:
        event = decode(raw.data or b"")
    except ContractError as exc:
        return DeadLetterRecord(seq, subject, raw.time, None, None, problem=str(exc))
    payload = event.payload
    if not isinstance(payload, DeadLettered):
        problem = f"a {event.envelope.type} event, not {DeadLettered.event_type}"
        return DeadLetterRecord(seq, subject, raw.time, event.envelope.id, None, problem=problem)
    return DeadLetterRecord(seq, subject, raw.time, event.envelope.id, payload)


def _original_data(record: DeadLetterRecord) -> bytes:
    if record.dead_letter is None:
        raise NotADeadLetter(record.seq, record.problem or "unreadable")
    try:
        return base64.b64decode(record.dead_letter.data_b64, validate=True)
    except binascii.Error as exc:
        raise NotADeadLetter(record.seq, f"data_b64 is not base64: {exc}") from exc
