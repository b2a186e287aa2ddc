# ruff: noqa: RUF001  (Turkish text on purpose)
"""The config service's pure rules: cooldowns, derived ids, chats' bots, the wizard,
the fleet document, storable text, credentials, the error table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import yaml

from piyasa_config.api.errors import _status_for, printable
from piyasa_config.auth import credentials
from piyasa_config.domain.fleet import FleetDocument, from_yaml, to_yaml
from piyasa_config.domain.ids import holding_id, stance_id
from piyasa_config.domain.rules import chat_bots, check_flip, check_timezone, flip_cooldown
from piyasa_config.domain.text import check_text
from piyasa_config.domain.wizard import example_fleet
from piyasa_config.errors import (
    AlreadyExists,
    CooldownActive,
    Invalid,
    NotFound,
    VersionConflict,
)
from piyasa_contracts.events._common import Position
from piyasa_contracts.events.config import BotChanged, StanceChanged
from piyasa_contracts.fleet_settings import FleetSettings, FleetSettingsInput

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def stance(position: Position, until: datetime | None) -> StanceChanged:
    return StanceChanged(
        id="s1", bot_id="b1", topic="BTC/USD", position=position, strength=0.5, cooldown_until=until
    )


def test_a_flip_inside_the_cooldown_is_refused():
    with pytest.raises(CooldownActive) as caught:
        check_flip(
            stance(Position.BULLISH, NOW + timedelta(hours=1)),
            Position.BEARISH,
            now=NOW,
            force=False,
        )
    assert caught.value.field == "position"


@pytest.mark.parametrize(
    ("until", "new", "force"),
    [
        (NOW + timedelta(hours=1), Position.BULLISH, False),  # same position: not a flip
        (NOW + timedelta(hours=1), Position.BEARISH, True),  # forced
        (NOW - timedelta(seconds=1), Position.BEARISH, False),  # cooldown over
        (None, Position.NEUTRAL, False),  # no cooldown
    ],
)
def test_changes_that_are_not_a_flip_inside_the_cooldown_pass(until, new, force):
    check_flip(stance(Position.BULLISH, until), new, now=NOW, force=force)


@pytest.mark.parametrize(
    ("new", "cooldown_h", "until"),
    [
        (Position.BEARISH, 24.0, NOW + timedelta(hours=24)),  # a flip: the fleet's cooldown
        (Position.BEARISH, 0.0, None),  # a flip with no cooldown set
        (Position.BULLISH, 24.0, NOW - timedelta(hours=1)),  # no flip: its own cooldown stays
    ],
)
def test_a_flip_gets_the_fleets_stance_cooldown(new, cooldown_h, until):
    current = stance(Position.BULLISH, NOW - timedelta(hours=1))
    revised = current.model_copy(update={"position": new, "strength": 0.9})
    assert flip_cooldown(current, revised, now=NOW, cooldown_h=cooldown_h).cooldown_until == until


def test_natural_key_ids_are_stable_and_ignore_case_and_spaces():
    assert stance_id("b1", "BTC/USD") == stance_id("b1", " btc/usd ")
    assert stance_id("b1", "BTC/USD") != stance_id("b2", "BTC/USD")
    assert holding_id("b1", "thyao") == holding_id("b1", "THYAO")
    assert len(stance_id("b1", "Türk Lirası / altın")) == 32  # hex: a subject token


def test_the_listener_is_one_of_the_chats_bots():
    assert chat_bots(["a", "b"], "c") == ["a", "b", "c"]
    assert chat_bots(["a", "b"], "a") == ["a", "b"]
    with pytest.raises(Invalid):
        chat_bots(["a", "a"], None)


def test_unknown_time_zones_are_refused():
    assert check_timezone("Europe/Istanbul") == "Europe/Istanbul"
    with pytest.raises(Invalid):
        check_timezone("Mars/Olympus")


def test_the_wizard_fleet_is_deterministic_per_wizard_id_and_varied():
    one = example_fleet("w1", telegram_chat_id=-1, title="t", language="tr", now=NOW)
    same = example_fleet("w1", telegram_chat_id=-1, title="t", language="tr", now=NOW)
    other = example_fleet("w2", telegram_chat_id=-1, title="t", language="tr", now=NOW)

    assert [s.id for s in one.in_order()] == [s.id for s in same.in_order()]
    assert not {s.id for s in one.in_order()} & {s.id for s in other.in_order()}
    assert len(one.bots) >= 3
    assert len({b.persona.tone for b in one.bots}) == len(one.bots)
    assert one.chat.bot_ids == [b.id for b in one.bots]
    assert {s.bot_id for s in one.stances} == {b.id for b in one.bots}
    assert one.in_order()[-1] is one.chat


def test_the_fleet_document_round_trips_and_never_carries_a_token():
    fleet = example_fleet("w1", telegram_chat_id=-1, title="t", language="tr", now=NOW)
    bots = [b.model_copy(update={"token_ref": "bot-x-1"}) for b in fleet.bots]
    document = FleetDocument(
        bots=bots,
        chats=[fleet.chat],
        stances=fleet.stances,
        holdings=fleet.holdings,
        settings=FleetSettings(min_gap_s=30),
    )

    text = to_yaml(document)
    back = from_yaml(text)

    assert "token" not in text
    assert [b.model_dump(exclude={"token_ref"}) for b in back.bots] == [
        b.model_dump(exclude={"token_ref"}) for b in bots
    ]
    assert all(b.token_ref is None for b in back.bots)
    assert back.settings == FleetSettings(min_gap_s=30)
    smuggled = yaml.safe_load(text)
    smuggled["bots"][0]["token_ref"] = "bot-stolen"
    assert from_yaml(yaml.safe_dump(smuggled)).bots[0].token_ref is None


def test_fleet_document_errors_name_the_field():
    with pytest.raises(Invalid) as caught:
        from_yaml("bots:\n  - id: b1\n    name: x\n    persona: {verbosity: 3}\n")
    assert caught.value.field == "bots.0.persona.verbosity"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "a\x00b"}, "name"),
        ({"persona": {"tone": "\ud800"}}, "persona.tone"),
        ({"topics": ["ok", "bad\x00"]}, "topics.1"),
    ],
)
def test_text_that_cannot_be_stored_is_refused_naming_the_field(data, field):
    with pytest.raises(Invalid) as caught:
        check_text(data)
    assert caught.value.field == field


def test_fleet_settings_document_defaults_and_refuse_unknown_knobs_on_input():
    assert FleetSettings().dedup_threshold == 0.4
    assert FleetSettings.model_validate({"future_knob": 1}).turns_in_flight_per_chat == 1
    with pytest.raises(ValueError):
        FleetSettingsInput.model_validate({"future_knob": 1})
    with pytest.raises(ValueError):
        FleetSettingsInput(gap_jitter=1.5)


def test_passwords_are_argon2_and_totp_codes_match_one_step():
    hashed = credentials.hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert credentials.verify_password(hashed, "correct horse battery")
    assert not credentials.verify_password(hashed, "wrong")
    assert not credentials.verify_password(None, "anything")

    secret = credentials.new_totp_secret()
    at = 1_700_000_000.0
    code = pyotp.TOTP(secret).at(at)
    assert credentials.totp_step(secret, code, at) == int(at // 30)
    assert credentials.totp_step(secret, code, at + 30) == int(at // 30)  # one step late is fine
    assert credentials.totp_step(secret, code, at + 120) is None


def test_api_keys_are_high_entropy_and_stored_as_sha256():
    key = credentials.new_api_key()
    assert key.startswith("pk_") and len(key) > 40
    assert credentials.digest(key) != key and len(credentials.digest(key)) == 64


def test_errors_map_to_http_through_their_class():
    assert _status_for(VersionConflict("bot b1", 3, 4)) == 409
    assert _status_for(AlreadyExists("taken")) == 409
    assert _status_for(CooldownActive(NOW)) == 409
    assert _status_for(NotFound("no")) == 404
    assert _status_for(Invalid("bad")) == 422
    assert _status_for(RuntimeError()) == 500
    assert printable("a\x00b\ud800") == "a\ufffdb?"


def test_a_bot_event_never_has_a_token_field():
    assert "token" not in BotChanged.model_fields
