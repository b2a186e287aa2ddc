"""Lenient scalars and typed sub-object errors, as the reference server reads them."""

from __future__ import annotations

import pytest
from piyasa_sandbox.errors import TelegramError
from piyasa_sandbox.params import Params, lenient_int


def test_lenient_integers_and_booleans() -> None:
    assert lenient_int("42abc") == 42
    assert lenient_int("abc") == 0
    assert lenient_int("-100123") == -100123
    params = Params({"limit": "500", "a": " Yes ", "b": "on"})
    assert params.clamped("limit", 100, 1, 100) == 100
    assert params.boolean("a") is True
    assert params.boolean("b") is False


@pytest.mark.parametrize(
    ("raw", "description"),
    [
        ("[1]", "Bad Request: object expected as reply parameters"),
        ("{", "Bad Request: can't parse reply parameters JSON object"),
        ("{}", 'Bad Request: can\'t find field "message_id"'),
        ('{"message_id": "x"}', 'Bad Request: field "message_id" must be a valid Number'),
        ('{"message_id": true}', 'Bad Request: field "message_id" must be a Number'),
    ],
)
def test_reply_parameters_errors(raw: str, description: str) -> None:
    with pytest.raises(TelegramError) as caught:
        Params({"reply_parameters": raw}).reply_parameters()
    assert caught.value.description == description


def test_legacy_reply_fields_still_work() -> None:
    reply = Params(
        {"reply_to_message_id": "7", "allow_sending_without_reply": "true"}
    ).reply_parameters()
    assert reply is not None
    assert (reply.message_id, reply.allow_sending_without_reply) == (7, True)
