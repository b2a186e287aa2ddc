"""sendMessage, editMessageText, setMessageReaction and sendChatAction."""

from __future__ import annotations

from typing import Final

from .. import errors, render
from ..markup import parse_html
from ..models import MessageEntity, ReactionType, TextQuote, dump
from ..params import Params, ReplyParameters
from ..records import ChatRecord, MessageRecord
from ..text import find_quote, utf16_len
from ._call import Answer, Call, Handler

__all__ = ["MESSAGE_METHODS"]

MAX_TEXT_CHARS: Final = 4096
MAX_TEXT_BYTES: Final = 32768
MAX_QUOTE_UNITS: Final = 1024
CHAT_ACTIONS: Final = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice",
        "upload_voice", "upload_document", "choose_sticker", "find_location",
        "record_video_note", "upload_video_note",
    }
)  # fmt: skip
# The fixed list of ReactionTypeEmoji, compared without variation selectors.
REACTION_EMOJI: Final = frozenset(
    e.replace("\ufe0f", "")
    for e in [
        "👍",
        "👎",
        "❤",
        "🔥",
        "🥰",
        "👏",
        "😁",
        "🤔",
        "🤯",
        "😱",
        "🤬",
        "😢",
        "🎉",
        "🤩",
        "🤮",
        "💩",
        "🙏",
        "👌",
        "🕊",
        "🤡",
        "🥱",
        "🥴",
        "😍",
        "🐳",
        "❤\u200d🔥",
        "🌚",
        "🌭",
        "💯",
        "🤣",
        "⚡",
        "🍌",
        "🏆",
        "💔",
        "🤨",
        "😐",
        "🍓",
        "🍾",
        "💋",
        "🖕",
        "😈",
        "😴",
        "😭",
        "🤓",
        "👻",
        "👨\u200d💻",
        "👀",
        "🎃",
        "🙈",
        "😇",
        "😨",
        "🤝",
        "✍",
        "🤗",
        "🫡",
        "🎅",
        "🎄",
        "☃",
        "💅",
        "🤪",
        "🗿",
        "🆒",
        "💘",
        "🙉",
        "🦄",
        "😘",
        "💊",
        "🙊",
        "😎",
        "👾",
        "🤷\u200d♂",
        "🤷",
        "🤷\u200d♀",
        "😡",
    ]
)
QUOTE_ENTITY_TYPES: Final = frozenset(
    {"bold", "italic", "underline", "strikethrough", "spoiler", "custom_emoji", "date_time"}
)


def _text_and_entities(params: Params, text_field: str = "text") -> tuple[str, list[MessageEntity]]:
    """The message text as Telegram keeps it: markup parsed, surrounding whitespace trimmed."""
    raw = params.text(text_field)
    if len(raw.encode("utf-8")) > MAX_TEXT_BYTES:
        raise errors.bad_request(errors.TEXT_TOO_LONG)
    mode = (params.optional_text("parse_mode") or "").strip().lower()
    if mode not in ("", "html", "markdown", "markdownv2"):
        raise errors.bad_request(errors.UNSUPPORTED_PARSE_MODE)
    if mode == "html":
        text, entities = parse_html(raw)
    else:
        text, entities = raw, params.entities("entities")
    return _trim(text, entities)


def _trim(text: str, entities: list[MessageEntity]) -> tuple[str, list[MessageEntity]]:
    stripped = text.strip()
    if not stripped:
        raise errors.bad_request(errors.MESSAGE_TEXT_EMPTY)
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    end = utf16_len(stripped)
    kept: list[MessageEntity] = []
    for entity in entities:
        start = max(entity.offset - lead, 0)
        stop = min(entity.offset + entity.length - lead, end)
        if stop > start:
            kept.append(entity.model_copy(update={"offset": start, "length": stop - start}))
    return stripped, kept


