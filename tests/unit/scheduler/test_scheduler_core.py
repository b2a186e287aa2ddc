"""The scheduling core, one tick at a time: priorities, the ledger, limits, hours, context."""

# ruff: noqa: RUF001, RUF003 -- Turkish text: ı, İ, ş, ğ are letters, not look-alikes.
from __future__ import annotations

import random
from datetime import timedelta

from piyasa_contracts.events.config import ControlScope, ControlState
from piyasa_contracts.events.conversation import (
    DispatchFailed,
    FailureAction,
    TurnExpired,
    TurnStage,
)
from piyasa_contracts.events.work import GenerationRequested
from piyasa_scheduler.chat import ChatState
from piyasa_scheduler.core import Expire, Request, tick, wake_at
from piyasa_scheduler.ledger import Outcome, TurnReason
from piyasa_scheduler.state import FleetState
from tests.unit.scheduler.scheduler_world import (
    START,
    bot,
    chat,
    control,
    event,
    fleet,
    holding,
    incoming,
    sent,
    settings,
    stance,
)

SECOND = timedelta(seconds=1)


def three_bots(**policy: object) -> tuple[FleetState, ChatState]:
    state = fleet(
        [
            bot("a"),
            bot("b"),
            bot("c"),
            chat("c1", ["a", "b", "c"], target=60),
            settings(mention_delay_s=[10, 10], human_delay_s=[20, 20], min_gap_s=0, **policy),
        ]
    )
    return state, state.chat("c1")


def requests(decisions: list[Request | Expire]) -> list[Request]:
    return [d for d in decisions if isinstance(d, Request)]


def test_mention_gets_reply_before_other_pending_requests() -> None:
    state, c = three_bots()
    rng = random.Random(1)
    mention = incoming("c1", "p1", "@b_bot BTC ne olur?", at=START, mentioned=["b"])
    state.apply_conversation(mention, 0)
    c.pacer.slots.extend([START - timedelta(minutes=2), START - timedelta(minutes=1)])
    # Two scheduled turns are due too; the reply takes the place of one of them.

    assert tick(state, c, START, rng) == []  # the mention's reply is not due yet: all wait
    first = requests(tick(state, c, START + 10 * SECOND, rng))

    assert [r.turn.reason for r in first] == [TurnReason.MENTION]
    assert first[0].turn.bot_id == "b"
    assert first[0].payload.reply_target is not None
    assert first[0].payload.reply_target.ref == mention.envelope.id
    assert first[0].payload.priority > 5

    state.apply_conversation(sent("c1", "b", "BTC bence yükselir", at=START + 40 * SECOND,
                                  turn_id=first[0].turn.turn_id), 0)  # fmt: skip
    then = requests(tick(state, c, START + 41 * SECOND, rng))
    assert [r.turn.reason for r in then] == [TurnReason.SCHEDULED]


def test_at_most_one_turn_in_flight_until_it_closes() -> None:
    state, c = three_bots()
    rng = random.Random(2)
    c.pacer.slots.extend([START, START])

    first = requests(tick(state, c, START, rng))
    assert len(first) == 1 and c.ledger.in_flight == 1
    assert requests(tick(state, c, START + 5 * SECOND, rng)) == []

    turn = first[0].turn
    state.apply_conversation(
        sent("c1", turn.bot_id, "x", at=START + 6 * SECOND, turn_id=turn.turn_id), 0
    )
    second = requests(tick(state, c, START + 7 * SECOND, rng))
    assert len(second) == 1
    assert second[0].turn.bot_id != turn.bot_id  # no bot twice in a row


def test_turns_in_flight_is_a_setting_per_chat() -> None:
    state, c = three_bots(chats={"c1": {"turns_in_flight": 2}})
    c.pacer.slots.extend([START, START])
    assert len(requests(tick(state, c, START, random.Random(3)))) == 2


