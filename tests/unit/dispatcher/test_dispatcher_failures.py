"""The error table: each of Telegram's answers maps to exactly one action."""

from __future__ import annotations

import pytest

from piyasa_contracts.events.conversation import FailureAction
from piyasa_dispatcher.failures import Action, classify
from piyasa_dispatcher.telegram import TelegramApiError, TelegramNetworkError


def api(status: int, description: str, **parameters: int) -> TelegramApiError:
    return TelegramApiError(
        "sendMessage",
        status=status,
        error_code=status,
        description=description,
        retry_after=parameters.get("retry_after"),
        migrate_to_chat_id=parameters.get("migrate_to_chat_id"),
    )


@pytest.mark.parametrize(
    ("status", "description", "action"),
    [
        (401, "Unauthorized", Action.DISABLE_BOT),
        (401, "Unauthorized: invalid token specified", Action.DISABLE_BOT),
        (404, "Not Found", Action.DISABLE_BOT),
        (403, "Forbidden: bot is not a member of the supergroup chat", Action.DISABLE_IN_CHAT),
        (403, "Forbidden: bot is not a member of the group chat", Action.DISABLE_IN_CHAT),
        (403, "Forbidden: bot was kicked from the supergroup chat", Action.DISABLE_IN_CHAT),
        (403, "Forbidden: bot was kicked from the group chat", Action.DISABLE_IN_CHAT),
        (403, "Forbidden: the group chat was deleted", Action.DISABLE_IN_CHAT),
        (403, "Forbidden: bot was blocked by the user", Action.DISABLE_IN_CHAT),
        (403, "Forbidden: user is deactivated", Action.DISABLE_IN_CHAT),
        (403, "Forbidden: bot can't initiate conversation with a user", Action.DISABLE_IN_CHAT),
        (403, "Forbidden: a text Telegram adds one day", Action.DISABLE_IN_CHAT),
        (400, "Bad Request: chat not found", Action.DISABLE_IN_CHAT),
        (400, "Bad Request: CHAT_WRITE_FORBIDDEN", Action.DISABLE_IN_CHAT),
        (
            400,
            "Bad Request: not enough rights to send text messages to the chat",
            Action.DISABLE_IN_CHAT,
        ),
        (400, "Bad Request: have no rights to send a message", Action.DISABLE_IN_CHAT),
        (400, "Bad Request: CHAT_RESTRICTED", Action.DISABLE_IN_CHAT),
        (
            400,
            "Bad Request: group chat was upgraded to a supergroup chat",
            Action.DISABLE_IN_CHAT,
        ),
        (500, "Internal Server Error", Action.RETRY),
        (502, "Bad Gateway", Action.RETRY),
        (400, "Bad Request: message is too long", Action.DROP),
        (400, "Bad Request: QUOTE_TEXT_INVALID", Action.DROP),
        (400, "Bad Request: message text is empty", Action.DROP),
        (400, "Bad Request: can't parse entities: bad offset", Action.DROP),
        (404, "Not Found: method not found", Action.DROP),
        (409, "Conflict: terminated by setWebhook request", Action.DROP),
    ],
)
def test_each_description_has_one_action(status: int, description: str, action: Action) -> None:
    failure = classify(api(status, description))

    assert failure.action is action
    assert failure.description == description  # Telegram's text is kept as is
    assert failure.error_code == status


def test_matching_ignores_case_as_client_libraries_rewrite_it() -> None:
    assert classify(api(400, "bad request: chat_write_forbidden")).action is Action.DISABLE_IN_CHAT


def test_429_carries_retry_after_whatever_else_it_says() -> None:
    failure = classify(api(429, "Too Many Requests: retry after 7", retry_after=7))

    assert (failure.action, failure.retry_after) == (Action.RETRY_AFTER, 7)
    assert failure.action.reported_as is FailureAction.RETRY


def test_a_new_chat_id_means_migrate_whatever_the_description() -> None:
    failure = classify(
        api(
            400,
            "Bad Request: group chat was upgraded to a supergroup chat",
            migrate_to_chat_id=-1009,
        )
    )

    assert (failure.action, failure.migrate_to_chat_id) == (Action.MIGRATE_CHAT, -1009)


def test_no_answer_is_retried_only_when_the_request_never_left() -> None:
    refused = classify(TelegramNetworkError("sendMessage", "ConnectError", sent=False))
    timed_out = classify(TelegramNetworkError("sendMessage", "ReadTimeout", sent=True))

    assert refused.action is Action.RETRY and refused.error_code is None
    assert timed_out.action is Action.AMBIGUOUS
    assert timed_out.action.reported_as is FailureAction.DROP
    assert "not sent again" in timed_out.description
