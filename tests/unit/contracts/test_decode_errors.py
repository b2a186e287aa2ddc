"""What decode() does with events it cannot take at face value."""

from __future__ import annotations

import json
from typing import Any

import pytest

from piyasa_contracts import MalformedEvent, NewerVersion, UnknownEventType, decode
from piyasa_contracts.events.config import BotChanged
from piyasa_contracts.generate import CONTRACTS_ROOT
from piyasa_contracts.upcasters import UPCASTERS

SAMPLES = CONTRACTS_ROOT / "samples"


def _bot_changed() -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(
        (SAMPLES / "current" / "bot.changed.v2.json").read_text(encoding="utf-8")
    )
    return raw


def _bytes(raw: dict[str, Any]) -> bytes:
    return json.dumps(raw).encode()


def test_unknown_fields_are_ignored_at_every_level() -> None:
    raw = _bot_changed()
    raw["shard"] = "eu-1"
    raw["keys"]["region_id"] = "tr"
    raw["payload"]["voice"] = "baritone"
    raw["payload"]["persona"]["accent"] = "Karadeniz"

    event = decode(_bytes(raw))

    assert isinstance(event.payload, BotChanged)
    assert event.payload.name == "Kemal Bey"
    assert "voice" not in event.payload.model_dump()


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda raw: raw["payload"].__setitem__("hourly_limit", 5000), "payload.hourly_limit"),
        (lambda raw: raw["payload"].pop("name"), "payload.name"),
        (
            lambda raw: raw["payload"]["active_hours"].__setitem__("start", "9am"),
            "payload.active_hours.start",
        ),
        (lambda raw: raw.__setitem__("occurred_at", "2025-03-14T09:30:00"), "occurred_at"),
        (lambda raw: raw.pop("correlation_id"), "correlation_id"),
        (lambda raw: raw.__setitem__("payload", ["not", "an", "object"]), "payload"),
    ],
)
def test_malformed_event_names_its_type_and_field(mutate: Any, field: str) -> None:
    raw = _bot_changed()
    mutate(raw)

    with pytest.raises(MalformedEvent) as caught:
        decode(_bytes(raw))

    assert caught.value.event_type == "bot.changed"
    assert caught.value.field == field
    assert "bot.changed" in str(caught.value)
    assert field in str(caught.value)


@pytest.mark.parametrize("data", [b"", b"not json", b"\xff\xfe\x00", b"[1, 2]", b'"bot.changed"'])
def test_bytes_that_are_not_an_envelope_are_malformed(data: bytes) -> None:
    with pytest.raises(MalformedEvent):
        decode(data)


def test_unknown_type_is_its_own_error() -> None:
    raw = _bot_changed()
    raw["type"] = "bot.teleported"

    with pytest.raises(UnknownEventType) as caught:
        decode(_bytes(raw))

    assert not isinstance(caught.value, MalformedEvent)
    assert caught.value.event_type == "bot.teleported"


def test_newer_version_is_not_malformed_even_if_the_payload_changed_shape() -> None:
    raw = _bot_changed()
    raw["version"] = BotChanged.version + 1
    # A future version may rename or retype fields the current model requires.
    raw["payload"].pop("name")
    raw["payload"]["active_hours"] = [{"day": "mon", "from": "09:00"}]

    with pytest.raises(NewerVersion) as caught:
        decode(_bytes(raw))

    assert not isinstance(caught.value, MalformedEvent)
    assert (caught.value.version, caught.value.known) == (
        BotChanged.version + 1,
        BotChanged.version,
    )


def test_a_past_version_the_upcaster_cannot_read_is_malformed() -> None:
    raw = json.loads((SAMPLES / "bot.changed.v1.json").read_text(encoding="utf-8"))
    raw["payload"]["active_hours"] = "9:30-18:00"

    with pytest.raises(MalformedEvent) as caught:
        decode(_bytes(raw))

    assert caught.value.event_type == "bot.changed"
    assert caught.value.field == "payload"


def test_a_past_version_without_an_upcaster_is_malformed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(UPCASTERS, ("bot.changed", 1))

    with pytest.raises(MalformedEvent) as caught:
        decode((SAMPLES / "bot.changed.v1.json").read_bytes())

    assert caught.value.field == "version"


def test_free_text_in_a_routing_key_is_malformed_naming_the_key() -> None:
    raw = _bot_changed()
    raw["keys"] = {"chat_id": "BTC/USD"}

    with pytest.raises(MalformedEvent) as caught:
        decode(_bytes(raw))

    assert "keys.chat_id" in str(caught.value)
