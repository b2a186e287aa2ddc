"""What a Bot API call can fail with, in one small tree.

    TelegramError
     ├── TelegramApiError      Telegram answered with `ok: false` (or an unreadable body):
     │                         status, error_code, description, retry_after, migrate_to_chat_id
     └── TelegramNetworkError  no answer: `sent` says whether the request may have
                               reached Telegram (a read timeout) or surely did not
                               (a refused connection), which decides whether a
                               sendMessage may be tried again without posting twice

Messages never contain the request URL: Bot API URLs carry the token.
"""

from __future__ import annotations

from typing import Any


class TelegramError(Exception):
    def __init__(self, method: str, message: str) -> None:
        self.method = method
        super().__init__(f"{method}: {message}")


class TelegramApiError(TelegramError):
    """An answer with `ok: false`; `description` is Telegram's text, unchanged."""

    def __init__(
        self,
        method: str,
        *,
        status: int,
        error_code: int,
        description: str,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
    ) -> None:
        self.status = status
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after
        self.migrate_to_chat_id = migrate_to_chat_id
        super().__init__(method, f"{error_code} {description}")

    @classmethod
    def from_answer(cls, method: str, status: int, body: Any) -> TelegramApiError:
        """The error an answer carries; an unreadable body keeps the HTTP status."""
        if not isinstance(body, dict):
            return cls(method, status=status, error_code=status, description=f"HTTP {status}")
        raw = body.get("parameters")
        parameters: dict[str, Any] = raw if isinstance(raw, dict) else {}
        code = body.get("error_code")
        description = body.get("description")
        return cls(
            method,
            status=status,
            error_code=code if isinstance(code, int) else status,
            description=description if isinstance(description, str) else f"HTTP {status}",
            retry_after=_int_or_none(parameters.get("retry_after")),
            migrate_to_chat_id=_int_or_none(parameters.get("migrate_to_chat_id")),
        )


class TelegramNetworkError(TelegramError):
    """No answer. `sent`: the request may have reached Telegram (the outcome is unknown)."""

    def __init__(self, method: str, reason: str, *, sent: bool) -> None:
        self.reason = reason
        self.sent = sent
        super().__init__(method, reason)


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value else None
