"""Cleaning a model's answer into a chat message: what models add that people don't type.

Removed: surrounding quotes, a role or name prefix ("Assistant:", "Ayşe:"), markdown
(bold, italics, headings, bullets, code, links), "Here is the message:" preambles,
emoji when the chat's style forbids them, and whatever runs past the length limit
(cut at a sentence end when one is close, else at a word, with an ellipsis).
"""

# ruff: noqa: RUF001, RUF003 -- Turkish text: ı, İ, ş, ğ are letters, not look-alikes.

from __future__ import annotations

import re

_QUOTES = {'"': '"', "'": "'", "“": "”", "„": "“", "«": "»", "‘": "’", "`": "`", "”": "”"}

_ROLE_WORDS = (
    "assistant",
    "asistan",
    "bot",
    "ai",
    "model",
    "answer",
    "reply",
    "response",
    "message",
    "cevap",
    "yanıt",
    "yanit",
    "mesaj",
)
_PREAMBLE = re.compile(
    r"^(?:sure|of course|okay|ok|here(?:'s| is)(?: (?:my|the|a))? (?:message|reply|response)"
    r"|tabii(?: ki)?|elbette|işte (?:mesaj|cevap|yanıt)(?:ım)?)\b[^\n:]*:\s*",
    re.IGNORECASE,
)
_LABEL = re.compile(r"^\s*[\[(*_]*([^\n:*\]\)]{1,40}?)[\])*_]*\s*:[*_]*\s*(?=\S)")
_CODE_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\n?(.*?)```", re.DOTALL)
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_LINK = re.compile(r"\[([^\]\n]+)\]\((?:https?://[^)\s]+)\)")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", re.DOTALL)
_ITALIC_STAR = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_ITALIC_UNDERSCORE = re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+", re.MULTILINE)
_BULLET = re.compile(r"^\s*[-*+•]\s+", re.MULTILINE)
_NUMBERED = re.compile(r"^\s*\d{1,2}[.)]\s+", re.MULTILINE)
_BLOCKQUOTE = re.compile(r"^\s*>\s?", re.MULTILINE)
_RULE = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,})\s*$", re.MULTILINE)
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n{2,}")
_SENTENCE_END = re.compile(r"[.!?…](?=\s|$)")
_EMOJI = re.compile(
    "["
    "\U0001f1e6-\U0001f1ff"  # flags
    "\U0001f300-\U0001faff"  # symbols, pictographs, emoticons, transport, supplemental
    "\u2600-\u27bf"  # misc symbols, dingbats
    "\u2b00-\u2bff"
    "\ufe0f\u200d"
    "]+"
)


def clean(
    text: str,
    *,
    max_chars: int,
    names: tuple[str, ...] = (),
    allow_emoji: bool = True,
    allow_markdown: bool = False,
) -> str:
    """The message as it should be posted; empty when nothing usable is left.

    `names` are the speaker's own names, removed when the model prefixed them.
    """
    out = text.replace("\r\n", "\n").strip()
    for _ in range(3):  # prefixes and quotes nest: '"Ayşe: „...“"'
        before = out
        out = _strip_prefix(out, names)
        out = _strip_quotes(out)
        if out == before:
            break
    if not allow_markdown:
        out = _strip_markdown(out)
    if not allow_emoji:
        out = _EMOJI.sub("", out)
    out = "\n".join(_SPACES.sub(" ", line).strip() for line in out.split("\n"))
    out = _BLANK_LINES.sub("\n", out).strip()
    out = _strip_quotes(out)
    return truncate(out, max_chars)


def truncate(text: str, max_chars: int) -> str:
    """At most `max_chars` characters, cut where a reader would not notice if possible."""
    if len(text) <= max_chars:
        return text
    head = text[:max_chars]
    ends = [m.end() for m in _SENTENCE_END.finditer(head)]
    if ends and ends[-1] >= max_chars * 0.6:
        return head[: ends[-1]].rstrip()
    cut = head[: max_chars - 1]
    space = cut.rfind(" ")
    if space >= max_chars * 0.5:
        cut = cut[:space]
    return cut.rstrip(" ,;:-–—") + "…"


def _strip_prefix(text: str, names: tuple[str, ...]) -> str:
    text = _PREAMBLE.sub("", text, count=1)
    match = _LABEL.match(text)
    if match:
        label = match.group(1).strip().lower()
        known = {n.strip().lower() for n in names if n.strip()}
        if label in known or label in _ROLE_WORDS or label.lstrip("@") in known:
            return text[match.end() :]
    return text


def _strip_quotes(text: str) -> str:
    text = text.strip()
    while len(text) >= 2 and text[0] in _QUOTES and text[-1] == _QUOTES[text[0]]:
        inner = text[1:-1].strip()
        # '"a" and "b"' is not one quoted message: keep it when the quote reopens inside.
        if text[0] in inner and _QUOTES[text[0]] == text[0] and inner.count(text[0]) % 2 == 1:
            break
        text = inner
    return text


def _strip_markdown(text: str) -> str:
    text = _CODE_FENCE.sub(lambda m: m.group(1).strip(), text)
    text = _INLINE_CODE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _RULE.sub("", text)
    text = _HEADING.sub("", text)
    text = _BLOCKQUOTE.sub("", text)
    text = _BULLET.sub("", text)
    if text.count("\n") >= 1 and len(_NUMBERED.findall(text)) >= 2:
        text = _NUMBERED.sub("", text)  # a list; a single "1. çeyrek" line is not one
    for _ in range(2):  # ***both*** is bold inside italics
        text = _BOLD.sub(r"\2", text)
        text = _STRIKE.sub(r"\1", text)
        text = _ITALIC_STAR.sub(r"\1", text)
        text = _ITALIC_UNDERSCORE.sub(r"\1", text)
    return text
