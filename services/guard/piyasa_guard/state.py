"""The guard's state, folded from the log: stances, holdings, settings, recent messages.

- CONFIG (last per subject): stances and holdings per bot; the fleet's settings
  (near-duplicate threshold and window, regenerations, longest message), then
  the guard's own overrides (`values["guard"]`). Until the fleet's settings are
  first written, the process settings (`PIYASA_GUARD_*`) stand for them.
- CONVERSATION (a window): sent messages enter the near-duplicate windows; a
  turn that failed, expired or was dropped leaves them if it was only approved.
- WORK (a window of approvals and decisions): approvals from every replica
  enter the windows as in flight, and each draft's decision is remembered, so
  a redelivered draft (here or on another replica) gets the same decision.

Every apply function is idempotent.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable
from typing import NamedTuple

from pydantic import ValidationError

from piyasa_contracts.events.config import HoldingChanged, SettingsChanged, StanceChanged
from piyasa_contracts.events.conversation import DispatchFailed, Sent, TurnDropped, TurnExpired
from piyasa_contracts.events.work import Approved, Rejected
from piyasa_contracts.fleet_settings import SETTINGS_ID, FleetSettings
from piyasa_contracts.registry import Event
from piyasa_guard.core import TELEGRAM_LIMIT, without_disclaimer
from piyasa_guard.dedup import NearDuplicateIndex
from piyasa_guard.model import HoldingFact, Policy, StanceFact
from piyasa_guard.reasons import Reason, ReasonCode
from piyasa_guard.settings import GuardOverrides, GuardSettings

log = logging.getLogger(__name__)


class Remembered(NamedTuple):
    """A decision already taken for a draft: enough to emit it again, identically.

    A tuple of strings on purpose: up to `guard_decision_memory` of these live for
    long, and the garbage collector stops tracking tuples of atomic values.
    """

    outcome: str
    """approved, rejected, dropped or expired."""
    text: str
    codes: tuple[tuple[str, str], ...] = ()
    """(reason code, detail) of a rejection."""

    @classmethod
    def of(cls, outcome: str, text: str, reasons: Iterable[Reason] = ()) -> Remembered:
        return cls(outcome, text, tuple((r.code.value, r.detail) for r in reasons))

    @property
    def reasons(self) -> tuple[Reason, ...]:
        return tuple(Reason(ReasonCode(code), detail) for code, detail in self.codes)


class GuardState:
    def __init__(self, settings: GuardSettings, index: NearDuplicateIndex) -> None:
        self.settings = settings
        self.index = index
        self.fleet: FleetSettings | None = None
        """The fleet's knobs; None until its settings are first written."""
        self.overrides = GuardOverrides()
        self._stances: dict[str, dict[str, StanceFact]] = {}
        self._holdings: dict[str, dict[str, HoldingFact]] = {}
        self._decided: OrderedDict[str, Remembered] = OrderedDict()

    # ---- what the checks read ------------------------------------------------
    def stances(self, bot_id: str) -> tuple[StanceFact, ...] | None:
        """The bot's stances, or None when the config holds none (use the request's)."""
        found = self._stances.get(bot_id)
        return tuple(found.values()) if found else None

    def holdings(self, bot_id: str) -> tuple[HoldingFact, ...] | None:
        found = self._holdings.get(bot_id)
        return tuple(found.values()) if found else None

    def max_attempts(self) -> int:
        """Regenerations per original request: a draft rejected at this attempt drops."""
        o = self.overrides.max_attempts
        if o is not None:
            return o
        return self.fleet.guard_max_retries if self.fleet else self.settings.guard_max_attempts

    def disclaimer(self, chat_id: str) -> str | None:
        o, s = self.overrides, self.settings
        return (
            o.disclaimers.get(chat_id)
            or s.guard_disclaimers.get(chat_id)
            or o.disclaimer
            or s.guard_disclaimer
        )

    def policy(self, chat_id: str) -> Policy:
        o, s = self.overrides, self.settings
        return Policy(
            stance_confidence=_pick(o.stance_confidence, s.guard_stance_confidence),
            firm_stance_strength=_pick(o.firm_stance_strength, s.guard_firm_stance_strength),
            holding_confidence=_pick(o.holding_confidence, s.guard_holding_confidence),
            disclaimer=self.disclaimer(chat_id),
            max_message_chars=self.fleet.max_message_chars if self.fleet else TELEGRAM_LIMIT,
        )

    # ---- decisions already taken ---------------------------------------------
    def decided(self, draft_id: str) -> Remembered | None:
        return self._decided.get(draft_id)

    def remember(self, draft_id: str, decision: Remembered) -> None:
        self._decided[draft_id] = decision
        self._decided.move_to_end(draft_id)
        while len(self._decided) > self.settings.guard_decision_memory:
            self._decided.popitem(last=False)

    # ---- folding ---------------------------------------------------------------
    def apply_config(self, event: Event, sequence: int) -> None:
        del sequence
        p = event.payload
        if isinstance(p, StanceChanged):
            stances = self._stances.setdefault(p.bot_id, {})
            if p.deleted:
                stances.pop(p.id, None)
            else:
                stances[p.id] = StanceFact(p.topic, p.position.value, p.strength, p.cooldown_until)
        elif isinstance(p, HoldingChanged):
            holdings = self._holdings.setdefault(p.bot_id, {})
            if p.deleted:
                holdings.pop(p.id, None)
            else:
                holdings[p.id] = HoldingFact(p.symbol, p.quantity)
        elif isinstance(p, SettingsChanged):
            self.apply_settings_changed(p, event.envelope.id)

    def apply_settings_changed(self, p: SettingsChanged, event_id: str) -> None:
        """The fleet's settings (only `SETTINGS_ID`; a delete changes nothing). An invalid
        event is ignored as a whole, never half-applied."""
        if p.id != SETTINGS_ID or p.deleted:
            return
        try:
            fleet: FleetSettings | None = FleetSettings.model_validate(p.values)
        except ValidationError:
            fleet = None
        overrides = GuardOverrides.parse(p.values)
        if fleet is None or overrides is None:
            log.warning("ignoring invalid guard settings", extra={"event_id": event_id})
            return
        self.fleet, self.overrides = fleet, overrides
        self.index.retune(
            threshold=fleet.dedup_threshold, chat_window_count=fleet.dedup_window_messages
        )

    def apply_conversation(self, event: Event, sequence: int) -> None:
        del sequence
        p = event.payload
        chat_id = event.envelope.keys.chat_id
        if isinstance(p, Sent) and chat_id:
            body = without_disclaimer(p.text, self.disclaimer(chat_id))
            self.index.add(
                p.turn_id,
                self.index.fingerprint(body),
                chat_id=chat_id,
                bot_id=p.bot_id,
                at=p.sent_at,
                sent=True,
            )
        elif isinstance(p, DispatchFailed | TurnExpired | TurnDropped):
            self.index.discard(p.turn_id)

    def apply_work(self, event: Event, sequence: int) -> None:
        del sequence
        env, p = event.envelope, event.payload
        if isinstance(p, Approved) and env.keys.chat_id:
            body = without_disclaimer(p.text, self.disclaimer(env.keys.chat_id))
            self.index.add(
                p.turn_id,
                self.index.fingerprint(body),
                chat_id=env.keys.chat_id,
                bot_id=p.bot_id,
                at=env.occurred_at,
                sent=False,
            )
            if env.causation_id:
                self.remember(env.causation_id, Remembered.of("approved", p.text))
        elif isinstance(p, Rejected) and env.causation_id:
            reasons = tuple(
                Reason(ReasonCode(r.code), r.detail)
                for r in p.reasons
                if r.code in ReasonCode._value2member_map_
            )
            outcome = "rejected" if p.will_retry else "dropped"
            if env.causation_id not in self._decided:
                self.remember(env.causation_id, Remembered.of(outcome, "", reasons))


def _pick(override: float | None, default: float) -> float:
    return override if override is not None else default


__all__ = ["GuardState", "Remembered"]