def test_an_overdue_turn_is_expired_announced_and_its_slot_given_back() -> None:
    state, c = three_bots(turn_deadline_s=60)
    rng = random.Random(4)
    c.pacer.slots.append(START)
    [request] = requests(tick(state, c, START, rng))
    assert request.payload.deadline == START + timedelta(seconds=60)
    wake = wake_at(state, c, START)
    assert wake is not None and wake <= request.payload.deadline

    later = tick(state, c, START + 60 * SECOND, rng)

    expired = [d for d in later if isinstance(d, Expire)]
    assert [(e.turn.turn_id, e.reason) for e in expired] == [(request.turn.turn_id, "deadline")]
    assert len(requests(later)) == 1  # the slot came back: the chat's pace counts messages


def test_an_outcome_from_any_stage_closes_the_turn() -> None:
    state, c = three_bots()
    rng = random.Random(5)
    for outcome in (
        lambda t: DispatchFailed(turn_id=t, bot_id="a", action=FailureAction.DROP),
        lambda t: TurnExpired(turn_id=t, stage=TurnStage.GUARD, reason="late"),
    ):
        c.pacer.slots.append(START)
        [request] = requests(tick(state, c, START, rng))
        state.apply_conversation(event(outcome(request.turn.turn_id), chat_id="c1"), 0)
        assert c.ledger.in_flight == 0


def test_a_failure_the_dispatcher_retries_keeps_the_turn_open() -> None:
    state, c = three_bots()
    c.pacer.slots.append(START)
    [request] = requests(tick(state, c, START, random.Random(6)))
    retry = DispatchFailed(turn_id=request.turn.turn_id, bot_id="a", action=FailureAction.RETRY)
    state.apply_conversation(event(retry, chat_id="c1"), 0)
    assert c.ledger.in_flight == 1


def test_pausing_a_chat_expires_its_turns_in_flight_and_stops_it() -> None:
    state, c = three_bots()
    rng = random.Random(7)
    c.pacer.slots.append(START)
    [request] = requests(tick(state, c, START, rng))

    state.apply_config(event(control(ControlScope.CHAT, "c1", ControlState.PAUSED)), 0)
    decisions = tick(state, c, START + SECOND, rng)

    assert [(d.turn.turn_id, d.reason) for d in decisions if isinstance(d, Expire)] == [
        (request.turn.turn_id, "chat_paused")
    ]
    state.apply_conversation(incoming("c1", "p1", "@a_bot?", at=START, mentioned=["a"]), 0)
    assert requests(tick(state, c, START + timedelta(minutes=5), rng)) == []


def test_a_bot_at_its_hourly_limit_is_not_chosen_and_its_mention_waits() -> None:
    state = fleet(
        [
            bot("a", hourly_limit=2),
            bot("b"),
            bot("c"),
            chat("c1", ["a", "b", "c"]),
            settings(mention_delay_s=[0, 0], min_gap_s=0),
        ]
    )
    c = state.chat("c1")
    for minute in (10, 20):
        state.apply_conversation(sent("c1", "a", "x", at=START - timedelta(minutes=minute)), 0)
    state.apply_conversation(incoming("c1", "p1", "@a_bot?", at=START, mentioned=["a"]), 0)
    c.pacer.slots.append(START)

    [request] = requests(tick(state, c, START, random.Random(8)))

    assert request.turn.reason is TurnReason.SCHEDULED  # the mention does not hold the chat
    assert request.turn.bot_id != "a"
    assert len(c.pending) == 1  # still waiting for `a`


def test_nobody_speaks_outside_active_hours() -> None:
    state = fleet(
        [
            bot("a", hours=("09:00", "18:00")),
            bot("b", hours=("09:00", "18:00")),
            chat("c1", ["a", "b"]),
        ]
    )
    c = state.chat("c1")
    night = START.replace(hour=20)  # 23:00 in Istanbul
    c.pacer.slots.append(night)
    state.apply_conversation(incoming("c1", "p1", "@a_bot?", at=night, mentioned=["a"]), 0)
    assert requests(tick(state, c, night + timedelta(minutes=1), random.Random(9))) == []


