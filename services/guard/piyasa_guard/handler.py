"""The drafts handler: one decision per draft, emitted with ids derived from the draft.

    expired turn          -> TurnExpired (stage guard)
    approved              -> Approved (routed by bot); recorded as in flight first
    rejected, attempts left -> Rejected(will_retry) + RegenerationRequested(attempt + 1)
    rejected, none left   -> Rejected + TurnDropped (stage guard)

Every emitted id is derived from the draft's id, and a decision is remembered
per draft (also from other replicas' decisions in WORK), so a redelivered
draft re-emits the same events, which JetStream's dedup drops: one decision.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from opentelemetry import trace

from piyasa_common.clock import Clock
from piyasa_common.consumer import Delivery
from piyasa_common.errors import Poison
from piyasa_common.publisher import Publisher
from piyasa_contracts import Envelope, EventKeys, make_event
from piyasa_contracts.envelope import Payload
from piyasa_contracts.events._common import Member
from piyasa_contracts.events.conversation import TurnDropped, TurnExpired, TurnStage
from piyasa_contracts.events.work import (
    Approved,
    Drafted,
    MentionEntity,
    RegenerationRequested,
    Rejected,
    RejectionReason,
)
from piyasa_contracts.registry import Event
from piyasa_domain import StanceClassifier
from piyasa_guard import metrics
from piyasa_guard.core import check
from piyasa_guard.judge import StanceJudge
from piyasa_guard.model import CheckContext, DraftView, HoldingFact, StanceFact
from piyasa_guard.state import GuardState, Remembered

log = logging.getLogger(__name__)


class DraftHandler:
    def __init__(
        self,
        *,
        state: GuardState,
        publisher: Publisher,
        clock: Clock,
        classifier: StanceClassifier,
        judge: StanceJudge | None = None,
    ) -> None:
        self._state = state
        self._publisher = publisher
        self._clock = clock
        self._classifier = classifier
        self._judge = judge

    async def __call__(self, event: Event, delivery: Delivery) -> None:
        draft, keys = _validated(event)
        remembered = self._state.decided(event.envelope.id)
        if remembered is None:
            remembered = await self.decide(event.envelope, draft, keys)
            metrics.DECISIONS.labels(remembered.outcome).inc()
            for reason in remembered.reasons:
                metrics.REJECTIONS.labels(reason.code.value).inc()
            log.info(
                "draft %s",
                remembered.outcome,
                extra={
                    "attempt": draft.attempt,
                    "reasons": [r.code.value for r in remembered.reasons],
                },
            )
        span = trace.get_current_span()
        span.set_attribute("piyasa.guard.decision", remembered.outcome)
        span.set_attribute("piyasa.guard.attempt", draft.attempt)
        if remembered.reasons:
            span.set_attribute("piyasa.guard.reasons", [r.code.value for r in remembered.reasons])
        await self._publisher.publish_all(self.events(event.envelope, draft, keys, remembered))

    async def decide(self, envelope: Envelope, draft: Drafted, keys: EventKeys) -> Remembered:
        """Decide, record an approval as in flight, and remember the decision."""
        now = self._clock.now()
        state = self._state
        if draft.deadline <= now:
            decided = Remembered.of("expired", draft.text)
            state.remember(envelope.id, decided)
            return decided
        request = draft.request
        chat_id = str(keys.chat_id)
        stances = state.stances(request.bot_id)
        if stances is None:
            stances = tuple(
                StanceFact(s.topic, s.position.value, s.strength, s.cooldown_until)
                for s in request.stances
            )
        holdings = state.holdings(request.bot_id)
        if holdings is None:
            holdings = tuple(HoldingFact(h.symbol, h.quantity) for h in request.holdings)
        view = DraftView(
            text=draft.text,
            bot_id=request.bot_id,
            chat_id=chat_id,
            turn_id=draft.turn_id,
            language=request.language,
            bot_name=request.bot_name,
            topic=request.topic,
            max_chars=request.style.max_chars,
            usernames=frozenset(m.username.lower() for m in request.mentionable if m.username),
            persona_text=request.persona.background,
        )
        readings = None
        if self._judge is not None and stances:
            readings = await self._judge.readings(
                draft.text, topics=[s.topic for s in stances], default_topic=request.topic
            )
        ctx = CheckContext(
            now=now,
            classifier=self._classifier,
            stances=stances,
            holdings=holdings,
            policy=state.policy(chat_id),
            duplicates=state.index,
            readings=readings,
        )
        started = self._clock.monotonic()
        decision = check(view, ctx)
        metrics.CHECK_SECONDS.observe(self._clock.monotonic() - started)
        if decision.approved:
            # Recorded before publishing: a draft in flight in this chat sees it at once.
            if decision.fingerprint is not None:
                state.index.add(
                    draft.turn_id,
                    decision.fingerprint,
                    chat_id=chat_id,
                    bot_id=request.bot_id,
                    at=now,
                    sent=False,
                )
                metrics.DEDUP_ENTRIES.set(len(state.index))
            decided = Remembered.of("approved", decision.text)
        else:
            retry = draft.attempt < state.max_attempts()
            outcome = "rejected" if retry else "dropped"
            decided = Remembered.of(outcome, decision.text, decision.reasons)
        state.remember(envelope.id, decided)
        return decided

    def events(
        self, cause: Envelope, draft: Drafted, keys: EventKeys, decided: Remembered
    ) -> list[Envelope]:
        now = self._clock.now()
        base = {"turn_id": draft.turn_id, "deadline": draft.deadline}
        payloads: list[Payload]
        if decided.outcome == "expired":
            payloads = [
                TurnExpired(
                    turn_id=draft.turn_id,
                    stage=TurnStage.GUARD,
                    reason="the turn's deadline passed before the guard decided",
                )
            ]
        elif decided.outcome == "approved":
            request = draft.request
            payloads = [
                Approved(
                    **base,
                    bot_id=request.bot_id,
                    text=decided.text,
                    reply_to=request.reply_target,
                    mentions=mentions_in(decided.text, request.mentionable),
                )
            ]
        else:
            will_retry = decided.outcome == "rejected"
            reasons = [
                RejectionReason(code=r.code.value, detail=r.detail[:500]) for r in decided.reasons
            ][:20] or [RejectionReason(code="empty", detail="no reason recorded")]
            payloads = [
                Rejected(**base, attempt=draft.attempt, reasons=reasons, will_retry=will_retry)
            ]
            if will_retry:
                payloads.append(
                    RegenerationRequested(
                        **base,
                        attempt=draft.attempt + 1,
                        request=draft.request,
                        rejected_text=draft.text,
                        feedback=[r.feedback()[:500] for r in decided.reasons][:20],
                    )
                )
            else:
                codes = ", ".join(dict.fromkeys(r.code for r in reasons))
                payloads.append(
                    TurnDropped(
                        turn_id=draft.turn_id,
                        stage=TurnStage.GUARD,
                        reason=f"rejected at attempt {draft.attempt}: {codes}"[:200],
                    )
                )
        return [make_event(p, occurred_at=now, keys=keys, cause=cause) for p in payloads]


def _validated(event: Event) -> tuple[Drafted, EventKeys]:
    """The draft and the keys its decision is routed by; Poison when it cannot be."""
    draft = event.payload
    if not isinstance(draft, Drafted):
        raise Poison(f"the guard consumes drafts, not {event.envelope.type}")
    keys = event.envelope.keys
    if not keys.chat_id:
        raise Poison("draft without a chat_id key: its decision cannot be routed")
    if keys.turn_id and keys.turn_id != draft.turn_id:
        raise Poison(f"draft key turn {keys.turn_id} differs from payload turn {draft.turn_id}")
    if keys.bot_id and keys.bot_id != draft.request.bot_id:
        raise Poison("draft key bot differs from its request's bot")
    return draft, EventKeys(
        bot_id=draft.request.bot_id, chat_id=keys.chat_id, turn_id=draft.turn_id
    )


def mentions_in(text: str, members: Sequence[Member]) -> list[MentionEntity]:
    """`@username` of the chat's members in `text`, as Telegram counts offsets (UTF-16)."""
    entities: list[MentionEntity] = []
    for member in members:
        if not member.username:
            continue
        member_id = member.member_id
        needle = f"@{member.username}"
        start = text.lower().find(needle.lower())
        while start != -1 and len(entities) < 50:
            offset = _utf16_len(text[:start])
            entities.append(
                MentionEntity(member_id=member_id, offset=offset, length=_utf16_len(needle))
            )
            start = text.lower().find(needle.lower(), start + len(needle))
    entities.sort(key=lambda e: e.offset)
    return entities


def _utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


__all__ = ["DraftHandler", "mentions_in"]
