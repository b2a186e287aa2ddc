"""Bot tokens, and what Telegram says about them.

`TokenBook` opens tokens from the secrets bucket (only the dispatcher and the
config service may read it) and keeps them in memory by bot, keyed by the
`token_ref` the bot's config event names: a new reference (a new token) is
opened afresh. Tokens are registered with the log redactor when opened.

`TokenChecks` runs when a bot is registered or its token changes, and when a
replica takes over the bot's partition: getMe, then `verified` (Telegram's
username and id, and whether privacy mode is off) or `invalid`; for a
listener bot, getChatMember in each chat it listens to, so that a chat whose
listener neither hears every human (privacy off) nor is an admin is flagged
`can_hear_humans: false`.
"""

from __future__ import annotations

import logging
from datetime import datetime

from piyasa_common.clock import Clock
from piyasa_common.secrets import SecretUnavailable, TokenReader
from piyasa_contracts.events.config import BotStatusChanged, ChatStatusChanged, TokenCheck
from piyasa_dispatcher import metrics
from piyasa_dispatcher.state import Fleet
from piyasa_dispatcher.statuses import StatusWriter
from piyasa_dispatcher.telegram import BotApi, TelegramApiError, TelegramError, User

log = logging.getLogger(__name__)

ADMIN_STATUSES = frozenset({"administrator", "creator"})


class NoToken(SecretUnavailable):
    """The bot has no token, or it cannot be opened."""


class TokenBook:
    def __init__(self, reader: TokenReader, fleet: Fleet) -> None:
        self._reader = reader
        self._fleet = fleet
        self._tokens: dict[str, tuple[str, str]] = {}

    async def token(self, bot_id: str) -> str:
        bot = self._fleet.bot(bot_id)
        if bot is None or bot.token_ref is None:
            raise NoToken(f"bot {bot_id} has no token")
        cached = self._tokens.get(bot_id)
        if cached is not None and cached[0] == bot.token_ref:
            return cached[1]
        token = await self._reader.reveal(bot.token_ref)
        self._tokens[bot_id] = (bot.token_ref, token)
        return token

    def forget(self, bot_id: str) -> None:
        self._tokens.pop(bot_id, None)


def telegram_user_id_of(token: str) -> int | None:
    """A bot's Telegram id is the number before the token's colon (public, unlike the rest)."""
    head, _, _ = token.partition(":")
    return int(head) if head.isdigit() else None


