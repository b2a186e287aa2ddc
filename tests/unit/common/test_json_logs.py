"""JSON-lines logging: fixed keys, trace ids, context fields and secret redaction."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider

from piyasa_common.logs import (
    REDACTED,
    RedactingFilter,
    configure_logging,
    log_context,
    redact,
    register_secret,
)

BOT_TOKEN = "7123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq"
TELEGRAM_URL = f"https://api.telegram.org/bot{BOT_TOKEN}/sendMessage"
OPENAI_KEY = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"
GROQ_KEY = "gsk_Zx8Cv7Bn6Mq5Wr4Et3Yu2Io1Pa0Sd9Fg8Hj7Kl"
GEMINI_KEY = "AIzaSyD3x4mPl3K3yN0tR3alAbCdEfGhIjKlMnO"
FERNET_TOKEN = "gAAAAABnR3x0aW1lc3RhbXBfYW5kX2l2X2FuZF9jaXBoZXJ0ZXh0X2htYWM="
BEARER = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvcGVyYXRvciJ9.c2lnbmF0dXJl"
PASSWORD = 'hunter2-"quoted"\\pw'

ALL_SECRETS = (BOT_TOKEN, OPENAI_KEY, GROQ_KEY, GEMINI_KEY, FERNET_TOKEN, BEARER, PASSWORD)


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging("guard", level="DEBUG", stream=stream)
    try:
        yield stream
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_line_carries_fixed_keys_and_extra_fields(output: io.StringIO) -> None:
    logging.getLogger("guard.handlers").info(
        "draft %s rejected", "d-1", extra={"reason": "duplicate"}
    )

    [line] = lines(output)
    assert line["level"] == "INFO"
    assert line["service"] == "guard"
    assert line["logger"] == "guard.handlers"
    assert line["msg"] == "draft d-1 rejected"
    assert line["reason"] == "duplicate"
    assert line["ts"].endswith("Z") and line["ts"][10] == "T"
    assert "trace_id" not in line and "span_id" not in line


def test_line_inside_span_carries_its_trace_and_span_ids(output: io.StringIO) -> None:
    tracer = TracerProvider().get_tracer("test")

    with tracer.start_as_current_span("handle") as span:
        logging.getLogger("guard").info("handling")
    context = span.get_span_context()

    [line] = lines(output)
    assert line["trace_id"] == f"{context.trace_id:032x}"
    assert line["span_id"] == f"{context.span_id:016x}"


def test_context_fields_appear_on_every_line_inside_the_block(output: io.StringIO) -> None:
    log = logging.getLogger("dispatcher")

    with log_context(event_id="e-1", bot_id="b-1", chat_id="c-1"):
        log.info("first")
        with log_context(turn_id="t-1", consumer="dispatcher-approved"):
            log.info("nested")
        log.info("extra wins", extra={"bot_id": "b-2"})
    log.info("outside")

    first, nested, overridden, outside = lines(output)
    assert (first["event_id"], first["bot_id"], first["chat_id"]) == ("e-1", "b-1", "c-1")
    assert "turn_id" not in first
    assert nested["turn_id"] == "t-1" and nested["consumer"] == "dispatcher-approved"
    assert nested["bot_id"] == "b-1"
    assert overridden["bot_id"] == "b-2"
    assert not {"event_id", "bot_id", "chat_id", "turn_id"} & outside.keys()


def test_fields_cannot_replace_the_fixed_keys(output: io.StringIO) -> None:
    with log_context(service="spoofed", level="NOPE"):
        logging.getLogger("guard").warning("careful")

    [line] = lines(output)
    assert line["service"] == "guard" and line["level"] == "WARNING"


def test_exception_text_is_logged_under_exc(output: io.StringIO) -> None:
    try:
        raise RuntimeError("provider unavailable")
    except RuntimeError:
        logging.getLogger("generator").exception("call failed")

    [line] = lines(output)
    assert "RuntimeError: provider unavailable" in line["exc"]
    assert "Traceback" in line["exc"]


def test_no_secret_reaches_the_stream_in_plain_text(output: io.StringIO) -> None:
    register_secret(PASSWORD)
    log = logging.getLogger("dispatcher.telegram")
    message = (
        f"POST {TELEGRAM_URL} token={BOT_TOKEN} openai={OPENAI_KEY} groq={GROQ_KEY} "
        f"gemini={GEMINI_KEY} fernet={FERNET_TOKEN} Authorization: Bearer {BEARER} "
        f"password={PASSWORD}"
    )

    try:
        raise ConnectionError(f"failed {TELEGRAM_URL} with {message}")
    except ConnectionError:
        log.exception(
            "send failed: %s",
            message,
            extra={"url": TELEGRAM_URL, "headers": {"Authorization": f"Bearer {BEARER}"}},
        )
    with log_context(token=BOT_TOKEN, password=PASSWORD):
        log.error("context leak %s", GROQ_KEY, stack_info=True)

    text = output.getvalue()
    for secret in (*ALL_SECRETS, json.dumps(PASSWORD)[1:-1]):
        assert secret not in text
    parsed = lines(output)  # masking the final text kept every line valid JSON
    assert parsed[0]["url"] == f"https://api.telegram.org/bot{REDACTED}/sendMessage"
    assert parsed[0]["headers"] == {"Authorization": f"Bearer {REDACTED}"}
    assert f"Authorization: Bearer {REDACTED}" in parsed[0]["msg"]
    assert REDACTED in parsed[0]["exc"]
    assert parsed[1]["token"] == REDACTED and parsed[1]["password"] == REDACTED


def test_redaction_leaves_ordinary_text_alone() -> None:
    text = "risk-free-investment-strategies-for-everyone chat -1001234567890 at 12:30:00"

    assert redact(text) == text


def test_short_registered_values_are_ignored() -> None:
    register_secret("pg")

    assert redact("piyasa_pg_pool") == "piyasa_pg_pool"


def test_redacting_filter_masks_records_for_any_handler() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "url %s", (TELEGRAM_URL,), None)
    record.__dict__["api_key"] = OPENAI_KEY

    assert RedactingFilter().filter(record)

    assert BOT_TOKEN not in record.getMessage()
    assert record.__dict__["api_key"] == REDACTED


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging("guard", level="LOUD", stream=io.StringIO())


def test_an_unserialisable_extra_field_still_yields_a_line(output: io.StringIO) -> None:
    cycle: list[object] = []
    cycle.append(cycle)

    logging.getLogger("guard").info(
        "odd fields", extra={"by_pair": {(1, 2): "x"}, "cycle": cycle, "token": BOT_TOKEN}
    )

    [line] = lines(output)
    assert line["msg"] == "odd fields"
    assert "(1, 2)" in line["by_pair"]
    assert line["token"] == REDACTED


def test_a_password_in_a_connection_url_is_masked_with_its_user() -> None:
    assert redact("cannot connect to nats://ops:s3cr3t-pw@nats:4222: refused") == (
        f"cannot connect to nats://{REDACTED}@nats:4222: refused"
    )
    assert redact("postgresql://app:p%40ss@db:5432/piyasa") == (
        f"postgresql://{REDACTED}@db:5432/piyasa"
    )
    # No password: nothing to hide (a host and port are not secrets).
    assert redact("nats://127.0.0.1:4222 and https://example.org:8443/x") == (
        "nats://127.0.0.1:4222 and https://example.org:8443/x"
    )
