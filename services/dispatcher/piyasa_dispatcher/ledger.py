"""The turn ledger: one KV key per turn in the `sends` bucket, written with compare-and-set.

    scheduled --(right before sendMessage)--> intent --(Telegram's answer)--> sent
        ^                                       |
        +-------- retry (429, 5xx, migrate) ----+--> failed (the error table's other actions)

- An approved message is acked once its `scheduled` record exists (with the
  approved event and its slot time), so a crash never loses it and the
  partition's next owner picks it up from here.
- `intent` is written right before `sendMessage` and `sent` (Telegram's message
  id, and the `message.sent` event) right after, then the event is published:
  a turn at `intent` or later is never posted again. One found at `intent`
  after a crash is the ambiguous window: counted, not retried. One found at
  `sent` has its event republished unless the log shows it already.
  (Reactions end at `done`.)
- Every write expects the revision it read (`Nats-Expected-Last-Subject-Sequence`),
  so two replicas that both believe they own a partition cannot both post.
- Records expire (per-message TTL) a while after the turn's deadline: by then
  a redelivery of the approved message is dropped as expired anyway.

Keys are `p<partition>.<turn id>` so that a new owner lists its partition's
records with one read. Writes publish to the bucket's subject directly:
`kv.update` has no TTL (NATS.md), and it would make the records permanent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from nats.js import JetStreamContext, api
from nats.js.errors import APIError, KeyNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from piyasa_common.acks import acks_for
from piyasa_common.errors import PiyasaError
from piyasa_common.kvread import kv_entries
from piyasa_contracts import Bucket, Topology

_WRONG_LAST_SEQUENCE = (10071, 10164)
_ACK_TIMEOUT_S = 5.0


class State(StrEnum):
    SCHEDULED = "scheduled"
    INTENT = "intent"
    SENT = "sent"
    DONE = "done"
    FAILED = "failed"

    @property
    def final(self) -> bool:
        """Nothing will ever be posted for a turn in this state again."""
        return self is not State.SCHEDULED


@dataclass(frozen=True, slots=True)
class Record:
    state: State
    seq: int
    """WORK stream sequence of the approved message: a chat's turn order."""
    slot_at: float
    """Wall-clock time (epoch seconds) the post is due: typing done, or a retry's time."""
    kind: str = "message"
    """`message` (sendMessage) or `reaction` (setMessageReaction)."""
    attempts: int = 0
    """Failures so far; numbers the `dispatch.failed` events, so replays reuse their ids."""
    approved: str | None = field(default=None, repr=False)
    """The approved event's envelope (JSON), to post from after a crash."""
    telegram_chat_id: int | None = None
    message_id: int | None = None
    sent: str | None = field(default=None, repr=False)
    """The `message.sent` event (JSON), republished by a new owner that has not seen it."""
    at: float = 0.0
    """Wall-clock time of this change."""
    traceparent: str | None = None
    """The approved message's trace: a new owner posts in the same trace."""

    def encode(self) -> bytes:
        # Written by hand: three records per message, and json.dumps of even this small
        # dict costs more than the rest of a write's Python. Numbers are ints and finite
        # floats (repr is valid JSON); the envelopes are JSON already, spliced in as is.
        parts = [f'{{"s":"{self.state.value}","q":{int(self.seq)},"t":{float(self.slot_at)!r}']
        if self.kind != "message":
            parts.append(f',"k":{_json(self.kind)}')
        if self.attempts:
            parts.append(f',"n":{int(self.attempts)}')
        if self.telegram_chat_id is not None:
            parts.append(f',"c":{int(self.telegram_chat_id)}')
        if self.message_id is not None:
            parts.append(f',"m":{int(self.message_id)}')
        parts.append(f',"at":{float(self.at)!r}')
        if self.traceparent is not None:
            parts.append(f',"tp":{_json(self.traceparent)}')
        if self.approved is not None:
            parts.append(f',"a":{self.approved}')
        if self.sent is not None:
            parts.append(f',"e":{self.sent}')
        parts.append("}")
        return "".join(parts).encode()

    @classmethod
    def decode(cls, raw: bytes) -> Record:
        data = json.loads(raw)
        approved, sent = data.get("a"), data.get("e")
        return cls(
            state=State(data["s"]),
            seq=int(data["q"]),
            slot_at=float(data["t"]),
            kind=str(data.get("k", "message")),
            attempts=int(data.get("n", 0)),
            approved=_json(approved) if approved is not None else None,
            telegram_chat_id=data.get("c"),
            message_id=data.get("m"),
            sent=_json(sent) if sent is not None else None,
            at=float(data.get("at", 0.0)),
            traceparent=data.get("tp"),
        )

    def moved(self, state: State, at: float, **changes: Any) -> Record:
        return replace(self, state=state, at=at, **changes)


