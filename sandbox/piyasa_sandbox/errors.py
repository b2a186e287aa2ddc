"""Errors, and the exact answers Telegram gives for them (TELEGRAM.md section 1).

    SandboxError
     ├── TelegramError     a Bot API answer with ok=false: status, description, parameters
     └── AdminError        a refused call to the sandbox's own admin API

Descriptions are built the way the reference server builds them
(`fail_query_with_error`): a prefix by status, then the inner message with its
first letter lowercased unless it looks like an MTProto error name.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = [
    "AdminError",
    "SandboxError",
    "TelegramError",
    "bad_request",
    "conflict",
    "describe",
    "forbidden",
    "too_many_requests",
]

_PREFIX: Final = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


class SandboxError(Exception):
    """Base of every error the sandbox raises on purpose."""


class TelegramError(SandboxError):
    """A Bot API failure: answered with HTTP `status` and the error envelope."""

    def __init__(
        self, status: int, description: str, parameters: dict[str, int] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters or None

    def envelope(self) -> dict[str, Any]:
        """`{"ok":false,"error_code":..,"description":..[,"parameters":..]}` in Telegram's order."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = dict(self.parameters)
        return body

    @property
    def retry_after(self) -> int | None:
        return self.parameters.get("retry_after") if self.parameters else None


class AdminError(SandboxError):
    """A refused admin call: `{"error": message}` with HTTP `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _lower_first(message: str) -> str:
    # MTProto names (`QUOTE_TEXT_INVALID`) keep their case: the reference server
    # leaves the first letter alone when the second is `_` or uppercase.
    if len(message) >= 2 and (message[1] == "_" or message[1].isupper()):
        return message
    return message[:1].lower() + message[1:]


def describe(status: int, message: str = "") -> str:
    """The description Telegram sends for an error of `status` with inner `message`."""
    prefix = _PREFIX.get(status, "Bad Request")
    return f"{prefix}: {_lower_first(message)}" if message else prefix


def bad_request(message: str, **parameters: int) -> TelegramError:
    return TelegramError(400, describe(400, message), parameters)


def forbidden(message: str) -> TelegramError:
    return TelegramError(403, describe(403, message))


def conflict(message: str) -> TelegramError:
    return TelegramError(409, describe(409, message))


def too_many_requests(retry_after: int) -> TelegramError:
    """429 with `parameters.retry_after` (the `Retry-After` header is added by the API layer)."""
    seconds = max(1, int(retry_after))
    return TelegramError(429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds})


# The exact failures, named once (TELEGRAM.md section 1's table). The whole-answer ones are
# functions so that each raise gets a fresh exception (a shared instance keeps growing its
# traceback).
def unauthorized() -> TelegramError:
    return TelegramError(401, "Unauthorized")


def not_found() -> TelegramError:
    return TelegramError(404, "Not Found")


def method_not_found() -> TelegramError:
    return TelegramError(404, "Not Found: method not found")


def internal() -> TelegramError:
    return TelegramError(500, "Internal Server Error")


MESSAGE_TOO_LONG: Final = "message is too long"
TEXT_TOO_LONG: Final = "text is too long"
MESSAGE_TEXT_EMPTY: Final = "message text is empty"
CHAT_NOT_FOUND: Final = "chat not found"
CHAT_ID_EMPTY: Final = "chat_id is empty"
USER_NOT_FOUND: Final = "user not found"
REPLY_NOT_FOUND: Final = "message to be replied not found"
QUOTE_TEXT_INVALID: Final = "QUOTE_TEXT_INVALID"
REACT_NOT_FOUND: Final = "message to react not found"
EDIT_NOT_FOUND: Final = "message to edit not found"
REACTION_INVALID: Final = "REACTION_INVALID"
REACTIONS_TOO_MANY: Final = "REACTIONS_TOO_MANY"
REACTIONS_JSON: Final = "can't parse reaction types JSON object"
REACTIONS_ARRAY: Final = "expected an Array of ReactionType"
REACTION_TYPE: Final = "can't parse ReactionType: invalid reaction type specified"
GROUP_UPGRADED: Final = "group chat was upgraded to a supergroup chat"
CANT_INITIATE: Final = "bot can't initiate conversation with a user"
WRONG_ACTION: Final = "wrong parameter action in request"
UNSUPPORTED_PARSE_MODE: Final = "unsupported parse_mode"
NOT_MODIFIED: Final = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
SECRET_TOO_LONG: Final = "secret token is too long"  # noqa: S105 - an error text
SECRET_BAD_CHARS: Final = "secret token contains unallowed characters"  # noqa: S105
CONFLICT_POLL: Final = (
    "terminated by other getUpdates request; make sure that only one bot instance is running"
)
CONFLICT_SET_WEBHOOK: Final = "terminated by setWebhook request"
CONFLICT_WEBHOOK_ACTIVE: Final = (
    "can't use getUpdates method while webhook is active; use deleteWebhook to delete the "
    "webhook first"
)


def not_member(chat_type: str) -> TelegramError:
    """403 for a bot that is not in the chat (`group` or `supergroup`)."""
    return forbidden(f"bot is not a member of the {_kind(chat_type)} chat")


def kicked(chat_type: str) -> TelegramError:
    """403 for a bot that was removed from the chat by an admin."""
    return forbidden(f"bot was kicked from the {_kind(chat_type)} chat")


def _kind(chat_type: str) -> str:
    return "group" if chat_type == "group" else chat_type
