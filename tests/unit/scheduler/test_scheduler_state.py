"""Folding the log: idempotent applies, humans, controls, and the scheduler's events."""

# ruff: noqa: RUF003 -- Turkish text: ı, İ, ş, ğ are letters, not look-alikes.
from __future__ import annotations

import random
from datetime import timedelta

from piyasa_contracts.events.config import (
    BotStatusChanged,
    ControlScope,
    ControlState,
    PersonErased,
)
from piyasa_contracts.events.conversation import TurnStage
from piyasa_scheduler.core import Expire, Request, tick
from piyasa_scheduler.envelopes import expiry_event, request_event
from piyasa_scheduler.harness import MemoAnalyzer
from piyasa_scheduler.people import OpenLater
from piyasa_scheduler.state import FleetState
from tests.unit.scheduler.scheduler_world import (
    START,
    bot,
    chat,
    control,
    event,
    fleet,
    incoming,
    sent,
    settings,
)


def test_folding_an_event_twice_changes_nothing() -> None:
    state = fleet([bot("a"), bot("b"), chat("c1", ["a", "b"])])
    c = state.chat("c1")
    line = sent("c1", "a", "BTC yükselir", at=START, turn_id="t1")
    human = incoming("c1", "p1", "@b_bot?", at=START, mentioned=["b"])
    for _ in range(2):
        state.apply_conversation(line, 0)
        state.apply_conversation(human, 0)

    assert [x.ref for x in c.lines] == ["t1", human.envelope.id]
    assert list(c.pending) == [human.envelope.id]
    assert state.hourly_used("a", START) == 1


def test_lines_are_kept_in_time_order_and_bounded() -> None:
    state = fleet(
        [
            bot("a"),
            chat("c1", ["a"]),
            settings(history_lines=3, recent_lines=1, back_and_forth_limit=2),
        ]
    )
    c = state.chat("c1")
    for minute in (5, 1, 3, 2, 4, 0, 6, 7, 8, 9, 10, 11, 12, 13, 14):
        state.apply_conversation(
            sent("c1", "a", f"m{minute}", at=START + timedelta(minutes=minute)), 0
        )
    texts = [x.text for x in c.lines]
    assert texts == sorted(texts, key=lambda t: int(t[1:]))
    assert len(texts) == 2 * 2 + 8 and texts[-1] == "m14"  # max(N, 2 x limits) + 8


def test_an_edit_updates_the_line_and_is_not_a_new_message() -> None:
    state = fleet([bot("a"), chat("c1", ["a"])])
    c = state.chat("c1")
    state.apply_conversation(incoming("c1", "p1", "BTC?", at=START, message_id=5), 0)
    edit = incoming("c1", "p1", "BTC düşer mi?", at=START, message_id=5, edited_at=START)
    state.apply_conversation(edit, 0)
    assert [x.text for x in c.lines] == ["BTC düşer mi?"]
    assert len(c.pending) == 1


def test_an_erased_person_is_not_mentionable_and_their_words_are_withheld() -> None:
    state = fleet([bot("a"), chat("c1", ["a"])])
    c = state.chat("c1")
    state.apply_conversation(incoming("c1", "p1", "gizli", at=START, username=None, name=None), 0)
    assert c.humans == {}
    assert (c.lines[0].author_name, c.lines[0].text) == ("anonymous", "")


def test_the_worst_control_wins_and_a_deleted_one_lifts() -> None:
    state = fleet([bot("a"), chat("c1", ["a"])])
    fleet_pause = control(ControlScope.FLEET, None, ControlState.PAUSED)
    chat_stop = control(ControlScope.CHAT, "c1", ControlState.STOPPED)
    state.apply_config(event(fleet_pause), 0)
    state.apply_config(event(chat_stop), 0)
    assert state.controls.of_chat("c1") is ControlState.STOPPED
    assert state.controls.of_bot("a") is ControlState.PAUSED
    state.apply_config(event(chat_stop.model_copy(update={"deleted": True})), 0)
    assert state.controls.of_chat("c1") is ControlState.PAUSED


def test_invalid_settings_are_ignored_as_a_whole() -> None:
    state = fleet([settings(history_lines=7)])
    state.apply_config(event(settings(history_lines=7, turn_deadline_s=-1)), 0)
    assert state.policy.history_lines == 7 and state.policy.turn_deadline_s == 300