@dataclass(frozen=True, slots=True)
class Stored:
    record: Record
    revision: int


class LedgerConflict(PiyasaError):
    """The record changed since it was read: another writer (replica) got there first."""

    def __init__(self, key: str, expected: int) -> None:
        self.key = key
        self.expected = expected
        super().__init__(f"ledger record {key} is no longer at revision {expected}")


def ledger_key(partition: int, turn_id: str) -> str:
    return f"p{partition:03d}.{turn_id}"


class SendLedger:
    def __init__(self, js: JetStreamContext, topology: Topology) -> None:
        self._js = js
        self._acks = acks_for(js)
        self._bucket = topology.bucket(Bucket.SENDS)
        self._stream = f"KV_{self._bucket}"
        self._kv: KeyValue | None = None

    async def _store(self) -> KeyValue:
        if self._kv is None:
            self._kv = await self._js.key_value(self._bucket)
        return self._kv

    async def create(self, key: str, record: Record, ttl_s: int) -> tuple[Stored, bool]:
        """Store a new record; when the key exists, the record found (and False)."""
        try:
            return Stored(record, await self._write(key, record, 0, ttl_s)), True
        except LedgerConflict:
            pass
        found = await self.get(key)
        if found is not None:
            return found, False
        # A delete or expiry marker is the key's last entry: replace it.
        try:
            last = await self._js.get_last_msg(self._stream, f"$KV.{self._bucket}.{key}")
        except NotFoundError:
            last = None
        expected = int(last.seq or 0) if last is not None else 0
        return Stored(record, await self._write(key, record, expected, ttl_s)), True

    async def update(self, key: str, record: Record, last: int, ttl_s: int) -> Stored:
        """Replace the record at revision `last`; raises LedgerConflict if it moved on."""
        return Stored(record, await self._write(key, record, last, ttl_s))

    async def _write(self, key: str, record: Record, expected: int, ttl_s: int) -> int:
        """One compare-and-set write, awaited for the stream's answer."""
        try:
            ack = await self._acks.publish(
                f"$KV.{self._bucket}.{key}",
                record.encode(),
                timeout=_ACK_TIMEOUT_S,
                headers={
                    "Nats-Expected-Last-Subject-Sequence": str(expected),
                    api.Header.MSG_TTL: str(max(1, ttl_s)),
                },
            )
        except APIError as exc:
            if exc.err_code in _WRONG_LAST_SEQUENCE:
                raise LedgerConflict(key, expected) from None
            raise
        return int(ack.seq)

    async def get(self, key: str) -> Stored | None:
        kv = await self._store()
        try:
            entry = await kv.get(key)
        except KeyNotFoundError:
            return None
        if not entry.value or entry.revision is None:
            return None
        return Stored(Record.decode(entry.value), entry.revision)

    async def load(self, partition: int) -> dict[str, Stored]:
        """Every live record of a partition, by key (read exactly: `kvread`)."""
        entries = await kv_entries(self._js, self._bucket, f"p{partition:03d}.>")
        return {
            key: Stored(Record.decode(entry.value), entry.revision)
            for key, entry in entries.items()
            if entry.value
        }


_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
"""One encoder, built once: `json.dumps` with options builds one per call."""
