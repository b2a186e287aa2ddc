"""Builders for the scheduler's tests: config payloads, conversation events, a fleet."""

# ruff: noqa: RUF001, RUF003 -- Turkish text: ı, İ, ş, ğ are letters, not look-alikes.
from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from piyasa_contracts import Envelope, EventKeys, Payload
from piyasa_contracts.events._common import ActiveHours, Persona, Position, SealedText
from piyasa_contracts.events.config import (
    BotChanged,
    ChatChanged,
    ConfigChanged,
    ControlChanged,
    ControlScope,
    ControlState,
    HoldingChanged,
    SettingsChanged,
    StanceChanged,
)
from piyasa_contracts.events.conversation import IncomingMessage, Sent
from piyasa_contracts.fleet_settings import SETTINGS_ID, FleetSettings
from piyasa_contracts.registry import Event
from piyasa_scheduler.harness import SIM_KEY, MemoAnalyzer, SimulatedUnsealer
from piyasa_scheduler.state import FleetState

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
"""A Monday, 12:00 in Istanbul."""

_ids = itertools.count(1)


def bot(
    bot_id: str,
    *,
    username: str | None = None,
    hourly_limit: int = 30,
    hours: tuple[str, str] = ("00:00", "00:00"),
    timezone: str = "Europe/Istanbul",
    verbosity: float = 0.5,
    enabled: bool = True,
) -> BotChanged:
    """A bot; by default awake all day (start == end)."""
    return BotChanged(
        id=bot_id,
        name=f"Bot {bot_id}",
        username=username if username is not None else f"{bot_id}_bot",
        hourly_limit=hourly_limit,
        enabled=enabled,
        active_hours=ActiveHours(start=hours[0], end=hours[1], timezone=timezone),
        persona=Persona(tone="calm", verbosity=verbosity, expertise=["crypto"]),
    )


def chat(
    chat_id: str,
    bot_ids: Sequence[str],
    *,
    target: float = 12.0,
    curve: Sequence[float] | None = None,
    topics: Sequence[str] = ("BTC", "altın"),
    reply_probability: float = 0.6,
) -> ChatChanged:
    return ChatChanged(
        id=chat_id,
        telegram_chat_id=-100 - len(chat_id),
        title=f"Chat {chat_id}",
        topics=list(topics),
        target_per_hour=target,
        reply_probability=reply_probability,
        bot_ids=list(bot_ids),
        activity_curve=list(curve) if curve is not None else [1.0] * 24,
    )


def stance(bot_id: str, topic: str, position: str, strength: float = 0.8) -> StanceChanged:
    return StanceChanged(
        id=f"st-{bot_id}-{next(_ids)}",
        bot_id=bot_id,
        topic=topic,
        position=Position(position),
        strength=strength,
        rationale=f"{bot_id} on {topic}",
    )


def holding(bot_id: str, symbol: str, quantity: float) -> HoldingChanged:
    return HoldingChanged(
        id=f"h-{bot_id}-{symbol}-{next(_ids)}", bot_id=bot_id, symbol=symbol, quantity=quantity
    )


def settings(**scheduler: Any) -> SettingsChanged:
    """The fleet's settings at their defaults, with the scheduler's advanced overrides."""
    return SettingsChanged(id=SETTINGS_ID, values={"scheduler": scheduler})


def fleet_settings(*, scheduler: dict[str, Any] | None = None, **knobs: Any) -> SettingsChanged:
    """The fleet's settings as the config API stores them (every knob, defaulted), with the
    scheduler's advanced overrides if given."""
    values = FleetSettings(**knobs).model_dump(mode="json")
    if scheduler is not None:
        values["scheduler"] = scheduler
    return SettingsChanged(id=SETTINGS_ID, values=values)


def control(scope: ControlScope, target: str | None, state: ControlState) -> ControlChanged:
    return ControlChanged(
        id=f"ctl-{scope.value}-{target}", scope=scope, target_id=target, state=state
    )


def event(
    payload: Payload,
    *,
    chat_id: str | None = None,
    bot_id: str | None = None,
    turn_id: str | None = None,
    at: datetime = START,
    event_id: str | None = None,
    epoch: int | None = None,
) -> Event:
    envelope = Envelope(
        id=event_id or f"ev{next(_ids)}",
        type=payload.event_type,
        version=payload.version,
        occurred_at=at,
        correlation_id="test",
        keys=EventKeys(chat_id=chat_id, bot_id=bot_id, turn_id=turn_id),
        epoch=epoch,
        payload=payload.model_dump(mode="json"),
    )
    return Event(envelope, payload)


def sent(
    chat_id: str,
    bot_id: str,
    text: str,
    *,
    at: datetime,
    turn_id: str | None = None,
    message_id: int | None = None,
    reply_to: int | None = None,
) -> Event:
    turn = turn_id or f"turn{next(_ids)}"
    payload = Sent(
        turn_id=turn,
        bot_id=bot_id,
        telegram_chat_id=-1,
        telegram_message_id=message_id if message_id is not None else next(_ids) + 10_000,
        text=text,
        reply_to_message_id=reply_to,
        sent_at=at,
    )
    return event(payload, chat_id=chat_id, bot_id=bot_id, turn_id=turn, at=at)


def incoming(
    chat_id: str,
    person_id: str,
    text: str,
    *,
    at: datetime,
    mentioned: Sequence[str] = (),
    reply_to: int | None = None,
    username: str | None = "ayse",
    name: str | None = "Ayşe",
    message_id: int | None = None,
    event_id: str | None = None,
    edited_at: datetime | None = None,
) -> Event:
    """A human's message; `name=None` is a person erased: name and text cannot be opened."""
    key = SIM_KEY if name else "erased"  # a person erased: their key is gone
    payload = IncomingMessage(
        person_id=person_id,
        via_bot_id="listener",
        telegram_chat_id=-1,
        telegram_message_id=message_id if message_id is not None else next(_ids) + 10_000,
        update_id=next(_ids),
        sender_name=SealedText(key_id=key, ciphertext=name or "x"),
        text=SealedText(key_id=key, ciphertext=text),
        username=username,
        reply_to_message_id=reply_to,
        mentioned_bot_ids=list(mentioned),
        date=at,
        edit_date=edited_at,
    )
    return event(payload, chat_id=chat_id, at=at, event_id=event_id)


def fleet(config: Iterable[ConfigChanged]) -> FleetState:
    state = FleetState(MemoAnalyzer(), SimulatedUnsealer())
    for payload in config:
        state.apply_config(event(payload), 0)
    return state


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
