"""JSON-lines logging with context fields, trace ids and secret redaction.

One line per record on stdout::

    {"ts": "2025-01-02T03:04:05.678Z", "level": "INFO", "service": "guard",
     "logger": "guard.handlers", "msg": "draft rejected", "trace_id": "...",
     "span_id": "...", "bot_id": "...", "chat_id": "...", "reason": "duplicate"}

Fields come from, in increasing precedence: `log_context(...)` (a contextvar,
so each asyncio task sees its own), then `extra=` on the call. They never
replace the fixed keys (`ts`, `level`, `service`, `logger`, `msg`, `trace_id`,
`span_id`, `exc`, `stack`).

Secrets are masked twice: `RedactingFilter` rewrites the record (message,
string extras, exception and stack text) so any handler sees it masked, and
the formatter masks the final JSON text, so nothing reaches the stream in
plain text, whatever field it hid in.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final, TextIO

from opentelemetry import trace

__all__ = [
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "JsonFormatter",
    "RedactingFilter",
    "configure_logging",
    "current_log_context",
    "log_context",
    "redact",
    "register_secret",
]

REDACTED: Final = "[REDACTED]"

MIN_SECRET_LENGTH: Final = 6
"""Shorter registered values are ignored: masking them would mangle ordinary words."""

# Each alternative matches only characters that JSON never escapes, so masking
# the final JSON text cannot break its structure. Alternatives begin with the
# literal and check the word boundary behind it (`s(?<![A-Za-z0-9]s)k-` is
# `\bsk-`): a leading `\b` is tried at every position and made the pass 3x slower.
_PATTERNS: Final = (
    # Telegram bot token, also inside https://api.telegram.org/bot<token>/...
    r"\d{6,12}:[A-Za-z0-9_-]{30,}",
    # OpenAI (sk-..., sk-proj-...) and Anthropic (sk-ant-...) keys.
    r"s(?<![A-Za-z0-9]s)k-[A-Za-z0-9_-]{20,}",
    # Groq keys (gsk_...) and Fernet tokens (url-safe base64 of version byte 0x80 ...).
    r"g(?<![A-Za-z0-9]g)(?:sk_[A-Za-z0-9]{20,}|AAAAA[A-Za-z0-9_-]{20,}={0,2})",
    # Google (Gemini) API keys.
    r"A(?<![A-Za-z0-9]A)Iza[A-Za-z0-9_-]{30,}",
    # The user info of a URL with a password (nats://user:pass@host, postgresql://...).
    r"(?<=://)[^/@\s:]*:[^/@\s]+(?=@)",
    # The credentials of "Authorization: Bearer <token>" (RFC 6750 b64token).
    r"(?<=Bearer )[A-Za-z0-9._~+/-]+=*",
)


class _Redactor:
    """The compiled patterns plus the secrets registered at run time.

    Two compiled expressions: one for plain text (record fields) and one for
    JSON text, where a registered secret appears in its JSON-escaped form.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self.text = self.json = self._compile(())

    @staticmethod
    def _compile(secrets: tuple[str, ...]) -> re.Pattern[str]:
        # Longest first, so a secret containing another is masked whole.
        literals = [re.escape(s) for s in sorted(secrets, key=len, reverse=True)]
        return re.compile("|".join([*literals, *_PATTERNS]))

    def register(self, value: str) -> None:
        value = value.strip()
        if len(value) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            if value in self._secrets:
                return
            self._secrets.add(value)
            plain = tuple(self._secrets)
            escaped = tuple({json.dumps(s, ensure_ascii=False)[1:-1] for s in plain})
            # Swapped whole: readers never see a half-built pattern.
            self.text, self.json = self._compile(plain), self._compile(escaped)


_REDACTOR: Final = _Redactor()


def register_secret(value: str) -> None:
    """Mask every later occurrence of `value` (e.g. a configured password) in logs.

    Values shorter than `MIN_SECRET_LENGTH` characters after stripping are ignored.
    """
    _REDACTOR.register(value)


def redact(text: str) -> str:
    """`text` with every known secret pattern and registered secret masked."""
    return _REDACTOR.text.sub(REDACTED, text)


_LOG_CONTEXT: Final[contextvars.ContextVar[Mapping[str, Any]]] = contextvars.ContextVar(
    "piyasa_log_context", default=MappingProxyType({})
)


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add `fields` (event_id, bot_id, chat_id, turn_id, consumer, ...) to every
    line logged inside the block, in this task and the tasks it starts.

    Nested blocks add to the outer fields; a field set to None is left out.
    """
    token = _LOG_CONTEXT.set({**_LOG_CONTEXT.get(), **fields})
    try:
        yield
    finally:
        _LOG_CONTEXT.reset(token)


def current_log_context() -> Mapping[str, Any]:
    """The fields `log_context` has set for the current task."""
    return _LOG_CONTEXT.get()


# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRS: Final = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


class RedactingFilter(logging.Filter):
    """Masks secrets in a record before any handler formats it.

    Merges the arguments into the message, and pre-renders the exception and
    stack text (which standard formatters then reuse), so the plain values
    never reach a formatter.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            # A bad format string: leave it for the handler's error reporting.
            return True
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRS and isinstance(value, str):
                record.__dict__[key] = redact(value)
        return True


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object on one line, with secrets masked."""

    _FIXED: Final = frozenset(
        {"ts", "level", "service", "logger", "msg", "trace_id", "span_id", "exc", "stack"}
    )

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _rfc3339(record.created),
            "level": record.levelname,
            "service": self._service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            line["trace_id"] = trace.format_trace_id(span.trace_id)
            line["span_id"] = trace.format_span_id(span.span_id)
        fields = {**_LOG_CONTEXT.get(), **_extra_fields(record)}
        for key, value in fields.items():
            if value is not None and key not in self._FIXED:
                line[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        try:
            text = json.dumps(line, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            # Non-string keys or a reference cycle in an extra field: keep the
            # line, with such values in their repr.
            line = {k: v if isinstance(v, _JSON_SCALARS) else repr(v) for k, v in line.items()}
            text = json.dumps(line, ensure_ascii=False)
        return _REDACTOR.json.sub(REDACTED, text)


_JSON_SCALARS: Final = (str, int, float, bool)


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _RECORD_ATTRS}


def _rfc3339(created: float) -> str:
    moment = datetime.fromtimestamp(created, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class _PiyasaHandler(logging.StreamHandler[TextIO]):
    """Marks the handler `configure_logging` installed, so a second call replaces it."""


def configure_logging(service: str, level: str = "INFO", stream: TextIO | None = None) -> None:
    """Send every log record, as JSON lines with secrets masked, to `stream`
    (stdout by default).

    Replaces the handler a previous call installed; leaves other root handlers
    (e.g. pytest's capture) alone. Library loggers such as uvicorn's propagate
    to this handler.
    """
    try:
        numeric = logging.getLevelNamesMapping()[level.upper()]
    except KeyError:
        raise ValueError(f"unknown log level {level!r}") from None
    handler = _PiyasaHandler(sys.stdout if stream is None else stream)
    handler.setFormatter(JsonFormatter(service))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _PiyasaHandler)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(numeric)
    logging.captureWarnings(True)
