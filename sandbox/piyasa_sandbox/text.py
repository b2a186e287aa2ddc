"""Text as Telegram measures it: UTF-16 offsets, entities found in text, quotes.

Telegram counts entity offsets and lengths in UTF-16 code units, so an emoji
outside the BMP counts 2 and a Turkish `ş` counts 1; a message's length limit
is counted in code points.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Final

from .models import MessageEntity, User

__all__ = [
    "entity_text",
    "find_entities",
    "find_quote",
    "merge_entities",
    "utf16_len",
]

_USERNAME_CHARS: Final = "A-Za-z0-9_"
# @username: 3-32 username characters, not glued to a word or another @ before it.
_MENTION = re.compile(
    rf"(?<![{_USERNAME_CHARS}@])@([{_USERNAME_CHARS}]{{3,32}})(?![{_USERNAME_CHARS}])"
)
# /command or /command@bot at the start or after a space or an opening bracket.
_COMMAND = re.compile(
    rf"(?:^|(?<=[\s(\[{{]))/([{_USERNAME_CHARS}]{{1,64}})(@[{_USERNAME_CHARS}]{{3,32}})?"
    rf"(?![{_USERNAME_CHARS}/@])"
)
_HASHTAG = re.compile(r"(?<![\w#])#(\w*[^\W\d_]\w*)")
_CASHTAG = re.compile(r"(?<![\w$])\$([A-Z]{1,8})(?![\w])")
_URL = re.compile(r"(?<![\w@/])(?:https?://)[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")


def utf16_len(text: str) -> int:
    """Length of `text` in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _to_index(text: str, utf16_offset: int) -> int:
    """The Python index at UTF-16 offset `utf16_offset` (clamped to the text)."""
    units = 0
    for index, char in enumerate(text):
        if units >= utf16_offset:
            return index
        units += 2 if ord(char) > 0xFFFF else 1
    return len(text)


def entity_text(text: str, offset: int, length: int) -> str:
    """The text an entity covers, from its UTF-16 `offset` and `length`."""
    start = _to_index(text, offset)
    end = _to_index(text, offset + length)
    return text[start:end]


def find_entities(text: str) -> list[MessageEntity]:
    """Entities Telegram detects by itself: mentions, commands, hashtags, cashtags, URLs."""
    found: list[MessageEntity] = []
    patterns: tuple[tuple[re.Pattern[str], str], ...] = (
        (_URL, "url"),
        (_MENTION, "mention"),
        (_COMMAND, "bot_command"),
        (_HASHTAG, "hashtag"),
        (_CASHTAG, "cashtag"),
    )
    for pattern, kind in patterns:
        for match in pattern.finditer(text):
            offset = utf16_len(text[: match.start()])
            found.append(MessageEntity(offset=offset, length=utf16_len(match.group(0)), type=kind))
    return merge_entities([], found)


def merge_entities(
    given: Iterable[MessageEntity], detected: Iterable[MessageEntity]
) -> list[MessageEntity]:
    """`given` plus each detected entity that overlaps none already kept, ordered by offset."""
    kept = list(given)
    for entity in detected:
        end = entity.offset + entity.length
        if all(end <= k.offset or entity.offset >= k.offset + k.length for k in kept):
            kept.append(entity)
    return sorted(kept, key=lambda e: (e.offset, -e.length))


def mentioned_usernames(text: str, entities: Iterable[MessageEntity]) -> list[str]:
    """Lowercased usernames of the `mention` entities, in order."""
    names: list[str] = []
    for entity in entities:
        if entity.type == "mention":
            names.append(entity_text(text, entity.offset, entity.length).lstrip("@").lower())
    return names


def commands(text: str, entities: Iterable[MessageEntity]) -> list[tuple[str, str | None]]:
    """(command, lowercased @target or None) for each `bot_command` entity."""
    found: list[tuple[str, str | None]] = []
    for entity in entities:
        if entity.type == "bot_command":
            span = entity_text(text, entity.offset, entity.length).lstrip("/")
            name, _, target = span.partition("@")
            found.append((name, target.lower() or None))
    return found


def find_quote(text: str, quote: str, position: int | None) -> int | None:
    """UTF-16 position of `quote` in `text`: the occurrence nearest `position`, or None."""
    starts: list[int] = []
    index = text.find(quote)
    while index >= 0:
        starts.append(utf16_len(text[:index]))
        index = text.find(quote, index + 1)
    if not starts:
        return None
    if position is None:
        return starts[0]
    return min(starts, key=lambda start: abs(start - position))


def with_users(
    entities: Iterable[MessageEntity], lookup: Callable[[int], User | None]
) -> list[MessageEntity]:
    """`text_mention` entities with their `user` filled in from the sandbox's accounts."""
    out: list[MessageEntity] = []
    for entity in entities:
        if entity.type == "text_mention" and entity.user is not None:
            known = lookup(entity.user.id)
            if known is not None:
                entity = entity.model_copy(update={"user": known})
        out.append(entity)
    return out
