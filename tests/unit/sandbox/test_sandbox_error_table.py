"""The reference server's description rules."""

from __future__ import annotations

from piyasa_sandbox import errors


def test_prefix_and_first_letter_rules() -> None:
    assert errors.describe(400, "Message is too long") == "Bad Request: message is too long"
    assert errors.describe(400, "QUOTE_TEXT_INVALID") == "Bad Request: QUOTE_TEXT_INVALID"
    assert errors.describe(403, "Bot was kicked") == "Forbidden: bot was kicked"
    assert errors.describe(401) == "Unauthorized"


def test_envelope_key_order_and_parameters() -> None:
    error = errors.bad_request(errors.GROUP_UPGRADED, migrate_to_chat_id=-100123)
    assert list(error.envelope()) == ["ok", "error_code", "description", "parameters"]
    assert errors.bad_request("chat not found").envelope() == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: chat not found",
    }
    flood = errors.too_many_requests(0)
    assert flood.description == "Too Many Requests: retry after 1"
    assert flood.retry_after == 1
