"""The fleet fold: where a chat lives, who listens, who is disabled, and until when."""

from __future__ import annotations

from datetime import UTC, datetime

from piyasa_contracts import EventKeys, Payload, make_event
from piyasa_contracts.events._common import SealedText
from piyasa_contracts.events.config import (
    BotChanged,
    BotStatusChanged,
    ChatChanged,
    ChatStatusChanged,
    SettingsChanged,
)
from piyasa_contracts.events.conversation import DispatchFailed, FailureAction, Sent
from piyasa_contracts.registry import Event
from piyasa_dispatcher.ledger import Record, State
from piyasa_dispatcher.state import Conversation, Fleet
from piyasa_dispatcher.webhook import webhook_secret


def event(payload: Payload) -> Event:
    return Event(make_event(payload, occurred_at=datetime.now(UTC), keys=EventKeys()), payload)


def test_a_migrated_chat_lives_at_its_new_id_for_sends_and_updates() -> None:
    fleet = Fleet()
    fleet.apply(event(ChatChanged(id="c1", telegram_chat_id=-5, title="t", bot_ids=["a"])), 1)
    fleet.apply(event(ChatStatusChanged(id="c1", migrated_to_chat_id=-1009)), 2)

    assert fleet.telegram_chat_id("c1") == -1009
    assert fleet.chat_by_telegram_id(-1009) == "c1"
    assert fleet.chat_by_telegram_id(-5) == "c1"  # late updates of the old group still map


def test_listeners_and_the_events_that_touch_them() -> None:
    fleet, touched = Fleet(), []
    fleet.on_bot(touched.append)
    fleet.apply(event(BotChanged(id="a", name="A")), 1)
    fleet.apply(
        event(
            ChatChanged(id="c1", telegram_chat_id=-5, title="t", bot_ids=["a"], listener_bot_id="a")
        ),
        2,
    )

    assert fleet.listened_chats("a") == {"c1"}
    assert touched == ["a", "a"]


def test_disabled_in_a_chat_until_an_operator_edits_the_bot_or_chat() -> None:
    fleet = Fleet()
    fleet.apply(event(BotChanged(id="a", name="A")), 1)
    fleet.apply(event(ChatChanged(id="c1", telegram_chat_id=-5, title="t", bot_ids=["a"])), 2)
    fleet.apply(event(BotStatusChanged(id="a", disabled_in_chats=["c1"])), 3)
    assert fleet.disabled_in_chat("a", "c1")

    fleet.apply(event(ChatChanged(id="c1", telegram_chat_id=-5, title="t2", bot_ids=["a"])), 4)

    assert not fleet.disabled_in_chat("a", "c1")


def test_a_revoked_token_disables_the_bot_until_a_new_token_arrives() -> None:
    fleet = Fleet()
    fleet.apply(event(BotChanged(id="a", name="A", token_ref="r1")), 1)
    fleet.apply(event(BotStatusChanged(id="a", disabled_everywhere=True)), 2)
    assert fleet.disabled_everywhere("a")

    fleet.apply(event(BotChanged(id="a", name="A", token_ref="r2")), 3)

    assert not fleet.disabled_everywhere("a")


def test_fleet_settings_come_from_the_settings_event() -> None:
    fleet = Fleet()
    fleet.apply(event(SettingsChanged(id="fleet", values={"typing_max_s": 3.0})), 1)
    assert fleet.settings.typing_max_s == 3.0


def test_reply_targets_resolve_from_sent_events_and_wake_their_waiters() -> None:
    conversation, woken = Conversation(limit=2), []
    conversation.wait_for("t1", lambda: woken.append("t1"))
    sent = Sent(
        turn_id="t1",
        bot_id="a",
        telegram_chat_id=-5,
        telegram_message_id=42,
        text="x",
        sent_at=datetime.now(UTC),
    )
    conversation.apply(event(sent), 1)
    conversation.apply(
        event(DispatchFailed(turn_id="t2", bot_id="a", action=FailureAction.DROP)), 2
    )
    conversation.apply(
        event(DispatchFailed(turn_id="t3", bot_id="a", action=FailureAction.RETRY)), 3
    )

    assert woken == ["t1"]
    found = conversation.sent("t1")
    assert found is not None and found.message_id == 42
    assert conversation.closed_unsent("t2") and not conversation.closed_unsent("t3")
    conversation.remember_person("p1", SealedText(key_id="p1", ciphertext="c"))
    assert conversation.person("p1") is not None


def test_a_ledger_record_survives_encoding() -> None:
    record = Record(
        State.SENT, 17, 1.5, attempts=2, approved='{"id":"x"}', sent='{"id":"y"}', at=2.0
    )
    again = Record.decode(record.encode())

    assert again == record
    assert again.moved(State.INTENT, 3.0, telegram_chat_id=-5).state is State.INTENT
    assert State.INTENT.final and not State.SCHEDULED.final


def test_webhook_secrets_differ_per_bot_and_fit_telegrams_alphabet() -> None:
    a, b = webhook_secret("base", "bot-a"), webhook_secret("base", "bot-b")

    assert a != b and a == webhook_secret("base", "bot-a")
    assert len(a) == 64 and a.isalnum()
