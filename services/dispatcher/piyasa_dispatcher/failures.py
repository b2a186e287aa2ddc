"""The error table: every way a Bot API call fails, mapped to exactly one action.

Built from TELEGRAM.md's exact descriptions. Matching ignores case, and is
exact unless a row says `prefix` (Telegram appends the chat kind to some).
Rows are tried in order; the first match decides.

| answer                                                    | action          |
|-----------------------------------------------------------|-----------------|
| 429 (any), `parameters.retry_after`                       | retry_after     |
| any with `parameters.migrate_to_chat_id`                  | migrate_chat    |
| 401 `Unauthorized` (any 401)                              | disable_bot     |
| 404 `Not Found` (malformed token at api.telegram.org)     | disable_bot     |
| 403 `Forbidden: bot is not a member of the …` (prefix)    | disable_in_chat |
| 403 `Forbidden: bot was kicked from the …` (prefix)       | disable_in_chat |
| 403 `Forbidden: the group chat was deleted`               | disable_in_chat |
| 403 `Forbidden: bot was blocked by the user`              | disable_in_chat |
| 403 `Forbidden: user is deactivated`                      | disable_in_chat |
| 403 `Forbidden: bot can't initiate conversation with a user` | disable_in_chat |
| 403 (any other)                                           | disable_in_chat |
| 400 `Bad Request: chat not found` (a chat the bot is not in) | disable_in_chat |
| 400 `Bad Request: CHAT_WRITE_FORBIDDEN`                   | disable_in_chat |
| 400 `Bad Request: not enough rights …` (prefix)           | disable_in_chat |
| 400 `Bad Request: have no rights to send a message`       | disable_in_chat |
| 400 `Bad Request: CHAT_RESTRICTED`                        | disable_in_chat |
| 400 `Bad Request: group chat was upgraded to a supergroup chat` (no new id) | disable_in_chat |
| 5xx (any)                                                 | retry           |
| no answer, the request never left (connect error)         | retry           |
| no answer after the request left (read timeout, reset)    | ambiguous       |
| 400 (any other: `message is too long`, `QUOTE_TEXT_INVALID`, …) | drop (description kept) |
| anything else (404 `Not Found: method not found`, 409, …) | drop (description kept) |

`ambiguous` is the exactly-once rule at work: Telegram may have posted the
message, so it is never sent again; it is counted and reported as a drop
whose description says the outcome is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from piyasa_contracts.events.conversation import FailureAction
from piyasa_dispatcher.telegram import TelegramApiError, TelegramError, TelegramNetworkError


class Action(StrEnum):
    RETRY_AFTER = "retry_after"
    MIGRATE_CHAT = "migrate_chat"
    DISABLE_BOT = "disable_bot"
    DISABLE_IN_CHAT = "disable_in_chat"
    RETRY = "retry"
    AMBIGUOUS = "ambiguous"
    DROP = "drop"

    @property
    def reported_as(self) -> FailureAction:
        """The contract's action a `dispatch.failed` event carries for this one."""
        return _REPORTED[self]


_REPORTED: Final = {
    Action.RETRY_AFTER: FailureAction.RETRY,
    Action.MIGRATE_CHAT: FailureAction.MIGRATE_CHAT,
    Action.DISABLE_BOT: FailureAction.DISABLE_BOT,
    Action.DISABLE_IN_CHAT: FailureAction.DISABLE_IN_CHAT,
    Action.RETRY: FailureAction.RETRY,
    Action.AMBIGUOUS: FailureAction.DROP,
    Action.DROP: FailureAction.DROP,
}


@dataclass(frozen=True, slots=True)
class Row:
    status: int | None
    """HTTP status to match; None: any."""
    text: str | None
    """Telegram's description; None: any."""
    action: Action
    prefix: bool = False


TABLE: Final[tuple[Row, ...]] = (
    Row(401, None, Action.DISABLE_BOT),
    Row(404, "Not Found", Action.DISABLE_BOT),
    Row(403, "Forbidden: bot is not a member of the ", Action.DISABLE_IN_CHAT, prefix=True),
    Row(403, "Forbidden: bot was kicked from the ", Action.DISABLE_IN_CHAT, prefix=True),
    Row(403, "Forbidden: the group chat was deleted", Action.DISABLE_IN_CHAT),
    Row(403, "Forbidden: bot was blocked by the user", Action.DISABLE_IN_CHAT),
    Row(403, "Forbidden: user is deactivated", Action.DISABLE_IN_CHAT),
    Row(403, "Forbidden: bot can't initiate conversation with a user", Action.DISABLE_IN_CHAT),
    Row(403, None, Action.DISABLE_IN_CHAT),
    Row(400, "Bad Request: chat not found", Action.DISABLE_IN_CHAT),
    Row(400, "Bad Request: CHAT_WRITE_FORBIDDEN", Action.DISABLE_IN_CHAT),
    Row(400, "Bad Request: not enough rights", Action.DISABLE_IN_CHAT, prefix=True),
    Row(400, "Bad Request: have no rights to send a message", Action.DISABLE_IN_CHAT),
    Row(400, "Bad Request: CHAT_RESTRICTED", Action.DISABLE_IN_CHAT),
    Row(400, "Bad Request: group chat was upgraded to a supergroup chat", Action.DISABLE_IN_CHAT),
)


@dataclass(frozen=True, slots=True)
class Failure:
    """What to do about one failed call, with what Telegram said."""

    action: Action
    error_code: int | None
    description: str
    retry_after: int | None = None
    migrate_to_chat_id: int | None = None


def classify(error: TelegramError) -> Failure:
    """The one action for `error` (see the table in the module docstring)."""
    if isinstance(error, TelegramNetworkError):
        if error.sent:
            return Failure(
                Action.AMBIGUOUS,
                None,
                f"no answer from Telegram ({error.reason}); it may have posted the message, "
                "so it is not sent again",
            )
        return Failure(Action.RETRY, None, f"Telegram unreachable ({error.reason})")
    if not isinstance(error, TelegramApiError):
        return Failure(Action.DROP, None, str(error))
    code, text = error.error_code, error.description
    if code == 429 or error.status == 429:
        return Failure(Action.RETRY_AFTER, 429, text, retry_after=max(1, error.retry_after or 1))
    if error.migrate_to_chat_id:
        return Failure(Action.MIGRATE_CHAT, code, text, migrate_to_chat_id=error.migrate_to_chat_id)
    for row in TABLE:
        if row.status is not None and row.status not in (code, error.status):
            continue
        if row.text is None or _matches(row, text):
            return Failure(row.action, code, text)
    if code >= 500 or error.status >= 500:
        return Failure(Action.RETRY, code, text)
    return Failure(Action.DROP, code, text)


def _matches(row: Row, description: str) -> bool:
    assert row.text is not None
    got, want = description.strip().lower(), row.text.lower()
    return got.startswith(want) if row.prefix else got == want
