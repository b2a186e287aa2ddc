"""The turn ledger of one chat (DESIGN 3a): which turns are in flight, until when.

A turn opens when its generation request is emitted (or, on another replica,
read back from WORK) and closes on its first outcome: sent, failed, dropped
or expired. Closed turn ids are remembered for a while, so a request read
after its outcome (two streams, two followers, no common order) does not
reopen its turn.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class TurnReason(StrEnum):
    """Why a turn was given; also the `reason` label of the requests metric."""

    SCHEDULED = "scheduled"
    HUMAN = "human"
    MENTION = "mention"


class Outcome(StrEnum):
    SENT = "sent"
    FAILED = "failed"
    DROPPED = "dropped"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Turn:
    turn_id: str
    chat_id: str
    bot_id: str
    reason: TurnReason
    requested_at: datetime
    deadline: datetime
    epoch: int | None = None
    reply_ref: str | None = None


class TurnLedger:
    def __init__(self, closed_memory: int = 512) -> None:
        self._open: dict[str, Turn] = {}
        self._closed: OrderedDict[str, Outcome] = OrderedDict()
        self._closed_memory = closed_memory

    @property
    def in_flight(self) -> int:
        return len(self._open)

    def turns(self) -> list[Turn]:
        return list(self._open.values())

    def get(self, turn_id: str) -> Turn | None:
        return self._open.get(turn_id)

    def is_known(self, turn_id: str) -> bool:
        return turn_id in self._open or turn_id in self._closed

    def open(self, turn: Turn) -> bool:
        """Record a turn in flight; False when it is already open or already closed."""
        if self.is_known(turn.turn_id):
            return False
        self._open[turn.turn_id] = turn
        return True

    def close(self, turn_id: str, outcome: Outcome) -> Turn | None:
        """Close a turn on its first outcome; returns it if it was open."""
        if turn_id in self._closed:
            return None
        self._closed[turn_id] = outcome
        while len(self._closed) > self._closed_memory:
            self._closed.popitem(last=False)
        return self._open.pop(turn_id, None)

    def overdue(self, now: datetime) -> list[Turn]:
        return [t for t in self._open.values() if t.deadline <= now]

    def latest(self) -> Turn | None:
        """The most recently requested turn still in flight."""
        return max(self._open.values(), key=lambda t: t.requested_at, default=None)

    def next_deadline(self) -> datetime | None:
        return min((t.deadline for t in self._open.values()), default=None)


__all__ = ["Outcome", "Turn", "TurnLedger", "TurnReason"]
