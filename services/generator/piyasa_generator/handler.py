"""The consume handler: a (re)generation request in, a draft (or a closed turn) out.

    deadline passed                 -> turn.expired, ack (an expired turn is not generated)
    router: MustWait(d)             -> nak with d (jittered); past the deadline: turn.dropped
    router: GenerationFailed        -> retryable and rounds left: nak with backoff;
                                       else turn.dropped with the reasons, ack
    router: Generated               -> draft.created, ack (turn.expired if it ran out meanwhile)

The fleet's settings (`fleet.FleetKnobs`) decide the history the prompt
includes and cap the length asked for; the draft carries the request as
generated, with that cap.

Every emitted event's id is derived from the request's envelope and the
regeneration attempt, so a redelivery re-emits the same ids and JetStream drops
the copies.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from piyasa_common.clock import Clock
from piyasa_common.consumer import Delivery
from piyasa_common.errors import Retry
from piyasa_common.publisher import Publisher
from piyasa_contracts import Envelope, make_event
from piyasa_contracts.events.conversation import TurnDropped, TurnExpired, TurnStage
from piyasa_contracts.events.work import (
    Drafted,
    GenerationRequested,
    RegenerationRequested,
    TokenUsage,
    WorkPayload,
)
from piyasa_contracts.registry import Event
from piyasa_generator import metrics
from piyasa_generator.cleaning import clean
from piyasa_generator.errors import GenerationFailed, MustWait
from piyasa_generator.fleet import FleetKnobs
from piyasa_generator.prompt import build_prompt
from piyasa_generator.providers.base import Job
from piyasa_generator.providers.offline import seed_for
from piyasa_generator.rates import backoff, jittered
from piyasa_generator.router import Generated, Router
from piyasa_generator.settings import GeneratorSettings

log = logging.getLogger(__name__)

ACTOR = "generator"


def capped(request: GenerationRequested, max_chars: int | None) -> GenerationRequested:
    """The request with its style's length capped at `max_chars` (the fleet's
    `max_message_chars`): the prompt asks for it, the tokens and the cleaning follow it,
    and the draft carries it to the guard."""
    if max_chars is None or request.style.max_chars <= max_chars:
        return request
    style = request.style.model_copy(update={"max_chars": max_chars})
    return request.model_copy(update={"style": style})


def make_job(
    request: GenerationRequested,
    regeneration: RegenerationRequested | None,
    *,
    history_lines: int,
    temperature: float,
    max_chars: int | None = None,
) -> Job:
    request = capped(request, max_chars)
    attempt = regeneration.attempt if regeneration is not None else 0
    prompt = build_prompt(request, regeneration, history_lines=history_lines)
    metrics.PROMPT_TOKENS_ESTIMATED.labels("total").inc(prompt.estimated_tokens)
    metrics.PROMPT_TOKENS_ESTIMATED.labels("cacheable").inc(prompt.cacheable_tokens)
    return Job(
        request=request,
        prompt=prompt,
        regeneration=regeneration,
        seed=seed_for(request.turn_id, attempt),
        # A chat line's characters in tokens, with room for a model that rambles (cleaned later).
        max_tokens=min(512, max(48, request.style.max_chars // 2)),
        temperature=temperature,
    )


def clean_for(text: str, job: Job) -> str:
    request = job.request
    return clean(
        text,
        max_chars=request.style.max_chars,
        names=(request.bot_name, request.bot_id),
        allow_emoji=request.style.emoji,
        allow_markdown=request.style.markdown,
    )


class GenerationHandler:
    def __init__(
        self,
        *,
        router: Router,
        publisher: Publisher,
        clock: Clock,
        settings: GeneratorSettings,
        knobs: FleetKnobs | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._router = router
        self._publisher = publisher
        self._clock = clock
        self._settings = settings
        self._knobs = knobs or FleetKnobs(settings)
        self._rng = rng or random.Random()

    async def __call__(self, event: Event, delivery: Delivery) -> None:
        payload = event.payload
        if isinstance(payload, RegenerationRequested):
            request, regeneration = payload.request, payload
        elif isinstance(payload, GenerationRequested):
            request, regeneration = payload, None
        else:
            return  # not a request: the consumer's filters keep these away
        kind = "regenerate" if regeneration is not None else "generate"
        attempt = regeneration.attempt if regeneration is not None else 0
        envelope = event.envelope
        if self._clock.now() >= payload.deadline:
            await self._close(
                envelope, payload, attempt, kind, "expired", "deadline passed before generation"
            )
            return
        job = make_job(
            request,
            regeneration,
            history_lines=self._knobs.history_lines(),
            temperature=self._settings.llm_temperature,
            max_chars=self._knobs.max_message_chars(),
        )
        try:
            generated = await self._router.generate(job, delivery)
        except MustWait as wait:
            delay = jittered(wait.delay_s, self._rng.random())
            if self._clock.now() + timedelta(seconds=delay) >= payload.deadline:
                reason = f"no provider free before the deadline ({wait.reason})"
                await self._close(envelope, payload, attempt, kind, "dropped", reason)
                return
            raise Retry(delay, wait.reason) from None
        except GenerationFailed as failed:
            if failed.retryable and delivery.num_delivered < self._settings.max_failed_rounds:
                delay = backoff(
                    delivery.num_delivered,
                    self._settings.retry_base_s,
                    self._settings.retry_cap_s,
                    self._rng.random(),
                )
                if self._clock.now() + timedelta(seconds=delay) < payload.deadline:
                    raise Retry(delay, failed.reason) from None
            await self._close(envelope, payload, attempt, kind, "dropped", failed.reason)
            return
        if self._clock.now() >= payload.deadline:
            await self._close(
                envelope, payload, attempt, kind, "expired", "deadline passed during generation"
            )
            return
        await self._draft(envelope, payload, job.request, attempt, kind, generated)

    async def _draft(
        self,
        envelope: Envelope,
        payload: WorkPayload,
        request: GenerationRequested,
        attempt: int,
        kind: str,
        generated: Generated,
    ) -> None:
        drafted = Drafted(
            turn_id=payload.turn_id,
            deadline=payload.deadline,
            attempt=attempt,
            request=request,
            text=generated.text,
            provider=generated.provider,
            model=generated.model[:120],
            tokens=TokenUsage(
                prompt=generated.prompt_tokens,
                completion=generated.completion_tokens,
                cached_prompt=generated.cached_prompt_tokens,
            ),
            cost_usd=generated.cost_usd,
            latency_ms=round(generated.latency_s * 1000, 3),
        )
        await self._publisher.publish(
            make_event(
                drafted,
                occurred_at=self._clock.now(),
                keys=envelope.keys,
                cause=envelope,
                attempt=attempt,
                actor=ACTOR,
            )
        )
        metrics.TURNS.labels("drafted", kind).inc()

    async def _close(
        self,
        envelope: Envelope,
        payload: WorkPayload,
        attempt: int,
        kind: str,
        outcome: str,
        reason: str,
    ) -> None:
        """End the turn here: `turn.expired` or `turn.dropped`, with the reason kept."""
        cls = TurnExpired if outcome == "expired" else TurnDropped
        closed = cls(turn_id=payload.turn_id, stage=TurnStage.GENERATOR, reason=reason[:200])
        await self._publisher.publish(
            make_event(
                closed,
                occurred_at=self._clock.now(),
                keys=envelope.keys,
                cause=envelope,
                attempt=attempt,
                actor=ACTOR,
            )
        )
        metrics.TURNS.labels(outcome, kind).inc()
        log.warning("turn %s: %s", outcome, reason, extra={"reason": reason[:200]})