def test_last_minutes_of_active_hours_leave_room_for_the_turn() -> None:
    state = fleet(
        [
            bot("a", hours=("09:00", "12:05")),
            bot("b", hours=("09:00", "12:05")),
            chat("c1", ["a", "b"]),
            settings(turn_deadline_s=600, min_gap_s=0),
        ]
    )
    c = state.chat("c1")
    c.pacer.slots.append(START)  # 12:00 local: the turn could end after 12:05
    assert requests(tick(state, c, START, random.Random(10))) == []


def test_only_a_mention_lets_a_bot_speak_twice_in_a_row() -> None:
    state, c = three_bots()
    rng = random.Random(11)
    state.apply_conversation(sent("c1", "a", "BTC yükselir", at=START - timedelta(minutes=5)), 0)
    for _ in range(20):
        c.pacer.slots.append(START)
        [request] = requests(tick(state, c, START, rng))
        assert request.turn.bot_id != "a"
        state.close_turn("c1", request.turn.turn_id, Outcome.DROPPED, START)

    state.apply_conversation(
        incoming("c1", "p1", "@a_bot emin misin?", at=START, mentioned=["a"]), 0
    )
    [answer] = requests(tick(state, c, START + timedelta(seconds=10), rng))
    assert answer.turn.bot_id == "a" and answer.turn.reason is TurnReason.MENTION


def test_a_human_reply_to_a_bot_message_is_a_mention_of_that_bot() -> None:
    state, c = three_bots()
    state.apply_conversation(sent("c1", "c", "altın uçar", at=START - SECOND, message_id=77), 0)
    state.apply_conversation(incoming("c1", "p1", "neden?", at=START, reply_to=77), 0)
    [answer] = requests(tick(state, c, START + 10 * SECOND, random.Random(12)))
    assert (answer.turn.bot_id, answer.turn.reason) == ("c", TurnReason.MENTION)


def test_a_request_carries_the_full_context() -> None:
    state = fleet(
        [
            bot("a"),
            bot("b"),
            bot("outsider"),
            chat("c1", ["a", "b"], topics=["BTC", "faiz"]),
            stance("b", "BTC", "bearish", 0.9),
            stance("b", "altın", "bullish", 0.4),
            holding("b", "XAU", 12.5),
            settings(history_lines=3, mention_delay_s=[0, 0]),
        ]
    )
    c = state.chat("c1")
    for i in range(5):
        state.apply_conversation(
            sent("c1", "a", f"BTC {i} bence yükselecek", at=START - timedelta(minutes=10 - i)), 0
        )
    state.apply_conversation(
        incoming("c1", "p2", "selam", at=START - SECOND, username=None, name="Mehmet"), 0
    )
    state.apply_conversation(
        incoming("c1", "p3", "gizli", at=START - SECOND, username=None, name=None), 0
    )
    mention = incoming("c1", "p1", "@b_bot BTC ne olur?", at=START, mentioned=["b"])
    state.apply_conversation(mention, 0)

    [request] = requests(tick(state, c, START, random.Random(13)))
    p: GenerationRequested = request.payload

    assert p.bot_id == "b" and p.bot_name == "Bot b" and p.persona.tone == "calm"
    assert [s.topic for s in p.stances] == ["BTC", "altın"]  # the turn's topic first
    assert [(h.symbol, h.quantity) for h in p.holdings] == [("XAU", 12.5)]
    assert [line.text for line in p.history] == ["selam", "", "@b_bot BTC ne olur?"]
    assert p.reply_target is not None and p.reply_target.ref == mention.envelope.id
    assert p.topic == "BTC"
    assert p.deadline == request.turn.deadline and p.turn_id == request.turn.turn_id
    mentionable = {(m.member_id, m.is_bot) for m in p.mentionable}
    assert mentionable == {
        ("a", True),
        ("p1", False),
        ("p2", False),
    }  # never b itself, never outsiders
    assert p.language == "tr" and p.priority == 8


