"""The simulated Telegram: accounts, chats, messages, and the updates they cause.

Every change goes through here, so each one is stored, turned into the
updates Telegram would send (by the rules in `updates.py`), and announced to
the web page. The Bot API and the admin API validate first and then call in.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any, Final

from . import render
from .errors import AdminError
from .events import Broadcaster
from .mailbox import Mailbox
from .models import (
    ChatMemberUpdated,
    MessageEntity,
    MessageReactionUpdated,
    ReactionType,
    TextQuote,
    dump,
)
from .records import (
    PRESENT,
    BotRecord,
    ChatRecord,
    ChatType,
    MemberRecord,
    MemberStatus,
    MessageRecord,
    TypingRecord,
    UserRecord,
    WorldSnapshot,
)
from .settings import SandboxSettings
from .text import find_entities, merge_entities
from .updates import message_recipients, reaction_recipients, wants

__all__ = ["World"]

TOKEN_SHAPE: Final = re.compile(r"^(\d{1,15}):([A-Za-z0-9_-]{1,100})$")
USERNAME_SHAPE: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_]{2,31}$")
_SUPERGROUP_BASE: Final = 1_000_000_000_000
_FIRST_BOT_ID: Final = 7_000_000_001


class World:
    """All of the sandbox's state, and the one place that changes it."""

    def __init__(
        self,
        settings: SandboxSettings,
        snapshot: WorldSnapshot | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.state = snapshot or WorldSnapshot()
        self.events = Broadcaster()
        self._clock = clock
        self.mailboxes: dict[int, Mailbox] = {}
        self._tokens: dict[str, int] = {}
        for bot in self.state.bots.values():
            self._index_bot(bot)

    def now(self) -> float:
        return self._clock()

    # ---------------------------------------------------------------- lookups

    def bot_by_token(self, token: str) -> BotRecord | None:
        bot_id = self._tokens.get(token)
        return self.state.bots.get(bot_id) if bot_id is not None else None

    def user(self, user_id: int) -> UserRecord | None:
        return self.state.users.get(user_id)

    def find_user(self, ref: int | str) -> UserRecord:
        """A user (human or bot) by id, `@username` or `username`; 404 if none."""
        if isinstance(ref, int) or (isinstance(ref, str) and ref.lstrip("-").isdigit()):
            found = self.state.users.get(int(ref))
        else:
            name = ref.lstrip("@").lower()
            found = next(
                (u for u in self.state.users.values() if (u.username or "").lower() == name),
                None,
            )
        if found is None:
            raise AdminError(404, f"no user {ref!r}")
        return found

    def find_bot(self, ref: int | str) -> BotRecord:
        user = self.find_user(ref)
        bot = self.state.bots.get(user.id)
        if bot is None:
            raise AdminError(404, f"{ref!r} is not a bot")
        return bot

    def chat(self, chat_id: int) -> ChatRecord | None:
        return self.state.chats.get(chat_id)

    def chat_by_username(self, username: str) -> ChatRecord | None:
        name = username.lstrip("@").lower()
        return next(
            (c for c in self.state.chats.values() if (c.username or "").lower() == name), None
        )

    def find_chat(self, chat_id: int) -> ChatRecord:
        found = self.state.chats.get(chat_id)
        if found is None:
            raise AdminError(404, f"no chat {chat_id}")
        return found

    # ---------------------------------------------------------------- accounts

    def create_user(
        self,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> UserRecord:
        self._check_username(username)
        user_id = self.state.next_human_id
        while user_id in self.state.users:
            user_id += 1
        self.state.next_human_id = user_id + 1
        user = UserRecord(
            id=user_id,
            is_bot=False,
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
        )
        self.state.users[user_id] = user
        self.events.publish({"type": "users"})
        return user

    def create_bot(
        self,
        username: str,
        *,
        first_name: str | None = None,
        token: str | None = None,
        privacy_mode: bool = True,
        can_join_groups: bool = True,
    ) -> BotRecord:
        """A bot account; its id is the token's number when a token is given."""
        self._check_username(username)
        if token is not None:
            shape = TOKEN_SHAPE.match(token)
            if shape is None:
                raise AdminError(400, "a token looks like 123456789:AAH...")
            bot_id = int(shape.group(1))
            if token in self._tokens or bot_id in self.state.users:
                raise AdminError(409, "a bot with this token or id exists")
        else:
            bot_id = max([_FIRST_BOT_ID - 1, *self.state.bots]) + 1
            token = _new_token(bot_id)
        user = UserRecord(
            id=bot_id, is_bot=True, first_name=first_name or username, username=username
        )
        bot = BotRecord(
            user_id=bot_id,
            token=token,
            privacy_mode=privacy_mode,
            can_join_groups=can_join_groups,
            next_update_id=_first_update_id(bot_id),
        )
        self.state.users[bot_id] = user
        self.state.bots[bot_id] = bot
        self._index_bot(bot)
        self.events.publish({"type": "users"})
        return bot

    def set_privacy(self, bot: BotRecord, privacy_mode: bool) -> None:
        bot.privacy_mode = privacy_mode

    def revoke(self, bot: BotRecord) -> str:
        """Replace the bot's token (the old one answers 401 from now on)."""
        self._tokens.pop(bot.token, None)
        bot.token = _new_token(bot.user_id)
        self._tokens[bot.token] = bot.user_id
        return bot.token

    # ---------------------------------------------------------------- chats

    def create_chat(
        self,
        kind: ChatType,
        title: str,
        *,
        username: str | None = None,
        members: Iterable[int] = (),
        admins: Iterable[int] = (),
        creator: int | None = None,
    ) -> ChatRecord:
        """A group or supergroup with its first members, without service messages or updates."""
        if kind not in ("group", "supergroup"):
            raise AdminError(400, "type is group or supergroup")
        if username is not None and kind != "supergroup":
            raise AdminError(400, "only a supergroup has a username")
        chat = ChatRecord(id=self._new_chat_id(kind), type=kind, title=title, username=username)
        roles: list[tuple[int, MemberStatus]] = [(uid, "member") for uid in members]
        roles += [(uid, "administrator") for uid in admins]
        if creator is not None:
            roles.append((creator, "creator"))
        for user_id, status in roles:
            if user_id not in self.state.users:
                raise AdminError(404, f"no user {user_id}")
            chat.members[user_id] = MemberRecord(user_id=user_id, status=status)
        self.state.chats[chat.id] = chat
        self.events.publish({"type": "chats"})
        return chat

    def set_member(
        self,
        chat: ChatRecord,
        user: UserRecord,
        status: MemberStatus,
        *,
        actor: UserRecord | None = None,
    ) -> None:
        """Change a member's status as Telegram would show it: service message and updates."""
        old = chat.members.get(user.id)
        old_status: MemberStatus = old.status if old else "left"
        if old_status == status:
            return
        old_member = render.member(chat, user, old)
        new = MemberRecord(
            user_id=user.id, status=status, until_date=0 if status == "kicked" else None
        )
        chat.members[user.id] = new
        actor = actor or user
        changed = ChatMemberUpdated(
            chat=render.chat(chat),
            from_=render.user(actor),
            date=int(self.now()),
            old_chat_member=old_member,
            new_chat_member=render.member(chat, user, new),
        )
        if user.is_bot and user.id in self.state.bots:
            self._push(self.state.bots[user.id], "my_chat_member", dump(changed))
        for bot_id, bot in self.state.bots.items():
            if bot_id != user.id and chat.is_admin(bot_id) and wants(bot, "chat_member"):
                self._push(bot, "chat_member", dump(changed))
        joined = old_status not in PRESENT and status in PRESENT
        left = old_status in PRESENT and status not in PRESENT
        if joined:
            self._append_service(chat, actor.id, new_chat_members=[user.id])
        elif left:
            self._append_service(chat, actor.id, left_chat_member=user.id)
        self.events.publish({"type": "members", "chat_id": chat.id})

    def migrate(self, chat: ChatRecord, actor: UserRecord | None = None) -> ChatRecord:
        """Upgrade a group to a supergroup: a new chat id; the old one answers 400 from now on."""
        if chat.type != "group" or chat.migrated_to is not None:
            raise AdminError(400, "only a basic group that was not upgraded yet can be upgraded")
        new = ChatRecord(
            id=self._new_chat_id("supergroup"),
            type="supergroup",
            title=chat.title,
            members={uid: m.model_copy() for uid, m in chat.members.items()},
            migrated_from=chat.id,
        )
        self.state.chats[new.id] = new
        chat.migrated_to = new.id
        actor_id = actor.id if actor else _creator_of(chat)
        self._append_service(chat, actor_id, migrate_to_chat_id=new.id)
        self._append_service(new, actor_id, migrate_from_chat_id=chat.id)
        self.events.publish({"type": "chats"})
        return new

    # ---------------------------------------------------------------- messages

    def post(
        self,
        chat: ChatRecord,
        sender: UserRecord,
        text: str,
        *,
        entities: Iterable[MessageEntity] = (),
        reply_to: int | None = None,
        quote: TextQuote | None = None,
    ) -> MessageRecord:
        """A text message from `sender` (a human or a bot), delivered as Telegram would."""
        record = self._append(
            chat,
            from_id=sender.id,
            text=text,
            entities=merge_entities(entities, find_entities(text)),
            reply_to=reply_to,
            quote=quote,
        )
        if sender.is_bot:
            chat.last_bot_id = sender.id
        self._deliver(chat, record, "message")
        self.events.publish(
            {"type": "message", "chat_id": chat.id, "message_id": record.message_id}
        )
        return record

    def edit(
        self,
        chat: ChatRecord,
        record: MessageRecord,
        text: str,
        entities: Iterable[MessageEntity] = (),
    ) -> MessageRecord:
        record.text = text
        record.entities = merge_entities(entities, find_entities(text))
        record.edit_date = max(int(self.now()), record.date)
        self._deliver(chat, record, "edited_message")
        self.events.publish({"type": "edit", "chat_id": chat.id, "message_id": record.message_id})
        return record

    def react(
        self,
        chat: ChatRecord,
        record: MessageRecord,
        user: UserRecord,
        reactions: list[ReactionType],
    ) -> None:
        """Set `user`'s reactions on a message; admin bots that asked hear a human's change."""
        old = record.reactions.get(user.id, [])
        if reactions:
            record.reactions[user.id] = list(reactions)
        else:
            record.reactions.pop(user.id, None)
        self.events.publish(
            {"type": "reaction", "chat_id": chat.id, "message_id": record.message_id}
        )
        if user.is_bot or old == reactions:
            return
        update = MessageReactionUpdated(
            chat=render.chat(chat),
            message_id=record.message_id,
            user=render.user(user),
            date=int(self.now()),
            old_reaction=old,
            new_reaction=list(reactions),
        )
        for bot_id in reaction_recipients(chat, self.state.bots):
            self._push(self.state.bots[bot_id], "message_reaction", dump(update))

    def chat_action(self, chat: ChatRecord, user: UserRecord, action: str) -> TypingRecord:
        """Show `user` doing `action` ("typing") for `typing_duration_s`."""
        record = TypingRecord(user_id=user.id, action=action, at=self.now())
        chat.typing.append(record)
        overflow = len(chat.typing) - self.settings.max_typing_events_per_chat
        if overflow > 0:
            del chat.typing[:overflow]
        self.events.publish(
            {
                "type": "typing",
                "chat_id": chat.id,
                "user_id": user.id,
                "action": action,
                "name": user.display_name,
                "until": record.at + self.settings.typing_duration_s,
            }
        )
        return record

    def reset(self) -> None:
        """Forget everything (tests that share one server start clean)."""
        for mailbox in self.mailboxes.values():
            mailbox.clear()
        self.state = WorldSnapshot()
        self.mailboxes.clear()
        self._tokens.clear()
        self.events.publish({"type": "chats"})

    # ---------------------------------------------------------------- internals

    def _index_bot(self, bot: BotRecord) -> None:
        self._tokens[bot.token] = bot.user_id
        self.mailboxes[bot.user_id] = Mailbox(bot, self.settings.max_pending_updates)

    def _check_username(self, username: str | None) -> None:
        if username is None:
            return
        if not USERNAME_SHAPE.match(username):
            raise AdminError(400, "a username is 3-32 letters, digits or _, starting with a letter")
        if any((u.username or "").lower() == username.lower() for u in self.state.users.values()):
            raise AdminError(409, f"username {username!r} is taken")

    def _new_chat_id(self, kind: str) -> int:
        sequence = self.state.next_group_id
        self.state.next_group_id += 1
        return -(_SUPERGROUP_BASE + sequence) if kind == "supergroup" else -sequence

    def _append(self, chat: ChatRecord, **fields: Any) -> MessageRecord:
        at = self.now()
        record = MessageRecord(message_id=chat.next_message_id, date=int(at), at=at, **fields)
        chat.next_message_id += 1
        chat.messages[record.message_id] = record
        while len(chat.messages) > self.settings.max_messages_per_chat:
            del chat.messages[next(iter(chat.messages))]
        return record

    def _append_service(self, chat: ChatRecord, actor_id: int | None, **fields: Any) -> None:
        record = self._append(chat, from_id=actor_id, **fields)
        self._deliver(chat, record, "message")
        self.events.publish(
            {"type": "message", "chat_id": chat.id, "message_id": record.message_id}
        )

    def _deliver(self, chat: ChatRecord, record: MessageRecord, kind: str) -> None:
        recipients = message_recipients(chat, record, self.state.bots, self.state.users)
        if not recipients:
            return
        payload = dump(render.message(chat, record, self.state.users))
        for bot_id in recipients:
            self._push(self.state.bots[bot_id], kind, payload)

    def _push(self, bot: BotRecord, kind: str, payload: dict[str, Any]) -> None:
        if not wants(bot, kind):
            return
        self.mailboxes[bot.user_id].push(
            kind, lambda update_id: {"update_id": update_id, kind: payload}
        )


def _new_token(bot_id: int) -> str:
    return f"{bot_id}:AA{secrets.token_urlsafe(32)[:33]}"


def _first_update_id(bot_id: int) -> int:
    # Different per bot, so a consumer that mixes bots' update ids is caught.
    return 100_000_000 + (bot_id % 1000) * 1_000_000 + 1


def _creator_of(chat: ChatRecord) -> int | None:
    return next((uid for uid, m in chat.members.items() if m.status == "creator"), None)