def _reply_target(
    chat: ChatRecord, reply: ReplyParameters | None
) -> tuple[int | None, TextQuote | None]:
    """The message to reply to and the quote, checked as Telegram checks them."""
    if reply is None:
        return None, None
    other_chat = reply.chat_id is not None and str(reply.chat_id).strip() != str(chat.id)
    target = None if other_chat else chat.messages.get(reply.message_id)
    if target is None:
        if reply.allow_sending_without_reply:
            return None, None
        raise errors.bad_request(errors.REPLY_NOT_FOUND)
    quote_text = (reply.quote or "").strip()
    if not quote_text:
        return target.message_id, None
    position = find_quote(target.text or "", quote_text, reply.quote_position)
    if position is None or utf16_len(quote_text) > MAX_QUOTE_UNITS:
        raise errors.bad_request(errors.QUOTE_TEXT_INVALID)
    entities = [e for e in reply.quote_entities if e.type in QUOTE_ENTITY_TYPES]
    quote = TextQuote(text=quote_text, entities=entities or None, position=position, is_manual=True)
    return target.message_id, quote


async def send_message(call: Call) -> Answer:
    text, entities = _text_and_entities(call.params)
    reply = call.params.reply_parameters()
    chat = call.writable_chat()
    reply_to, quote = _reply_target(chat, reply)
    if len(text) > MAX_TEXT_CHARS:
        raise errors.bad_request(errors.MESSAGE_TOO_LONG)
    call.sandbox.limits.check_send(call.bot.user_id, chat.id, is_group=True)
    record = call.world.post(
        chat, call.user, text, entities=entities, reply_to=reply_to, quote=quote
    )
    return Answer(dump(render.message(chat, record, call.world.state.users)))


def _message(chat: ChatRecord, params: Params, missing: str) -> MessageRecord:
    message_id = params.integer("message_id")
    record = chat.messages.get(message_id) if message_id > 0 else None
    if record is None:
        raise errors.bad_request(missing)
    return record


async def edit_message_text(call: Call) -> Answer:
    text, entities = _text_and_entities(call.params)
    chat = call.chat()
    record = _message(chat, call.params, errors.EDIT_NOT_FOUND)
    if record.from_id != call.bot.user_id or record.is_service:
        raise errors.bad_request("message can't be edited")
    if len(text) > MAX_TEXT_CHARS:
        raise errors.bad_request(errors.MESSAGE_TOO_LONG)
    if text == record.text and _explicit(record.entities) == _explicit(entities):
        raise errors.bad_request(errors.NOT_MODIFIED)
    call.world.edit(chat, record, text, entities)
    return Answer(dump(render.message(chat, record, call.world.state.users)))


def _explicit(entities: list[MessageEntity]) -> list[MessageEntity]:
    detected = {"mention", "hashtag", "cashtag", "bot_command", "url"}
    return [e for e in entities if e.type not in detected]


def _check_reactions(reactions: list[ReactionType], record: MessageRecord) -> None:
    if len(reactions) > 1:
        raise errors.bad_request(errors.REACTIONS_TOO_MANY)
    for reaction in reactions:
        emoji = (reaction.emoji or "").replace("\ufe0f", "")
        if reaction.type != "emoji" or emoji not in REACTION_EMOJI:
            raise errors.bad_request(errors.REACTION_INVALID)
    if record.is_service and reactions:
        raise errors.bad_request(errors.REACTION_INVALID)


async def set_message_reaction(call: Call) -> Answer:
    reactions = call.params.reactions()
    chat = call.chat()
    record = _message(chat, call.params, errors.REACT_NOT_FOUND)
    _check_reactions(reactions, record)
    call.world.react(chat, record, call.user, reactions)
    return Answer(True)


async def send_chat_action(call: Call) -> Answer:
    action = call.params.text("action").strip().lower()
    chat = call.writable_chat()
    if action not in CHAT_ACTIONS:
        raise errors.bad_request(errors.WRONG_ACTION)
    call.world.chat_action(chat, call.user, action)
    return Answer(True)


MESSAGE_METHODS: dict[str, Handler] = {
    "sendMessage": send_message,
    "editMessageText": edit_message_text,
    "setMessageReaction": set_message_reaction,
    "sendChatAction": send_chat_action,
}
