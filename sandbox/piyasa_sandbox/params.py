"""Reading a Bot API call's parameters the way the reference server does.

Parameters come from the query string and from a JSON, urlencoded or
multipart body. Every value is kept as text: a JSON string is decoded, any
other JSON value is kept as its JSON text, so `"chat_id": 123` and
`"chat_id": "123"` read the same. Integers and booleans are read leniently
(TELEGRAM.md section 1, "Wrong parameter types"); only JSON sub-objects get
typed errors.
"""

from __future__ import annotations

import json
import re
from email import policy
from email.parser import BytesParser
from typing import Any, Final
from urllib.parse import parse_qsl

from starlette.requests import Request

from . import errors
from .models import MessageEntity, ReactionType, User

__all__ = ["Params", "ReplyParameters", "read_params"]

_INTEGER: Final = re.compile(r"-?\d+")
_TRUE: Final = frozenset({"true", "yes", "1"})
_ENTITY_TYPES: Final = frozenset(
    {
        "mention", "hashtag", "cashtag", "bot_command", "url", "email", "phone_number",
        "bold", "italic", "underline", "strikethrough", "spoiler", "blockquote",
        "expandable_blockquote", "code", "pre", "text_link", "text_mention", "custom_emoji",
        "date_time",
    }
)  # fmt: skip


async def read_params(request: Request) -> Params:
    """All parameters of `request`, body over query string; raises 400 on a malformed body."""
    values: dict[str, str] = dict(request.query_params)
    if request.method != "POST":
        return Params(values)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        body = (await request.body()).decode("utf-8", errors="replace")
        if body.strip():
            values.update(_json_params(body))
    elif content_type == "application/x-www-form-urlencoded":
        body = (await request.body()).decode("utf-8", errors="replace")
        values.update(parse_qsl(body, keep_blank_values=True))
    elif content_type == "multipart/form-data":
        values.update(_multipart(request.headers["content-type"], await request.body()))
    return Params(values)