def test_a_request_folded_from_another_replica_occupies_the_chat() -> None:
    state, c = three_bots()
    mention = incoming("c1", "p1", "@a_bot?", at=START, mentioned=["a"])
    state.apply_conversation(mention, 0)
    elsewhere = GenerationRequested(
        turn_id="t-elsewhere",
        deadline=START + timedelta(minutes=5),
        bot_id="a",
        bot_name="Bot a",
        persona=state.bots["a"].persona,
        reply_target=c.lines[-1],
        priority=8,
    )
    state.apply_work(event(elsewhere, chat_id="c1", turn_id="t-elsewhere", epoch=3), 0)

    assert c.ledger.get("t-elsewhere") is not None
    assert c.pending == {}  # its mention is answered already
    c.pacer.slots.append(START)
    assert requests(tick(state, c, START + timedelta(minutes=1), random.Random(14))) == []


def test_a_request_read_after_its_outcome_does_not_reopen_the_turn() -> None:
    state, c = three_bots()
    state.apply_conversation(sent("c1", "a", "x", at=START, turn_id="t1"), 0)
    late = GenerationRequested(
        turn_id="t1", deadline=START + timedelta(minutes=5), bot_id="a", bot_name="Bot a",
        persona=state.bots["a"].persona,
    )  # fmt: skip
    state.apply_work(event(late, chat_id="c1", turn_id="t1"), 0)
    assert c.ledger.in_flight == 0


def test_same_seed_same_decisions() -> None:
    def run(seed: int) -> list[tuple[str, str, str | None]]:
        state, c = three_bots()
        rng = random.Random(seed)
        out = []
        now = START
        for _ in range(30):
            c.pacer.slots.append(now)
            for r in requests(tick(state, c, now, rng)):
                out.append((r.turn.turn_id, r.turn.bot_id, r.payload.topic))
                state.apply_conversation(
                    sent("c1", r.turn.bot_id, "BTC düşer", at=now, turn_id=r.turn.turn_id), 0
                )
            now += timedelta(minutes=3)
        return out

    assert run(42) == run(42)
    assert run(42) != run(43)


def _first_scheduled_within(state: FleetState, c: ChatState, horizon: timedelta) -> timedelta:
    """How long after START the chat's first scheduled request comes (ticking each second)."""
    rng = random.Random(11)
    for second in range(int(horizon.total_seconds()) + 1):
        now = START + second * SECOND
        if requests(tick(state, c, now, rng)):
            return now - START
    return horizon + SECOND


def test_a_new_chat_opens_within_its_opening_delay_not_after_a_whole_gap() -> None:
    # Two messages an hour: a whole gap would be half an hour on average.
    state = fleet([bot("a"), bot("b"), chat("c1", ["a", "b"], target=2), settings(min_gap_s=0)])
    first = _first_scheduled_within(state, state.chat("c1"), timedelta(minutes=5))
    assert first <= timedelta(seconds=15 * 1.5)


def test_a_chat_that_talked_recently_waits_for_its_gap() -> None:
    state = fleet(
        [
            bot("a"),
            bot("b"),
            chat("c1", ["a", "b"], target=2),
            settings(min_gap_s=0, gap_shape=100.0),  # gaps of almost exactly 30 minutes
        ]
    )
    state.apply_conversation(sent("c1", "a", "Endeks yatay.", at=START - 5 * SECOND), 0)
    first = _first_scheduled_within(state, state.chat("c1"), timedelta(minutes=5))
    assert first > timedelta(minutes=5)


def test_no_opening_when_it_is_turned_off() -> None:
    state = fleet(
        [
            bot("a"),
            bot("b"),
            chat("c1", ["a", "b"], target=2),
            settings(min_gap_s=0, gap_shape=100.0, opening_delay_s=0),
        ]
    )
    first = _first_scheduled_within(state, state.chat("c1"), timedelta(minutes=5))
    assert first > timedelta(minutes=5)
