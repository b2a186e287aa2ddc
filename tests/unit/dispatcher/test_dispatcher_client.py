"""The Bot API client: one place maps answers to results or typed errors, and no error
carries the token (it is in every URL)."""

from __future__ import annotations

import json

import httpx
import pytest

from piyasa_dispatcher.telegram import (
    BotApi,
    ReplyParameters,
    TelegramApiError,
    TelegramNetworkError,
)

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"


def api_with(handler: httpx.MockTransport) -> BotApi:
    return BotApi("https://telegram.test", transport=handler)


async def test_a_send_is_posted_as_json_and_its_message_parsed() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = {
            "ok": True,
            "result": {
                "message_id": 5,
                "from": {"id": 123456789, "is_bot": True, "first_name": "A"},
                "chat": {"id": -100, "type": "supergroup", "title": "P"},
                "date": 1,
                "text": "merhaba",
                "a_field_from_2030": {"x": 1},
            },
        }
        return httpx.Response(200, json=body)

    api = api_with(httpx.MockTransport(answer))
    message = await api.send_message(
        TOKEN, -100, "merhaba", reply=ReplyParameters(message_id=3, quote="mer")
    )

    assert message.message_id == 5 and message.reply_to_message is None
    [request] = seen
    assert request.url.path == f"/bot{TOKEN}/sendMessage"
    assert json.loads(request.content) == {
        "chat_id": -100,
        "text": "merhaba",
        "reply_parameters": {"message_id": 3, "allow_sending_without_reply": True, "quote": "mer"},
    }


async def test_an_error_answer_keeps_telegrams_description_and_parameters() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            429,
            json={
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 3",
                "parameters": {"retry_after": 3},
            },
        )

    with pytest.raises(TelegramApiError) as caught:
        await api_with(httpx.MockTransport(answer)).send_message(TOKEN, -1, "x")

    error = caught.value
    assert (error.status, error.error_code, error.retry_after) == (429, 429, 3)
    assert error.description == "Too Many Requests: retry after 3"
    assert TOKEN not in str(error)


async def test_an_unreadable_answer_is_an_error_with_the_http_status() -> None:
    api = api_with(httpx.MockTransport(lambda r: httpx.Response(502, text="<html>bad</html>")))

    with pytest.raises(TelegramApiError) as caught:
        await api.get_me(TOKEN)

    assert (caught.value.error_code, caught.value.description) == (502, "HTTP 502")


async def test_no_answer_says_whether_the_request_may_have_arrived() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    def time_out(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout(f"no answer from {request.url}", request=request)

    with pytest.raises(TelegramNetworkError) as refused:
        await api_with(httpx.MockTransport(refuse)).send_message(TOKEN, -1, "x")
    with pytest.raises(TelegramNetworkError) as timed_out:
        await api_with(httpx.MockTransport(time_out)).send_message(TOKEN, -1, "x")

    assert refused.value.sent is False and timed_out.value.sent is True
    for error in (refused.value, timed_out.value):
        assert TOKEN not in str(error) and error.__cause__ is None and error.__context__ is not None


async def test_get_updates_always_names_the_allowed_updates() -> None:
    seen: list[dict[str, object]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json={"ok": True, "result": [{"update_id": 1}]})

    updates = await api_with(httpx.MockTransport(answer)).get_updates(
        TOKEN, offset=None, timeout_s=0
    )

    assert updates == [{"update_id": 1}]
    assert seen[0]["allowed_updates"] == [
        "message",
        "edited_message",
        "message_reaction",
        "my_chat_member",
    ]
