"""`parse_mode=HTML`: Telegram's small HTML subset turned into text and entities.

Only HTML is parsed; `Markdown` and `MarkdownV2` are accepted and the text is
kept as sent (a known gap of the sandbox).
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Final

from . import errors
from .models import MessageEntity, User
from .params import lenient_int
from .text import utf16_len

__all__ = ["parse_html"]

_TAGS: Final = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "code": "code", "pre": "pre", "a": "text_link", "tg-spoiler": "spoiler",
    "blockquote": "blockquote", "span": "spoiler",
}  # fmt: skip


_USER_LINK: Final = "tg://user?id="


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.units = 0
        self.open: list[tuple[str, int, str | None]] = []
        self.entities: list[MessageEntity] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _TAGS:
            raise errors.bad_request(f'can\'t parse entities: Unsupported start tag "{tag}"')
        url = dict(attrs).get("href") if tag == "a" else None
        if tag == "a" and not url:
            raise errors.bad_request("can't parse entities: Can't find end of a URL")
        self.open.append((tag, self.units, url))

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1][0] != tag:
            raise errors.bad_request(f'can\'t parse entities: Unmatched end tag "{tag}"')
        _, start, url = self.open.pop()
        if self.units > start:
            kind = _TAGS[tag]
            user: User | None = None
            if kind == "text_link" and url and url.startswith(_USER_LINK):
                kind = "text_mention"
                user = User(id=lenient_int(url[len(_USER_LINK) :]), is_bot=False, first_name="")
            self.entities.append(
                MessageEntity(
                    offset=start,
                    length=self.units - start,
                    type=kind,
                    url=url if kind == "text_link" else None,
                    user=user,
                )
            )

    def handle_data(self, data: str) -> None:
        self.parts.append(data)
        self.units += utf16_len(data)


def parse_html(markup: str) -> tuple[str, list[MessageEntity]]:
    """Plain text and its entities; 400 `can't parse entities: ...` on bad markup."""
    parser = _Parser()
    parser.feed(markup)
    parser.close()
    if parser.open:
        tag = parser.open[-1][0]
        raise errors.bad_request(
            f"can't parse entities: Can't find end tag corresponding to start tag \"{tag}\""
        )
    return "".join(parser.parts), sorted(parser.entities, key=lambda e: (e.offset, -e.length))
