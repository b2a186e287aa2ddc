"""Chats: create, members, human messages, edits, reactions, migration, read-back."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from .. import render
from ..core import Sandbox
from ..errors import AdminError, TelegramError
from ..models import MessageEntity, ReactionType, TextQuote, dump
from ..params import parse_entities
from ..records import ChatRecord, MemberStatus, UserRecord
from ..text import find_quote, utf16_len
from ..views import chat_summary, chat_view, message_view
from ._common import Body, Ref, chat_of, int_query, ok, read_body, ref, sandbox_of


class NewChat(Body):
    type: Literal["group", "supergroup"] = "supergroup"
    title: str = Field(min_length=1, max_length=128)
    username: str | None = None
    members: list[Ref] = Field(default_factory=list)
    admins: list[Ref] = Field(default_factory=list)
    creator: Ref | None = None


class MemberChange(Body):
    user: Ref
    status: MemberStatus = "member"
    actor: Ref | None = None


class HumanMessage(Body):
    from_: Ref | None = Field(None, alias="from")
    text: str = Field(min_length=1, max_length=4096)
    entities: list[dict[str, Any]] | None = None
    reply_to_message_id: int | None = None
    quote: str | None = None


class Edit(Body):
    text: str = Field(min_length=1, max_length=4096)
    entities: list[dict[str, Any]] | None = None


class Reaction(Body):
    user: Ref
    reaction: list[ReactionType] | None = None
    emoji: str | None = Field(None, description="Shortcut for one emoji reaction.")


async def list_chats(request: Request) -> Response:
    world = sandbox_of(request).world
    return ok([chat_summary(world, chat) for chat in world.state.chats.values()])


async def create_chat(request: Request) -> Response:
    body = await read_body(request, NewChat)
    world = sandbox_of(request).world
    chat = world.create_chat(
        body.type,
        body.title,
        username=body.username,
        members=[world.find_user(ref).id for ref in body.members],
        admins=[world.find_user(ref).id for ref in body.admins],
        creator=world.find_user(body.creator).id if body.creator is not None else None,
    )
    return ok(chat_view(world, chat), 201)


async def get_chat(request: Request) -> Response:
    chat = chat_of(request)
    limit = int_query(request, "limit", 300)
    after = int_query(request, "after", 0)
    return ok(chat_view(sandbox_of(request).world, chat, after=after, limit=limit))


async def list_messages(request: Request) -> Response:
    chat = chat_of(request)
    world = sandbox_of(request).world
    after = int_query(request, "after", 0)
    limit = int_query(request, "limit", 1000)
    records = [m for m in chat.messages.values() if m.message_id > after][:limit]
    return ok([message_view(world, chat, m) for m in records])


async def set_member(request: Request) -> Response:
    body = await read_body(request, MemberChange)
    chat = chat_of(request)
    world = sandbox_of(request).world
    actor = world.find_user(body.actor) if body.actor is not None else None
    world.set_member(chat, world.find_user(body.user), body.status, actor=actor)
    return ok(chat_view(world, chat, limit=0))


async def remove_member(request: Request) -> Response:
    chat = chat_of(request)
    world = sandbox_of(request).world
    user = world.find_user(ref(request.path_params["user"]))
    ban = request.query_params.get("ban", "").lower() in ("1", "true", "yes")
    world.set_member(chat, user, "kicked" if ban else "left")
    return ok(chat_view(world, chat, limit=0))


def _default_human(sandbox: Sandbox, chat: ChatRecord) -> UserRecord:
    """The first human member, or a guest account made for the page."""
    world = sandbox.world
    for user_id in chat.members:
        user = world.user(user_id)
        if user is not None and not user.is_bot and chat.is_present(user_id):
            return user
    return world.create_user("Guest")


def _quote_for(chat: ChatRecord, reply_to: int, quote: str) -> TextQuote:
    target = chat.messages.get(reply_to)
    text = quote.strip()
    position = find_quote(target.text or "", text, None) if target else None
    if position is None or utf16_len(text) > 1024:
        raise AdminError(400, "the quote is not in the replied message")
    return TextQuote(text=text, position=position, is_manual=True)


async def post_message(request: Request) -> Response:
    """Post as a human (delivered to the bots as updates, by Telegram's rules)."""
    body = await read_body(request, HumanMessage)
    sandbox = sandbox_of(request)
    world = sandbox.world
    chat = chat_of(request)
    if chat.migrated_to is not None:
        raise AdminError(409, f"chat was upgraded to {chat.migrated_to}")
    sender = (
        world.find_user(body.from_) if body.from_ is not None else _default_human(sandbox, chat)
    )
    if sender.is_bot:
        raise AdminError(400, "bots post through the Bot API")
    if chat.status_of(sender.id) == "kicked":
        raise AdminError(403, f"{sender.display_name} is banned from this chat")
    if not chat.is_present(sender.id):
        world.set_member(chat, sender, "member")
    reply_to = body.reply_to_message_id
    if reply_to is not None and reply_to not in chat.messages:
        raise AdminError(400, f"no message {reply_to} in this chat")
    quote = _quote_for(chat, reply_to, body.quote) if reply_to and body.quote else None
    record = world.post(
        chat,
        sender,
        body.text,
        entities=_entities(body.entities),
        reply_to=reply_to,
        quote=quote,
    )
    return ok(message_view(world, chat, record), 201)


def _entities(raw: list[dict[str, Any]] | None) -> list[MessageEntity]:
    try:
        return parse_entities(raw)
    except TelegramError as exc:
        raise AdminError(400, exc.description) from exc


async def edit_message(request: Request) -> Response:
    body = await read_body(request, Edit)
    chat = chat_of(request)
    world = sandbox_of(request).world
    record = chat.messages.get(int(request.path_params["message_id"]))
    if record is None or record.is_service:
        raise AdminError(404, "no such text message")
    sender = world.user(record.from_id) if record.from_id is not None else None
    if sender is None or sender.is_bot:
        raise AdminError(400, "only a human's message is edited here")
    world.edit(chat, record, body.text, _entities(body.entities))
    return ok(message_view(world, chat, record))


async def react(request: Request) -> Response:
    body = await read_body(request, Reaction)
    chat = chat_of(request)
    world = sandbox_of(request).world
    record = chat.messages.get(int(request.path_params["message_id"]))
    if record is None:
        raise AdminError(404, "no such message")
    user = world.find_user(body.user)
    reactions = list(body.reaction or [])
    if body.emoji:
        reactions.append(ReactionType(type="emoji", emoji=body.emoji))
    world.react(chat, record, user, reactions)
    return ok(message_view(world, chat, record))


async def migrate(request: Request) -> Response:
    chat = chat_of(request)
    world = sandbox_of(request).world
    new = world.migrate(chat)
    return ok({"migrated_from": chat.id, "chat": chat_view(world, new, limit=0)})


async def typing_events(request: Request) -> Response:
    chat = chat_of(request)
    world = sandbox_of(request).world
    return ok(chat_view(world, chat, limit=0)["typing"])


async def get_member(request: Request) -> Response:
    chat = chat_of(request)
    user = sandbox_of(request).world.find_user(ref(request.path_params["user"]))
    return ok(dump(render.member(chat, user, chat.members.get(user.id))))