class TokenChecks:
    def __init__(
        self, api: BotApi, tokens: TokenBook, fleet: Fleet, statuses: StatusWriter, clock: Clock
    ) -> None:
        self._api = api
        self._tokens = tokens
        self._fleet = fleet
        self._statuses = statuses
        self._clock = clock
        self._checked: dict[str, str] = {}
        """bot id -> the token reference last checked."""
        self._me: dict[str, User] = {}
        self._chats_checked: dict[str, tuple[str, int]] = {}
        """chat id -> (its listener, the chat's config sequence) last checked."""

    def needs_check(self, bot_id: str) -> bool:
        bot = self._fleet.bot(bot_id)
        return (
            bot is not None
            and bot.token_ref is not None
            and (self._checked.get(bot_id) != bot.token_ref)
        )

    def unchecked_chats(self, bot_id: str) -> set[str]:
        """Chats the bot listens to whose listener check is out of date."""
        out: set[str] = set()
        for chat_id in self._fleet.listened_chats(bot_id):
            chat = self._fleet.chats.get(chat_id)
            if chat is not None and self._chats_checked.get(chat_id) != (bot_id, chat.sequence):
                out.add(chat_id)
        return out

    def forget(self, bot_id: str) -> None:
        self._checked.pop(bot_id, None)
        self._me.pop(bot_id, None)

    async def check_chats(self, bot_id: str, chats: set[str]) -> None:
        """The listener checks alone, for chats that changed since (getMe known already)."""
        me = self._me.get(bot_id)
        if me is None:
            await self.check(bot_id)
            return
        try:
            token = await self._tokens.token(bot_id)
        except SecretUnavailable:
            return
        now = self._clock.now()
        hears_all = bool(me.can_read_all_group_messages)
        admin_in = await self._listener_checks(bot_id, token, me.id, hears_all, now, chats)

        def admins(s: BotStatusChanged) -> BotStatusChanged:
            admin = (set(s.admin_in_chats) - chats) | admin_in
            return s.model_copy(update={"admin_in_chats": sorted(admin)})

        await self._statuses.bot(bot_id, admins)

    async def check(self, bot_id: str) -> bool:
        """getMe and the listener checks; True when the token works."""
        bot = self._fleet.bot(bot_id)
        if bot is None or bot.token_ref is None:
            return False
        ref = bot.token_ref
        now = self._clock.now()
        try:
            token = await self._tokens.token(bot_id)
            me = await self._api.get_me(token)
        except SecretUnavailable as exc:
            metrics.TOKEN_CHECKS.labels("error").inc()
            log.warning("bot token unavailable: %s", exc, extra={"bot_id": bot_id})
            return False
        except TelegramApiError as exc:
            if exc.error_code in (401, 404):
                metrics.TOKEN_CHECKS.labels("invalid").inc()
                description = exc.description
                await self._statuses.bot(bot_id, lambda s: _invalid(s, description, now))
                self._checked[bot_id] = ref
                return False
            metrics.TOKEN_CHECKS.labels("error").inc()
            log.warning("getMe failed: %s", exc, extra={"bot_id": bot_id})
            return False
        except TelegramError as exc:
            metrics.TOKEN_CHECKS.labels("error").inc()
            log.warning("getMe failed: %s", exc, extra={"bot_id": bot_id})
            return False
        metrics.TOKEN_CHECKS.labels("verified").inc()
        listened = self._fleet.listened_chats(bot_id)
        hears_all = bool(me.can_read_all_group_messages)
        admin_in = await self._listener_checks(bot_id, token, me.id, hears_all, now, listened)

        def verified(s: BotStatusChanged) -> BotStatusChanged:
            admin = (set(s.admin_in_chats) - listened) | admin_in
            return s.model_copy(
                update={
                    "token_check": TokenCheck.VERIFIED,
                    "telegram_user_id": me.id,
                    "telegram_username": me.username,
                    "can_read_all_group_messages": me.can_read_all_group_messages,
                    "disabled_everywhere": False,
                    "admin_in_chats": sorted(admin),
                    "checked_at": now,
                    "detail": "",
                }
            )

        await self._statuses.bot(bot_id, verified)
        self._checked[bot_id] = ref
        self._me[bot_id] = me
        return True

    async def _listener_checks(
        self,
        bot_id: str,
        token: str,
        user_id: int,
        hears_all: bool,
        now: datetime,
        chats: set[str],
    ) -> set[str]:
        """Admin status in each chat the bot listens to; flags chats that cannot hear humans."""
        admin_in: set[str] = set()
        for chat_id in sorted(chats):
            telegram_chat_id = self._fleet.telegram_chat_id(chat_id)
            config = self._fleet.chats.get(chat_id)
            if telegram_chat_id is None or config is None:
                continue
            self._chats_checked[chat_id] = (bot_id, config.sequence)
            is_admin = False
            detail = ""
            try:
                member = await self._api.get_chat_member(token, telegram_chat_id, user_id)
                is_admin = member.status in ADMIN_STATUSES
            except TelegramError as exc:
                detail = f"getChatMember: {getattr(exc, 'description', exc)}"
            if is_admin:
                admin_in.add(chat_id)
            hears = hears_all or is_admin
            if not hears and not detail:
                detail = "the listener bot has privacy mode on and is not an admin of the chat"

            def verdict(
                s: ChatStatusChanged, hears: bool = hears, detail: str = detail
            ) -> ChatStatusChanged:
                return s.model_copy(
                    update={
                        "can_hear_humans": hears,
                        "listener_bot_id": bot_id,
                        "checked_at": now,
                        "detail": "" if hears else detail,
                    }
                )

            await self._statuses.chat(chat_id, verdict)
        return admin_in


def _invalid(status: BotStatusChanged, description: str, now: datetime) -> BotStatusChanged:
    return status.model_copy(
        update={"token_check": TokenCheck.INVALID, "checked_at": now, "detail": description[:500]}
    )
