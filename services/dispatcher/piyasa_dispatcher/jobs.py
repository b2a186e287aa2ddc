"""A scheduled send in memory, and the chat lane that keeps a chat's turns in order."""

from __future__ import annotations

import asyncio
import bisect
from dataclasses import dataclass, field
from enum import Enum

from opentelemetry.context import Context

from piyasa_contracts import Envelope
from piyasa_contracts.events.work import Approved, ReactionApproved
from piyasa_dispatcher.ledger import Record


class Phase(Enum):
    PERSISTING = "persisting"
    """Being written to the ledger; it keeps its place in the lane meanwhile."""
    TYPING = "typing"
    READY = "ready"
    POSTING = "posting"


@dataclass(eq=False)
class Job:
    """One turn this replica will post: the approved event, its ledger record, its phase."""

    key: str
    partition: int
    envelope: Envelope
    payload: Approved | ReactionApproved
    chat_id: str
    seq: int
    epoch: int | None = None
    """The partition's lease epoch when the job was taken: stamped on what it emits."""
    record: Record | None = None
    revision: int = 0
    phase: Phase = Phase.PERSISTING
    ready_at: float = 0.0
    """Loop time at which typing ends."""
    not_before: float = 0.0
    """Loop time before which it must not be posted (a retry's backoff, a 429)."""
    reply_since: float | None = None
    """Loop time it started waiting for its reply target to be sent."""
    reply_id: int | None = None
    taken_at: float = 0.0
    """Loop time its rate-limit slot was taken."""
    typing: bool = False
    accepting: bool = False
    """Its approved message is being persisted right now."""
    trace: Context | None = None
    """Its approved message's trace context: what it does later (typing, posting) opens
    spans in that trace (`tracing.job_span`)."""
    timers: list[asyncio.TimerHandle] = field(default_factory=list)
    approved_json: str | None = field(default=None, repr=False)
    """The approved event as delivered (JSON), kept in the ledger as it came: encoding the
    envelope again would cost as much as the rest of scheduling it."""

    @property
    def bot_id(self) -> str:
        return self.payload.bot_id

    @property
    def turn_id(self) -> str:
        return self.payload.turn_id

    def cancel_timers(self) -> None:
        for timer in self.timers:
            timer.cancel()
        self.timers.clear()


@dataclass(eq=False)
class Lane:
    """A chat's jobs in turn order (the WORK stream sequence of their approval).

    One post at a time per chat: the head goes first, and a job behind it
    waits even when its own typing is done.
    """

    chat_id: str
    jobs: list[Job] = field(default_factory=list)
    posting: Job | None = None
    timer: asyncio.TimerHandle | None = None

    def add(self, job: Job) -> None:
        bisect.insort_right(self.jobs, job, key=_seq)

    def remove(self, job: Job) -> None:
        if job in self.jobs:
            self.jobs.remove(job)
        if self.posting is job:
            self.posting = None

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


def _seq(job: Job) -> int:
    return job.seq
