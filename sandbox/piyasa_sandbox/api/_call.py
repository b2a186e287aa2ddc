"""One Bot API call's context, and the chat checks every chat method shares."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .. import errors
from ..core import Sandbox
from ..params import Params, lenient_int
from ..records import PRESENT, BotRecord, ChatRecord, UserRecord
from ..world import World

__all__ = ["Answer", "Call", "Handler"]


@dataclass(frozen=True)
class Answer:
    """A method's result, and the rare success `description` ("Webhook was set")."""

    result: Any
    description: str | None = None


@dataclass(frozen=True)
class Call:
    sandbox: Sandbox
    bot: BotRecord
    user: UserRecord
    """The bot's own account."""
    params: Params

    @property
    def world(self) -> World:
        return self.sandbox.world

    def chat(self) -> ChatRecord:
        """The chat named by `chat_id`, if this bot may act in it (Telegram's errors if not)."""
        raw = self.params.optional_text("chat_id")
        if raw is None or raw.strip() == "":
            raise errors.bad_request(errors.CHAT_ID_EMPTY)
        raw = raw.strip()
        if raw.startswith("@"):
            chat = self.world.chat_by_username(raw)
        else:
            chat_id = lenient_int(raw)
            if chat_id > 0:
                user = self.world.user(chat_id)
                if user is not None and not user.is_bot:
                    raise errors.forbidden(errors.CANT_INITIATE)
            chat = self.world.chat(chat_id)
        if chat is None:
            raise errors.bad_request(errors.CHAT_NOT_FOUND)
        if chat.migrated_to is not None:
            raise errors.bad_request(errors.GROUP_UPGRADED, migrate_to_chat_id=chat.migrated_to)
        member = chat.members.get(self.bot.user_id)
        if member is None:
            # A chat the bot never was in is invisible to it.
            raise errors.bad_request(errors.CHAT_NOT_FOUND)
        if member.status == "kicked":
            raise errors.kicked(chat.type)
        if member.status not in PRESENT:
            raise errors.not_member(chat.type)
        return chat

    def writable_chat(self) -> ChatRecord:
        """`chat()`, and the bot may send messages there."""
        chat = self.chat()
        if chat.status_of(self.bot.user_id) == "restricted":
            raise errors.bad_request("not enough rights to send text messages to the chat")
        return chat


Handler = Callable[[Call], Awaitable[Answer]]
