"""Building what sendMessage gets from an approved message: pure functions.

- Text: Telegram refuses more than 4096 characters (code points, after
  trimming) or 32768 bytes; such a text is rejected here, before sending.
- Replies: `reply_parameters` with `allow_sending_without_reply` (the target
  may have been deleted), and a `quote` only when it is an exact substring of
  the target's text (else Telegram answers `QUOTE_TEXT_INVALID`).
- Mentions: an `@username` is recognised by Telegram from the text itself;
  a person without a username gets a `text_mention` entity carrying their
  user id, with offsets and lengths in UTF-16 code units.
- Typing: how long a bot "types" a text, from its length and the bot's speed.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence

from piyasa_contracts.events._common import ChatLine
from piyasa_contracts.events.work import MentionEntity
from piyasa_dispatcher.telegram import MessageEntity, ReplyParameters, User

MAX_TEXT_CHARS = 4096
MAX_TEXT_BYTES = 32768
MAX_QUOTE_UNITS = 1024


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def utf16_slice(text: str, offset: int, length: int) -> str:
    units = text.encode("utf-16-le")
    return units[2 * offset : 2 * (offset + length)].decode("utf-16-le", errors="replace")


def too_long(text: str) -> str | None:
    """Telegram's own description when it would refuse `text` for its length, else None."""
    if len(text.encode("utf-8")) > MAX_TEXT_BYTES:
        return "text is too long"
    if len(text.strip()) > MAX_TEXT_CHARS:
        return "message is too long"
    return None


def quote_for(target: ChatLine | None, quote: str | None) -> str | None:
    """The quote to send: only an exact, non-blank substring of the target's text."""
    if target is None or not quote or not quote.strip():
        return None
    if quote not in target.text or utf16_len(quote.strip()) > MAX_QUOTE_UNITS:
        return None
    return quote


def reply_parameters(message_id: int | None, quote: str | None) -> ReplyParameters | None:
    if message_id is None:
        return None
    return ReplyParameters(message_id=message_id, allow_sending_without_reply=True, quote=quote)


def person_mentions(mentions: Sequence[MentionEntity], text: str) -> list[MentionEntity]:
    """The mentions that need an entity: spans that are not an `@username`."""
    out: list[MentionEntity] = []
    for mention in mentions:
        span = utf16_slice(text, mention.offset, mention.length)
        if span and not span.startswith("@") and mention.offset + mention.length <= utf16_len(text):
            out.append(mention)
    return out


def mention_entities(
    mentions: Sequence[MentionEntity], text: str, telegram_ids: Mapping[str, int]
) -> list[MessageEntity]:
    """`text_mention` entities for the mentioned people whose Telegram id is known."""
    entities: list[MessageEntity] = []
    for mention in person_mentions(mentions, text):
        user_id = telegram_ids.get(mention.member_id)
        if user_id is None:
            continue  # erased, or never seen: the name stays plain text
        name = utf16_slice(text, mention.offset, mention.length)
        entities.append(
            MessageEntity(
                type="text_mention",
                offset=mention.offset,
                length=mention.length,
                user=User(id=user_id, is_bot=False, first_name=name),
            )
        )
    return entities


def speed_factor(bot_id: str) -> float:
    """Each bot's own typing speed, relative to the fleet's (0.8x to 1.25x), stable forever."""
    digest = hashlib.blake2b(bot_id.encode(), digest_size=2).digest()
    return 0.8 + 0.45 * int.from_bytes(digest, "big") / 0xFFFF


def typing_seconds(
    text: str,
    *,
    bot_id: str,
    chars_per_second: float,
    max_s: float,
    jitter: float,
    rng: random.Random,
) -> float:
    """Seconds of typing before `text` goes out: its length at the bot's speed, jittered."""
    if max_s <= 0 or chars_per_second <= 0:
        return 0.0
    base = len(text) / (chars_per_second * speed_factor(bot_id))
    spread = 1.0 + rng.uniform(-jitter, jitter) if jitter > 0 else 1.0
    return max(0.0, min(max_s, base * spread))
