"""Committed samples: every past version upcasts to the current model; current ones round-trip.

When an event's version is bumped, move its sample from `samples/current/` to
`samples/` (it is now a past version), add the upcaster, and commit a new
current sample.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from piyasa_contracts import ALL_EVENTS, decode, encode, payload_class
from piyasa_contracts.events.config import BotChanged
from piyasa_contracts.generate import CONTRACTS_ROOT

SAMPLES = CONTRACTS_ROOT / "samples"
CURRENT = SAMPLES / "current"
_NAME = re.compile(r"^(?P<type>[a-z_.]+)\.v(?P<version>\d+)\.json$")

PAST_SAMPLES = sorted(SAMPLES.glob("*.json"))
CURRENT_SAMPLES = sorted(CURRENT.glob("*.json"))


def _type_and_version(path: Path) -> tuple[str, int]:
    match = _NAME.match(path.name)
    assert match, f"sample {path.name} must be named <type>.v<N>.json"
    return match["type"], int(match["version"])


def test_every_past_version_of_every_event_has_a_sample() -> None:
    expected = {f"{e.event_type}.v{v}.json" for e in ALL_EVENTS for v in range(1, e.version)}
    assert {p.name for p in PAST_SAMPLES} == expected


def test_every_current_event_has_a_sample() -> None:
    expected = {f"{e.event_type}.v{e.version}.json" for e in ALL_EVENTS}
    assert {p.name for p in CURRENT_SAMPLES} == expected


@pytest.mark.parametrize("path", PAST_SAMPLES, ids=lambda p: p.name)
def test_past_sample_decodes_to_the_current_model(path: Path) -> None:
    event_type, version = _type_and_version(path)
    cls = payload_class(event_type)
    assert version < cls.version

    event = decode(path.read_bytes())

    assert event.upcast_from == version
    assert isinstance(event.payload, cls)
    assert event.envelope.version == cls.version
    assert event.envelope.payload == event.payload.model_dump(mode="json")
    # The upcast event is a valid current event in its own right.
    assert decode(encode(event.envelope)).payload == event.payload


def test_bot_changed_v1_active_hours_become_a_window_in_the_old_timezone() -> None:
    raw = json.loads((SAMPLES / "bot.changed.v1.json").read_text(encoding="utf-8"))
    assert raw["payload"]["active_hours"] == "9-24"
    assert raw["payload"]["timezone"] == "Europe/Berlin"

    event = decode((SAMPLES / "bot.changed.v1.json").read_bytes())

    assert isinstance(event.payload, BotChanged)
    hours = event.payload.active_hours
    assert (hours.start, hours.end, hours.timezone) == ("09:00", "23:59", "Europe/Berlin")
    assert "timezone" not in event.envelope.payload
    # Everything else is carried over untouched.
    assert event.payload.name == raw["payload"]["name"]
    assert event.payload.hourly_limit == raw["payload"]["hourly_limit"]
    assert event.payload.persona.expertise == raw["payload"]["persona"]["expertise"]
    assert event.envelope.id == raw["id"]


@pytest.mark.parametrize(
    ("window", "timezone", "expected"),
    [
        ("8-23", None, ("08:00", "23:00", "Europe/Istanbul")),
        ("0-24", "UTC", ("00:00", "23:59", "UTC")),
        (" 10 - 18 ", "Asia/Baku", ("10:00", "18:00", "Asia/Baku")),
        (None, None, ("08:00", "23:30", "Europe/Istanbul")),
    ],
)
def test_bot_changed_v1_upcast_cases(
    window: str | None, timezone: str | None, expected: tuple[str, str, str]
) -> None:
    raw = json.loads((SAMPLES / "bot.changed.v1.json").read_text(encoding="utf-8"))
    raw["payload"].pop("active_hours")
    raw["payload"].pop("timezone")
    if window is not None:
        raw["payload"]["active_hours"] = window
    if timezone is not None:
        raw["payload"]["timezone"] = timezone

    event = decode(json.dumps(raw).encode())

    assert isinstance(event.payload, BotChanged)
    hours = event.payload.active_hours
    assert (hours.start, hours.end, hours.timezone) == expected


@pytest.mark.parametrize("path", CURRENT_SAMPLES, ids=lambda p: p.name)
def test_current_sample_round_trips(path: Path) -> None:
    event_type, version = _type_and_version(path)
    raw = json.loads(path.read_text(encoding="utf-8"))

    event = decode(path.read_bytes())

    assert (event.envelope.type, event.envelope.version) == (event_type, version)
    assert event.upcast_from is None
    # Samples are complete: the model neither adds nor drops a field.
    assert event.payload.model_dump(mode="json") == raw["payload"]
    again = decode(encode(event.envelope))
    assert again.envelope == event.envelope
    assert again.payload == event.payload
    assert encode(again.envelope) == encode(event.envelope)
