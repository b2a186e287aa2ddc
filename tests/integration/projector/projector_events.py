"""Event builders for the projector's tests: every event the projector projects."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from piyasa_contracts import Envelope, EventKeys, make_event
from piyasa_contracts.events._common import SealedText
from piyasa_contracts.events.config import (
    BotChanged,
    BotStatusChanged,
    ChatChanged,
    ChatStatusChanged,
    ControlChanged,
    ControlScope,
    ControlState,
    HoldingChanged,
    PersonErased,
    Position,
    SettingsChanged,
    StanceChanged,
)
from piyasa_contracts.events.conversation import (
    DispatchFailed,
    FailureAction,
    IncomingMessage,
    ReactionAdded,
    Sent,
    TurnDropped,
    TurnExpired,
    TurnStage,
)

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
_tick = itertools.count()


def at() -> datetime:
    """A distinct, increasing, deterministic moment per call."""
    return T0 + timedelta(seconds=next(_tick))


def bot(bot_id: str, name: str = "Ayşe", *, deleted: bool = False, **fields: Any) -> Envelope:
    return make_event(
        BotChanged(id=bot_id, name=name, deleted=deleted, **fields), occurred_at=at(), actor="op1"
    )


def chat(chat_id: str, telegram_chat_id: int, title: str = "Borsa", **fields: Any) -> Envelope:
    payload = ChatChanged(id=chat_id, telegram_chat_id=telegram_chat_id, title=title, **fields)
    return make_event(payload, occurred_at=at(), actor="op1")


def stance(stance_id: str, bot_id: str, topic: str = "BTC/USD", **fields: Any) -> Envelope:
    fields.setdefault("position", Position.BULLISH)
    fields.setdefault("strength", 0.7)
    payload = StanceChanged(id=stance_id, bot_id=bot_id, topic=topic, **fields)
    return make_event(payload, occurred_at=at(), actor="op1")


def holding(holding_id: str, bot_id: str, symbol: str = "THYAO", **fields: Any) -> Envelope:
    fields.setdefault("quantity", 120.0)
    payload = HoldingChanged(id=holding_id, bot_id=bot_id, symbol=symbol, **fields)
    return make_event(payload, occurred_at=at(), actor="op1")


def settings_changed(values: dict[str, Any], settings_id: str = "global") -> Envelope:
    return make_event(SettingsChanged(id=settings_id, values=values), occurred_at=at(), actor="op1")


def control(
    control_id: str,
    state: ControlState,
    scope: ControlScope = ControlScope.FLEET,
    target_id: str | None = None,
) -> Envelope:
    payload = ControlChanged(id=control_id, scope=scope, target_id=target_id, state=state)
    return make_event(payload, occurred_at=at(), actor="op1")


def bot_status(bot_id: str, **fields: Any) -> Envelope:
    payload = BotStatusChanged(id=bot_id, **fields)
    return make_event(payload, occurred_at=at(), actor="dispatcher")


def chat_status(chat_id: str, **fields: Any) -> Envelope:
    payload = ChatStatusChanged(id=chat_id, **fields)
    return make_event(payload, occurred_at=at(), actor="dispatcher")


def person_erased(person_id: str, reason: str = "") -> Envelope:
    moment = at()
    payload = PersonErased(id=person_id, erased_at=moment, reason=reason)
    return make_event(payload, occurred_at=moment, actor="op1")


def sent(
    chat_id: str,
    turn_id: str,
    bot_id: str,
    telegram_message_id: int,
    *,
    telegram_chat_id: int = -1001,
    text: str = "Bugün piyasa sakin.",
    reply_to: int | None = None,
) -> Envelope:
    payload = Sent(
        turn_id=turn_id,
        bot_id=bot_id,
        telegram_chat_id=telegram_chat_id,
        telegram_message_id=telegram_message_id,
        text=text,
        reply_to_message_id=reply_to,
        sent_at=at(),
    )
    keys = EventKeys(chat_id=chat_id, bot_id=bot_id, turn_id=turn_id)
    return make_event(payload, occurred_at=at(), keys=keys, actor="dispatcher")


def incoming(
    chat_id: str,
    person_id: str,
    telegram_message_id: int,
    *,
    telegram_chat_id: int = -1001,
    update_id: int = 1,
    edited: bool = False,
    ciphertext: str = "gAAAAAB-sealed",
) -> Envelope:
    date = at()
    payload = IncomingMessage(
        person_id=person_id,
        via_bot_id="listener",
        telegram_chat_id=telegram_chat_id,
        telegram_message_id=telegram_message_id,
        update_id=update_id,
        sender_name=SealedText(key_id=f"k-{person_id}", ciphertext="gAAAAAB-name"),
        text=SealedText(key_id=f"k-{person_id}", ciphertext=ciphertext),
        date=date,
        edit_date=at() if edited else None,
    )
    return make_event(
        payload, occurred_at=date, keys=EventKeys(chat_id=chat_id), actor="dispatcher"
    )


def reaction(
    chat_id: str, telegram_message_id: int, actor_id: str, emoji: str = "👍", **fields: Any
) -> Envelope:
    payload = ReactionAdded(
        telegram_chat_id=fields.pop("telegram_chat_id", -1001),
        telegram_message_id=telegram_message_id,
        actor_id=actor_id,
        actor_is_bot=fields.pop("actor_is_bot", False),
        emoji=emoji,
    )
    return make_event(
        payload, occurred_at=at(), keys=EventKeys(chat_id=chat_id), actor="dispatcher"
    )


def failed(chat_id: str, turn_id: str, bot_id: str, *, code: int | None = 403) -> Envelope:
    payload = DispatchFailed(
        turn_id=turn_id,
        bot_id=bot_id,
        action=FailureAction.DISABLE_IN_CHAT,
        error_code=code,
        description="Forbidden: bot was kicked from the group chat",
    )
    keys = EventKeys(chat_id=chat_id, bot_id=bot_id, turn_id=turn_id)
    return make_event(payload, occurred_at=at(), keys=keys, actor="dispatcher")


def expired(chat_id: str, turn_id: str, stage: TurnStage = TurnStage.GENERATOR) -> Envelope:
    payload = TurnExpired(turn_id=turn_id, stage=stage, reason="deadline passed")
    keys = EventKeys(chat_id=chat_id, turn_id=turn_id)
    return make_event(payload, occurred_at=at(), keys=keys, actor="generator")


def dropped(chat_id: str, turn_id: str, stage: TurnStage = TurnStage.GUARD) -> Envelope:
    payload = TurnDropped(turn_id=turn_id, stage=stage, reason="near-duplicate")
    keys = EventKeys(chat_id=chat_id, turn_id=turn_id, bot_id="b1")
    return make_event(payload, occurred_at=at(), keys=keys, actor="guard")