def _multipart(content_type: str, body: bytes) -> dict[str, str]:
    """The text fields of a multipart body (files are not supported by the sandbox)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or part.get_filename() is not None:
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            charset = part.get_content_charset() or "utf-8"
            fields[name] = payload.decode(charset, errors="replace")
    return fields


def _json_params(body: str) -> dict[str, str]:
    if not body.lstrip().startswith("{"):
        raise errors.TelegramError(400, "Bad Request: JSON object expected")
    try:
        decoded = json.loads(body)
    except json.JSONDecodeError as exc:
        raise errors.TelegramError(
            400, f"Bad Request: can't parse parameter value: {exc.msg}"
        ) from exc
    return {
        str(key): value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        for key, value in decoded.items()
        if value is not None
    }


def lenient_int(text: str | None) -> int:
    """Leading integer of `text`; 0 when there is none (the reference server's `to_integer`)."""
    match = _INTEGER.match(text.strip()) if text else None
    return int(match.group(0)) if match else 0


class Params:
    """One call's parameters, each read as Telegram reads it."""

    def __init__(self, values: dict[str, str]) -> None:
        self._values = values

    def has(self, name: str) -> bool:
        return name in self._values

    def text(self, name: str) -> str:
        return self._values.get(name, "")

    def optional_text(self, name: str) -> str | None:
        return self._values.get(name)

    def integer(self, name: str, default: int = 0) -> int:
        return lenient_int(self._values[name]) if name in self._values else default

    def clamped(self, name: str, default: int, low: int, high: int) -> int:
        return min(max(self.integer(name, default), low), high)

    def boolean(self, name: str) -> bool:
        return self._values.get(name, "").strip().lower() in _TRUE

    def json_value(self, name: str, *, bad: str) -> Any:
        """The JSON value of `name` (None when absent); `bad` is the 400 for unparsable JSON."""
        raw = self._values.get(name)
        if raw is None or raw == "":
            return None
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise errors.bad_request(bad) from exc

    def string_list(self, name: str) -> list[str] | None:
        """A JSON array of strings such as `allowed_updates`; unparsable JSON is ignored."""
        try:
            value = self.json_value(name, bad="")
        except errors.TelegramError:
            return None
        if not isinstance(value, list):
            return None
        return [item for item in value if isinstance(item, str)]

    def entities(self, name: str) -> list[MessageEntity]:
        """`entities` / `quote_entities`: a JSON array of MessageEntity."""
        value = self.json_value(name, bad="can't parse entities JSON object")
        return parse_entities(value)

    def reply_parameters(self) -> ReplyParameters | None:
        """`reply_parameters`, or the legacy `reply_to_message_id` pair."""
        value = self.json_value("reply_parameters", bad="can't parse reply parameters JSON object")
        if value is None:
            if not self.has("reply_to_message_id"):
                return None
            return ReplyParameters(
                message_id=self.integer("reply_to_message_id"),
                allow_sending_without_reply=self.boolean("allow_sending_without_reply"),
            )
        if not isinstance(value, dict):
            raise errors.bad_request("object expected as reply parameters")
        return ReplyParameters(
            message_id=_required_number(value, "message_id"),
            chat_id=value.get("chat_id"),
            allow_sending_without_reply=_json_bool(value.get("allow_sending_without_reply")),
            quote=_json_str(value.get("quote")),
            quote_position=_optional_number(value, "quote_position"),
            quote_entities=parse_entities(value.get("quote_entities")),
        )

    def reactions(self) -> list[ReactionType]:
        """`reaction`: a JSON array of ReactionType (absent or empty: remove)."""
        value = self.json_value("reaction", bad=errors.REACTIONS_JSON)
        if value is None:
            return []
        if not isinstance(value, list):
            raise errors.bad_request(errors.REACTIONS_ARRAY)
        out: list[ReactionType] = []
        for item in value:
            if not isinstance(item, dict):
                raise errors.bad_request(errors.REACTION_TYPE)
            kind = item.get("type")
            if kind == "emoji" and isinstance(item.get("emoji"), str):
                out.append(ReactionType(type="emoji", emoji=item["emoji"]))
            elif kind == "custom_emoji" and isinstance(item.get("custom_emoji_id"), str):
                out.append(
                    ReactionType(type="custom_emoji", custom_emoji_id=item["custom_emoji_id"])
                )
            elif kind == "paid":
                out.append(ReactionType(type="paid"))
            else:
                raise errors.bad_request(errors.REACTION_TYPE)
        return out


class ReplyParameters:
    """What a send method was asked to reply to."""

    def __init__(
        self,
        *,
        message_id: int,
        chat_id: Any = None,
        allow_sending_without_reply: bool = False,
        quote: str | None = None,
        quote_position: int | None = None,
        quote_entities: list[MessageEntity] | None = None,
    ) -> None:
        self.message_id = message_id
        self.chat_id = chat_id
        self.allow_sending_without_reply = allow_sending_without_reply
        self.quote = quote
        self.quote_position = quote_position
        self.quote_entities = quote_entities or []


def parse_entities(value: Any) -> list[MessageEntity]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise errors.bad_request("can't parse entities: expected an Array of MessageEntity")
    out: list[MessageEntity] = []
    for item in value:
        if not isinstance(item, dict):
            raise errors.bad_request("can't parse MessageEntity: object expected")
        kind = item.get("type")
        if not isinstance(kind, str) or kind not in _ENTITY_TYPES:
            raise errors.bad_request("can't parse MessageEntity: unsupported entity type")
        user: User | None = None
        if kind == "text_mention":
            raw_user = item.get("user")
            if not isinstance(raw_user, dict):
                raise errors.bad_request("can't parse MessageEntity: can't find field \"user\"")
            user = User(
                id=_required_number(raw_user, "id"),
                is_bot=bool(raw_user.get("is_bot", False)),
                first_name=str(raw_user.get("first_name", "")),
            )
        out.append(
            MessageEntity(
                offset=_required_number(item, "offset"),
                length=_required_number(item, "length"),
                type=kind,
                url=_json_str(item.get("url")),
                user=user,
                language=_json_str(item.get("language")),
                custom_emoji_id=_json_str(item.get("custom_emoji_id")),
            )
        )
    return out


def _required_number(obj: dict[str, Any], field: str) -> int:
    if field not in obj:
        raise errors.bad_request(f'can\'t find field "{field}"')
    number = _optional_number(obj, field)
    assert number is not None
    return number


def _optional_number(obj: dict[str, Any], field: str) -> int | None:
    value = obj.get(field)
    if value is None:
        return None
    if isinstance(value, bool):
        raise errors.bad_request(f'field "{field}" must be a Number')
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        if _INTEGER.fullmatch(value.strip()):
            return int(value)
        raise errors.bad_request(f'field "{field}" must be a valid Number')
    raise errors.bad_request(f'field "{field}" must be a Number')


def _json_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in _TRUE
    return value is True


def _json_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
