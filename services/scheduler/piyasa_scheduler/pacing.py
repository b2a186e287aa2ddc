"""A chat's pace: due slots at a human, jittered rhythm whose long-run mean is the target.

Due times form a renewal process in "expected messages": each gap is a
gamma-distributed number of units with mean 1 (shape `gap_shape`: 1 is
memoryless, larger is more regular, never evenly spaced), mapped to real time
through the chat's rate curve (`activity.advance`). Due times follow each
other, not the messages: a slot that waits for a turn in flight to close is
used late, not lost, so the mean holds.

A due time adds a slot; a scheduled turn uses one. A reply to a human is
not scheduled, but it counts: it uses a waiting slot, or it is owed and the
next due time pays it back (at most `max_reply_debt`), so humans move
messages earlier rather than adding to them. A turn that ends without a
message (failed, dropped, expired) gives its slot back: the target counts
messages, not attempts. A slot that finds no speaker
for `slot_grace_s` is skipped, and at most `max_slots` wait, so an outage
never ends in a burst.
"""

from __future__ import annotations

import random
from bisect import insort
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from piyasa_scheduler.activity import ChatRhythm, advance
from piyasa_scheduler.policy import SchedulerPolicy

_RECHECK = timedelta(hours=1)
"""How soon a chat that is asleep for the whole horizon is looked at again."""
_AWAKE_PROBE = 1e-6
"""A sliver of expected messages: it accrues at once only while the chat is awake."""
_AWAKE_NOW = timedelta(seconds=1)


def sample_units(rng: random.Random, shape: float) -> float:
    """A unit-mean gamma gap: mean 1, coefficient of variation 1/sqrt(shape)."""
    return rng.gammavariate(shape, 1.0 / shape)


@dataclass
class Pacer:
    rhythm: ChatRhythm | None = None
    next_due: datetime | None = None
    recheck_at: datetime | None = None
    slots: deque[datetime] = field(default_factory=deque)
    debt: int = 0
    skipped: int = 0
    """Slots dropped: waited past their grace, or beyond `max_slots`."""

    def reset(self) -> None:
        """Forget the plan (a partition moved here, or the chat's rhythm changed)."""
        self.rhythm = None
        self.next_due = None
        self.recheck_at = None
        self.slots.clear()
        self.debt = 0

    def advance_to(
        self,
        rhythm: ChatRhythm,
        now: datetime,
        rng: random.Random,
        policy: SchedulerPolicy,
        *,
        quiet: bool = False,
    ) -> None:
        """Turn every due time up to `now` into a slot (or a repaid debt).

        `quiet`: the chat has no line in its recent window; a plan starting now opens
        it within `opening_delay_s` if it is awake, or sooner if its gap says so (one
        early message; the mean holds).
        """
        if rhythm != self.rhythm:
            # A new rhythm (target, curve, bots' hours) starts a new plan from now.
            self.rhythm, self.next_due, self.recheck_at = rhythm, None, None
        if self.next_due is None:
            if self.recheck_at is not None and now < self.recheck_at:
                return
            self.next_due = self._first_due(rhythm, now, rng, policy, quiet=quiet)
            if self.next_due is None:
                self.recheck_at = now + _RECHECK
                return
        while self.next_due is not None and self.next_due <= now:
            due = self.next_due
            if self.debt > 0:
                self.debt -= 1
            else:
                self.slots.append(due)
                while len(self.slots) > policy.max_slots:
                    self.slots.popleft()
                    self.skipped += 1
            self.next_due = advance(rhythm, due, sample_units(rng, policy.gap_shape))
            if self.next_due is None:
                self.recheck_at = now + _RECHECK
        grace = timedelta(seconds=policy.slot_grace_s)
        while self.slots and now - self.slots[0] > grace:
            self.slots.popleft()
            self.skipped += 1

    @staticmethod
    def _first_due(
        rhythm: ChatRhythm,
        now: datetime,
        rng: random.Random,
        policy: SchedulerPolicy,
        *,
        quiet: bool,
    ) -> datetime | None:
        due = advance(rhythm, now, sample_units(rng, policy.gap_shape))
        if quiet and policy.opening_delay_s > 0:
            awake = advance(rhythm, now, _AWAKE_PROBE)
            if awake is not None and awake - now < _AWAKE_NOW:
                opening = now + timedelta(seconds=policy.opening_delay_s * rng.uniform(0.5, 1.5))
                return opening if due is None else min(due, opening)  # never later than a gap
        return due

    def has_slot(self) -> bool:
        return bool(self.slots)

    def use_slot(self) -> None:
        self.slots.popleft()

    def refund(self, at: datetime, policy: SchedulerPolicy) -> None:
        """Give back the slot of a turn that ended without a message (failed, dropped,
        expired): it waits from `at` like any due slot."""
        if self.rhythm is None:
            return  # not planning this chat (not ours, or halted)
        insort(self.slots, at)
        while len(self.slots) > policy.max_slots:
            self.slots.popleft()
            self.skipped += 1

    def count_reply(self, policy: SchedulerPolicy) -> None:
        """A reply outside the schedule takes a waiting slot, or is owed by the next."""
        if self.slots:
            self.slots.popleft()
        else:
            self.debt = min(self.debt + 1, policy.max_reply_debt)

    def wake_at(self, policy: SchedulerPolicy) -> datetime | None:
        """The next instant this pacer changes on its own."""
        times = [t for t in (self.next_due, self.recheck_at) if t is not None]
        if self.slots:
            times.append(self.slots[0] + timedelta(seconds=policy.slot_grace_s))
        return min(times) if times else None


__all__ = ["Pacer", "sample_units"]
