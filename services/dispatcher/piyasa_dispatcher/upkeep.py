"""Keeping each bot this replica owns in shape on Telegram's side.

When a bot is registered, its token or its chats change, or this replica
takes over its partition, the bot is reconciled:

1. in a sandbox (`piyasa up`), the bot and the chats it looks after exist there;
2. its token is checked (getMe, and the listener checks) if this token was not yet;
3. updates flow for listener bots only: a long poller (embedded default) or a
   webhook (`setWebhook` with the bot's secret token, the production default);
   a bot that listens nowhere, was disabled, or moved away has neither here.

Bots are reconciled a batch at a time in one background task, so a burst of
config events (a start-up over 10,000 bots) costs one pass, not one task each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from piyasa_common.clock import Clock
from piyasa_common.secrets import SecretUnavailable
from piyasa_contracts.events.config import BotStatusChanged, ChatStatusChanged, TokenCheck
from piyasa_dispatcher.poller import Poller
from piyasa_dispatcher.sandbox_fleet import SandboxFleet, sandbox_username
from piyasa_dispatcher.state import Fleet
from piyasa_dispatcher.statuses import StatusWriter
from piyasa_dispatcher.telegram import BotApi, TelegramError
from piyasa_dispatcher.tokens import TokenBook, TokenChecks, telegram_user_id_of
from piyasa_dispatcher.webhook import webhook_secret, webhook_url

log = logging.getLogger(__name__)

_BATCH = 16
_RETRY_S = 5.0

PollerFactory = Callable[[str], Poller]


class Upkeep:
    def __init__(
        self,
        *,
        fleet: Fleet,
        api: BotApi,
        tokens: TokenBook,
        checks: TokenChecks,
        statuses: StatusWriter,
        clock: Clock,
        owns: Callable[[str], bool],
        pollers: PollerFactory,
        webhook_base: str | None,
        webhook_secret_base: str | None,
        sandbox: SandboxFleet | None,
    ) -> None:
        self._fleet = fleet
        self._api = api
        self._tokens = tokens
        self._checks = checks
        self._statuses = statuses
        self._clock = clock
        self._owns = owns
        self._new_poller = pollers
        self._webhook_base = webhook_base
        self._webhook_secret = webhook_secret_base
        self._sandbox = sandbox
        self._pollers: dict[str, Poller] = {}
        self._webhooks: dict[str, str] = {}
        self._sandbox_chats: dict[str, tuple[int, int]] = {}
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- public face ---------------------------------------------------------------------
    def touch_bot(self, bot_id: str) -> None:
        self._dirty.add(bot_id)
        self._wake.set()

    def touch_chat(self, chat_id: str) -> None:
        chat = self._fleet.chat(chat_id)
        if chat is None:
            return
        for bot_id in {*chat.bot_ids, *([chat.listener_bot_id] if chat.listener_bot_id else [])}:
            self.touch_bot(bot_id)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="dispatcher-upkeep")

    async def release(self, bot_id: str) -> None:
        """The bot moved to another replica: stop its updates here first."""
        poller = self._pollers.pop(bot_id, None)
        if poller is not None:
            await poller.stop()
        self._webhooks.pop(bot_id, None)
        self._checks.forget(bot_id)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for bot_id in list(self._pollers):
            await self.release(bot_id)
        if self._sandbox is not None:
            await self._sandbox.aclose()

    async def disable(self, bot_id: str, description: str) -> None:
        """Telegram refused the token (401): the bot is disabled everywhere, by an event."""
        now = self._clock.now()
        self._tokens.forget(bot_id)
        await self._statuses.bot(bot_id, lambda s: _revoked(s, description, now))
        self.touch_bot(bot_id)

    # -- the loop ------------------------------------------------------------------------
    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._dirty:
                batch = [self._dirty.pop() for _ in range(min(_BATCH, len(self._dirty)))]
                results = await asyncio.gather(
                    *(self._reconcile(b) for b in batch), return_exceptions=True
                )
                for bot_id, result in zip(batch, results, strict=True):
                    if isinstance(result, Exception):
                        log.warning("bot upkeep failed: %r", result, extra={"bot_id": bot_id})
                    if isinstance(result, Exception) or (
                        self._owns(bot_id) and self._checks.needs_check(bot_id)
                    ):
                        # Telegram, the vault or the sandbox was away: try again later.
                        loop = asyncio.get_running_loop()
                        loop.call_later(_RETRY_S, self.touch_bot, bot_id)

    async def _reconcile(self, bot_id: str) -> None:
        bot = self._fleet.bot(bot_id)
        if not self._owns(bot_id) or bot is None or bot.token_ref is None:
            await self.release(bot_id)
            return
        if self._sandbox is not None:
            await self._sandbox_sync(bot_id)
        if self._checks.needs_check(bot_id):
            await self._checks.check(bot_id)
        else:
            changed = self._checks.unchecked_chats(bot_id)
            if changed:
                await self._checks.check_chats(bot_id, changed)
        listening = bool(self._fleet.listened_chats(bot_id)) and not (
            self._fleet.disabled_everywhere(bot_id)
        )
        if self._webhook_base is not None:
            await self._webhook(bot_id, bot.token_ref, listening)
            return
        poller = self._pollers.get(bot_id)
        if listening and (poller is None or not poller.running):
            poller = self._new_poller(bot_id)
            self._pollers[bot_id] = poller
            poller.start()
        elif not listening and poller is not None:
            await self.release(bot_id)

    async def _webhook(self, bot_id: str, ref: str, listening: bool) -> None:
        assert self._webhook_base is not None and self._webhook_secret is not None
        try:
            token = await self._tokens.token(bot_id)
            if listening and self._webhooks.get(bot_id) != ref:
                await self._api.set_webhook(
                    token,
                    webhook_url(self._webhook_base, bot_id),
                    secret_token=webhook_secret(self._webhook_secret, bot_id),
                )
                self._webhooks[bot_id] = ref
            elif not listening and bot_id in self._webhooks:
                await self._api.delete_webhook(token)
                del self._webhooks[bot_id]
        except (TelegramError, SecretUnavailable) as exc:
            log.warning("webhook upkeep failed: %s", exc, extra={"bot_id": bot_id})

    # -- the sandbox (piyasa up) ---------------------------------------------------------
    async def _sandbox_sync(self, bot_id: str) -> None:
        """The bot, and the chats it looks after, exist in the sandbox."""
        assert self._sandbox is not None
        await self._sandbox_bot(bot_id)
        for chat_id, chat in list(self._fleet.chats.items()):
            config = chat.value
            keeper = config.listener_bot_id or (config.bot_ids[0] if config.bot_ids else None)
            if keeper != bot_id:
                continue
            telegram_chat_id = self._fleet.telegram_chat_id(chat_id)
            if telegram_chat_id is None or self._sandbox_chats.get(chat_id) == (
                chat.sequence,
                telegram_chat_id,
            ):
                continue
            members: list[int] = []
            listener: int | None = None
            for member_bot in config.bot_ids:
                telegram_id = await self._sandbox_bot(member_bot)
                if telegram_id is not None:
                    members.append(telegram_id)
                    if member_bot == config.listener_bot_id:
                        listener = telegram_id
            moved_to = await self._sandbox.ensure_chat(
                telegram_chat_id=telegram_chat_id,
                title=config.title,
                members=members,
                listener=listener,
            )
            if moved_to is not None:
                await self._statuses.chat(chat_id, _mover(moved_to, self._clock.now()))
                telegram_chat_id = moved_to
            self._sandbox_chats[chat_id] = (chat.sequence, telegram_chat_id)

    async def _sandbox_bot(self, bot_id: str) -> int | None:
        assert self._sandbox is not None
        bot = self._fleet.bot(bot_id)
        if bot is None or bot.token_ref is None:
            return None
        try:
            token = await self._tokens.token(bot_id)
        except SecretUnavailable:
            return None
        telegram_id = telegram_user_id_of(token)
        if telegram_id is None:
            return None
        username = bot.username or sandbox_username(bot.name, bot_id)
        await self._sandbox.ensure_bot(
            telegram_id=telegram_id,
            token=token,
            username=username,
            name=bot.name,
            listener=bool(self._fleet.listened_chats(bot_id)),
        )
        return telegram_id


def _revoked(status: BotStatusChanged, description: str, now: datetime) -> BotStatusChanged:
    return status.model_copy(
        update={
            "disabled_everywhere": True,
            "token_check": TokenCheck.INVALID,
            "checked_at": now,
            "detail": description[:500],
        }
    )


def _mover(
    telegram_chat_id: int, now: datetime
) -> Callable[[ChatStatusChanged], ChatStatusChanged]:
    def moved(status: ChatStatusChanged) -> ChatStatusChanged:
        return status.model_copy(
            update={
                "migrated_to_chat_id": telegram_chat_id,
                "checked_at": now,
                "detail": f"sandbox: the group was created there as {telegram_chat_id}",
            }
        )

    return moved
