"""Typing: a bot shows "typing..." for a while before its message goes out.

How long comes from the text's length and the bot's own speed (`compose`),
jittered, and only when both the chat and the approved message want typing.
The action is repeated every `dispatcher_typing_repeat_s` (it shows about 5 s)
until the message is posted, within the chat's budget of actions per minute
(Telegram does not say whether typing counts against its limits) and never
while the bot is paused by a 429. Everything here runs from the scheduled
send's timers, never from a held message.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Coroutine
from typing import Any

from piyasa_common.clock import Clock
from piyasa_common.secrets import SecretUnavailable
from piyasa_contracts.events.work import Approved
from piyasa_dispatcher import compose, metrics, tracing
from piyasa_dispatcher.failures import Action, classify
from piyasa_dispatcher.jobs import Job, Phase
from piyasa_dispatcher.limits import Limiter, TypingBudget
from piyasa_dispatcher.settings import DispatcherSettings
from piyasa_dispatcher.state import Fleet
from piyasa_dispatcher.telegram import BotApi, TelegramError
from piyasa_dispatcher.tokens import TokenBook


class Typist:
    def __init__(
        self,
        *,
        settings: DispatcherSettings,
        api: BotApi,
        tokens: TokenBook,
        fleet: Fleet,
        limiter: Limiter,
        clock: Clock,
        rng: random.Random,
        holds: Callable[[Job], bool],
        spawn: Callable[[Coroutine[Any, Any, Any]], asyncio.Task[Any]],
    ) -> None:
        self._settings = settings
        self._api = api
        self._tokens = tokens
        self._fleet = fleet
        self._limiter = limiter
        self._clock = clock
        self._rng = rng
        self._holds = holds
        self._spawn = spawn
        self._budget = TypingBudget()

    def seconds(self, job: Job) -> float:
        """How long the bot types this message (0: no typing for it)."""
        approved = job.payload
        chat = self._fleet.chat(job.chat_id)
        if not isinstance(approved, Approved) or not approved.typing or chat is None:
            return 0.0
        if not chat.typing:
            return 0.0
        fleet = self._fleet.settings
        return compose.typing_seconds(
            approved.text,
            bot_id=approved.bot_id,
            chars_per_second=fleet.typing_chars_per_second,
            max_s=fleet.typing_max_s,
            jitter=self._settings.dispatcher_typing_jitter,
            rng=self._rng,
        )

    def tick(self, job: Job) -> None:
        """A typing action now (budget permitting), and the next one a repeat later."""
        if not self._holds(job) or job.phase not in (Phase.TYPING, Phase.READY):
            return
        if job.payload.deadline.timestamp() <= self._clock.now().timestamp():
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        telegram_chat_id = self._fleet.telegram_chat_id(job.chat_id)
        if telegram_chat_id is not None and self._limiter.paused_until(job.bot_id) <= now:
            per_minute = self._fleet.settings.typing_actions_per_minute
            if self._budget.take(telegram_chat_id, now, per_minute):
                self._spawn(self._action(job, telegram_chat_id))
            else:
                metrics.TYPING.labels("skipped").inc()
        repeat = self._settings.dispatcher_typing_repeat_s
        job.timers.append(loop.call_at(now + repeat, self.tick, job))

    async def _action(self, job: Job, telegram_chat_id: int) -> None:
        try:
            with tracing.job_span("dispatch typing", job):
                token = await self._tokens.token(job.bot_id)
                await self._api.send_chat_action(token, telegram_chat_id, "typing")
        except (TelegramError, SecretUnavailable) as exc:
            metrics.TYPING.labels("failed").inc()
            failure = classify(exc) if isinstance(exc, TelegramError) else None
            if failure is not None and failure.action is Action.RETRY_AFTER:
                now = asyncio.get_running_loop().time()
                self._limiter.pause(job.bot_id, now + (failure.retry_after or 1))
            return
        metrics.TYPING.labels("sent").inc()