def test_the_scheduler_stamps_its_events_with_the_epoch() -> None:
    state = fleet(
        [bot("a"), bot("b"), chat("c1", ["a", "b"]), settings(turn_deadline_s=30, min_gap_s=0)]
    )
    c = state.chat("c1")
    c.pacer.slots.append(START)
    [request] = [
        d for d in tick(state, c, START, random.Random(1), epoch=9) if isinstance(d, Request)
    ]
    envelope = request_event(request, 9)
    assert (envelope.epoch, envelope.keys.chat_id, envelope.keys.turn_id) == (
        9,
        "c1",
        request.turn.turn_id,
    )
    assert envelope.correlation_id == request.turn.turn_id and envelope.actor == "scheduler"

    [expired] = [
        d
        for d in tick(state, c, START + timedelta(seconds=30), random.Random(1), epoch=9)
        if isinstance(d, Expire)
    ]
    announced = expiry_event(expired, 9)
    assert announced.payload["stage"] == TurnStage.SCHEDULER.value
    assert announced.occurred_at == START + timedelta(seconds=30) and announced.epoch == 9
    assert announced.id == expiry_event(expired, 10).id  # any replica: the same id, stored once


def test_a_sealed_line_waits_for_the_key_store_then_is_read() -> None:
    state = FleetState(MemoAnalyzer(), OpenLater())
    for payload in (bot("a"), chat("c1", ["a"])):
        state.apply_config(event(payload), 0)
    c = state.chat("c1")
    human = incoming("c1", "p1", "BTC düşer mi?", at=START, username=None, name="Ayşe")
    state.apply_conversation(human, 0)
    ref = human.envelope.id
    assert (c.lines[0].text, c.lines[0].author_name, c.pending[ref].question) == (
        "",
        "anonymous",
        False,
    )
    assert ref in c.sealed and c.humans == {}  # no name, no username: not mentionable yet

    state.reveal("c1", ref, "BTC düşer mi?", "Ayşe", "4242")

    assert (c.lines[0].text, c.lines[0].author_name, c.pending[ref].question) == (
        "BTC düşer mi?",
        "Ayşe",
        True,
    )
    assert c.facts_of(c.lines[0]).topics == ("BTC",)
    assert (c.humans["p1"].display_name, c.humans["p1"].telegram_user_id) == ("Ayşe", 4242)
    assert c.sealed == {}


def test_an_erased_person_is_forgotten_everywhere() -> None:
    state = fleet([bot("a"), chat("c1", ["a"]), chat("c2", ["a"])])
    for chat_id in ("c1", "c2"):
        state.apply_conversation(
            incoming(chat_id, "p1", "@a_bot selam", at=START, mentioned=["a"]), 0
        )
    state.apply_config(event(PersonErased(id="p1", erased_at=START)), 0)
    for chat_id in ("c1", "c2"):
        c = state.chat(chat_id)
        assert (c.lines[0].text, c.lines[0].author_name) == ("", "anonymous")
        assert c.humans == {} and c.pending == {}


def test_a_bot_telegram_refused_does_not_speak_and_its_turn_expires() -> None:
    state = fleet([bot("a"), bot("b"), chat("c1", ["a", "b"]), settings(min_gap_s=0)])
    c = state.chat("c1")
    c.pacer.slots.append(START)
    [request] = [d for d in tick(state, c, START, random.Random(2)) if isinstance(d, Request)]
    refused = BotStatusChanged(id=request.turn.bot_id, disabled_in_chats=["c1"])
    state.apply_config(event(refused), 0)

    decisions = tick(state, c, START + timedelta(seconds=1), random.Random(2))

    assert [(d.turn.turn_id, d.reason) for d in decisions if isinstance(d, Expire)] == [
        (request.turn.turn_id, "bot_disabled")
    ]
    c.pacer.slots.append(START)
    later = [d for d in tick(state, c, START + timedelta(seconds=2), random.Random(3))]
    assert all(d.turn.bot_id != request.turn.bot_id for d in later)


def test_a_bot_without_a_configured_username_is_known_by_getmes() -> None:
    state = fleet([bot("b", username="")])
    state.apply_config(event(BotStatusChanged(id="b", telegram_username="b_from_getme")), 0)
    assert state.username_of("b") == "b_from_getme"
    assert state.bot_by_username("B_FROM_GETME") == "b"
