"""What each event does to the projection tables: pure functions, no I/O.

Every function maps one event (and its stream sequence) to the rows it
upserts. A row is a function of the event and its position alone, so applying
the same prefix of the log twice, or rebuilding it from scratch, ends in the
same rows. Config events carry the aggregate's full state, so the last event
of an aggregate wins; a delete is the same event with `deleted=True`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from piyasa_contracts.envelope import Envelope
from piyasa_contracts.events.config import (
    BotChanged,
    BotStatusChanged,
    ChatChanged,
    ChatStatusChanged,
    ConfigChanged,
    ControlChanged,
    HoldingChanged,
    PersonErased,
    SettingsChanged,
    StanceChanged,
)
from piyasa_contracts.events.conversation import (
    DispatchFailed,
    IncomingMessage,
    ReactionAdded,
    Sent,
    TurnDropped,
    TurnExpired,
    TurnStage,
)
from piyasa_contracts.events.system import DeadLettered
from piyasa_contracts.registry import Event


@dataclass(frozen=True, slots=True)
class Row:
    """One upsert: every column of `table`, and the stream sequence it comes from."""

    table: str
    values: Mapping[str, Any]
    sequence: int


UPSERT_GUARDS: Final[Mapping[str, str]] = {
    # A turn that reached Telegram stays sent: a late expiry or failure of the
    # same turn (a race between stages) does not unsay a posted message.
    "turn_outcomes": "existing.outcome <> 'sent'",
}
"""Per table, the condition (on `existing`) under which a conflicting row is replaced."""


def rows_for(event: Event, sequence: int) -> list[Row]:
    """The rows an event upserts; an event no table projects gives none."""
    env, payload = event.envelope, event.payload
    match payload:
        case BotChanged():
            return [apply_bot_changed(env, payload, sequence)]
        case ChatChanged():
            return [apply_chat_changed(env, payload, sequence)]
        case StanceChanged():
            return [apply_stance_changed(env, payload, sequence)]
        case HoldingChanged():
            return [apply_holding_changed(env, payload, sequence)]
        case SettingsChanged():
            return [apply_settings_changed(env, payload, sequence)]
        case ControlChanged():
            return [apply_control_changed(env, payload, sequence)]
        case BotStatusChanged():
            return [apply_bot_status_changed(env, payload, sequence)]
        case ChatStatusChanged():
            return [apply_chat_status_changed(env, payload, sequence)]
        case PersonErased():
            return [apply_person_erased(env, payload, sequence)]
        case Sent():
            return apply_sent(env, payload, sequence)
        case IncomingMessage():
            return [apply_incoming_message(env, payload, sequence)]
        case ReactionAdded():
            return [apply_reaction_added(env, payload, sequence)]
        case DispatchFailed():
            return [apply_dispatch_failed(env, payload, sequence)]
        case TurnExpired() | TurnDropped():
            return [apply_turn_closed(env, payload, sequence)]
        case DeadLettered():
            return [apply_dead_lettered(env, payload, sequence)]
        case _:
            return []


# config ----------------------------------------------------------------------


def _aggregate(env: Envelope, payload: ConfigChanged, sequence: int) -> dict[str, Any]:
    return {
        "id": payload.id,
        "deleted": payload.deleted,
        "version": sequence,
        "updated_at": env.occurred_at,
    }


def apply_bot_changed(env: Envelope, bot: BotChanged, sequence: int) -> Row:
    return Row(
        "bots",
        {
            **_aggregate(env, bot, sequence),
            "name": bot.name,
            "username": bot.username,
            "token_ref": bot.token_ref,
            "enabled": bot.enabled,
            "active_hours": bot.active_hours.model_dump(mode="json"),
            "language": bot.language,
            "llm": bot.llm.model_dump(mode="json") if bot.llm is not None else None,
            "hourly_limit": bot.hourly_limit,
            "persona": bot.persona.model_dump(mode="json"),
            "emotion": bot.emotion.model_dump(mode="json"),
        },
        sequence,
    )


def apply_chat_changed(env: Envelope, chat: ChatChanged, sequence: int) -> Row:
    return Row(
        "chats",
        {
            **_aggregate(env, chat, sequence),
            "telegram_chat_id": chat.telegram_chat_id,
            "title": chat.title,
            "topics": list(chat.topics),
            "language": chat.language,
            "target_per_hour": chat.target_per_hour,
            "typing": chat.typing,
            "reply_probability": chat.reply_probability,
            "bot_ids": list(chat.bot_ids),
            "listener_bot_id": chat.listener_bot_id,
            "activity_curve": list(chat.activity_curve),
        },
        sequence,
    )


def apply_stance_changed(env: Envelope, stance: StanceChanged, sequence: int) -> Row:
    return Row(
        "stances",
        {
            **_aggregate(env, stance, sequence),
            "bot_id": stance.bot_id,
            "topic": stance.topic,
            "position": stance.position.value,
            "strength": stance.strength,
            "rationale": stance.rationale,
            "cooldown_until": stance.cooldown_until,
        },
        sequence,
    )


def apply_holding_changed(env: Envelope, holding: HoldingChanged, sequence: int) -> Row:
    return Row(
        "holdings",
        {
            **_aggregate(env, holding, sequence),
            "bot_id": holding.bot_id,
            "symbol": holding.symbol,
            "quantity": holding.quantity,
            "average_cost": holding.average_cost,
            "opened_at": holding.opened_at,
            "note": holding.note,
        },
        sequence,
    )


def apply_settings_changed(env: Envelope, settings: SettingsChanged, sequence: int) -> Row:
    return Row(
        "settings", {**_aggregate(env, settings, sequence), "values": settings.values}, sequence
    )


def apply_control_changed(env: Envelope, control: ControlChanged, sequence: int) -> Row:
    return Row(
        "controls",
        {
            **_aggregate(env, control, sequence),
            "scope": control.scope.value,
            "target_id": control.target_id,
            "state": control.state.value,
        },
        sequence,
    )


def apply_bot_status_changed(env: Envelope, status: BotStatusChanged, sequence: int) -> Row:
    return Row(
        "bot_statuses",
        {
            **_aggregate(env, status, sequence),
            "token_check": status.token_check.value,
            "telegram_user_id": status.telegram_user_id,
            "telegram_username": status.telegram_username,
            "can_read_all_group_messages": status.can_read_all_group_messages,
            "disabled_everywhere": status.disabled_everywhere,
            "disabled_in_chats": list(status.disabled_in_chats),
            "admin_in_chats": list(status.admin_in_chats),
            "checked_at": status.checked_at,
            "detail": status.detail,
        },
        sequence,
    )


def apply_chat_status_changed(env: Envelope, status: ChatStatusChanged, sequence: int) -> Row:
    return Row(
        "chat_statuses",
        {
            **_aggregate(env, status, sequence),
            "can_hear_humans": status.can_hear_humans,
            "listener_bot_id": status.listener_bot_id,
            "migrated_to_chat_id": status.migrated_to_chat_id,
            "checked_at": status.checked_at,
            "detail": status.detail,
        },
        sequence,
    )


def apply_person_erased(env: Envelope, erased: PersonErased, sequence: int) -> Row:
    """Who was erased and when; the API shows their sealed messages as erased."""
    return Row(
        "erased_people",
        {
            **_aggregate(env, erased, sequence),
            "erased_at": erased.erased_at,
            "reason": erased.reason,
        },
        sequence,
    )


# conversation ----------------------------------------------------------------


def _logged(env: Envelope, sequence: int) -> dict[str, Any]:
    return {"event_id": env.id, "stream_sequence": sequence}


def apply_sent(env: Envelope, sent: Sent, sequence: int) -> list[Row]:
    """A bot's message: the message itself, and its turn's outcome."""
    message = {
        "telegram_chat_id": sent.telegram_chat_id,
        "telegram_message_id": sent.telegram_message_id,
        "chat_id": env.keys.chat_id,
        "kind": "bot",
        "turn_id": sent.turn_id,
        "bot_id": sent.bot_id,
        "person_id": None,
        "via_bot_id": None,
        "text": sent.text,
        "sealed_text": None,
        "sealed_sender_name": None,
        "reply_to_message_id": sent.reply_to_message_id,
        "sent_at": sent.sent_at,
        "edited_at": None,
        **_logged(env, sequence),
    }
    outcome = {
        "turn_id": sent.turn_id,
        "chat_id": env.keys.chat_id,
        "bot_id": sent.bot_id,
        "outcome": "sent",
        "stage": TurnStage.DISPATCHER.value,
        "reason": None,
        "detail": None,
        "at": sent.sent_at,
        **_logged(env, sequence),
    }
    return [Row("messages", message, sequence), Row("turn_outcomes", outcome, sequence)]


def apply_incoming_message(env: Envelope, incoming: IncomingMessage, sequence: int) -> Row:
    """A human's message, still sealed: the projector never holds a person's key.

    An edit arrives as a new event for the same Telegram message and replaces
    the row's text, keeping its identity.
    """
    return Row(
        "messages",
        {
            "telegram_chat_id": incoming.telegram_chat_id,
            "telegram_message_id": incoming.telegram_message_id,
            "chat_id": env.keys.chat_id,
            "kind": "human",
            "turn_id": None,
            "bot_id": None,
            "person_id": incoming.person_id,
            "via_bot_id": incoming.via_bot_id,
            "text": None,
            "sealed_text": incoming.text.model_dump(mode="json"),
            "sealed_sender_name": incoming.sender_name.model_dump(mode="json"),
            "reply_to_message_id": incoming.reply_to_message_id,
            "sent_at": incoming.date,
            "edited_at": incoming.edit_date,
            **_logged(env, sequence),
        },
        sequence,
    )


def apply_reaction_added(env: Envelope, reaction: ReactionAdded, sequence: int) -> Row:
    return Row(
        "reactions",
        {
            "telegram_chat_id": reaction.telegram_chat_id,
            "telegram_message_id": reaction.telegram_message_id,
            "actor_id": reaction.actor_id,
            "emoji": reaction.emoji,
            "chat_id": env.keys.chat_id,
            "actor_is_bot": reaction.actor_is_bot,
            "reacted_at": env.occurred_at,
            **_logged(env, sequence),
        },
        sequence,
    )


def apply_dispatch_failed(env: Envelope, failed: DispatchFailed, sequence: int) -> Row:
    detail = failed.description or None
    if failed.error_code is not None:
        detail = f"{failed.error_code} {failed.description}".strip()
    return Row(
        "turn_outcomes",
        {
            "turn_id": failed.turn_id,
            "chat_id": env.keys.chat_id,
            "bot_id": failed.bot_id,
            "outcome": "failed",
            "stage": TurnStage.DISPATCHER.value,
            "reason": failed.action.value,
            "detail": detail,
            "at": env.occurred_at,
            **_logged(env, sequence),
        },
        sequence,
    )


def apply_turn_closed(env: Envelope, closed: TurnExpired | TurnDropped, sequence: int) -> Row:
    """A turn that expired or was dropped at some stage, with why."""
    return Row(
        "turn_outcomes",
        {
            "turn_id": closed.turn_id,
            "chat_id": env.keys.chat_id,
            "bot_id": env.keys.bot_id,
            "outcome": "expired" if isinstance(closed, TurnExpired) else "dropped",
            "stage": closed.stage.value,
            "reason": closed.reason,
            "detail": None,
            "at": env.occurred_at,
            **_logged(env, sequence),
        },
        sequence,
    )


# dead letters ----------------------------------------------------------------


def apply_dead_lettered(env: Envelope, parked: DeadLettered, sequence: int) -> Row:
    """A parked message, without its body: the API reads that from the stream."""
    return Row(
        "dead_letters",
        {
            "id": env.id,
            "consumer": parked.consumer,
            "reason": parked.reason,
            "error": parked.error,
            "original_type": parked.original_type,
            "original_id": parked.original_id,
            "original_stream": parked.stream_name,
            "original_sequence": parked.stream_sequence,
            "original_subject": parked.subject,
            "deliveries": parked.deliveries,
            "parked_at": env.occurred_at,
            "stream_sequence": sequence,
        },
        sequence,
    )
