"""Incoming updates become events: humans' messages and reactions on the chat's subject,
and status changes (membership, migration) as config events.

    raw update -> Update (or Unprocessable) -> seen before? -> observe -> seal -> publish
              -> remember it was seen

Deduplicated twice (see `updates.dedup_keys`) in the `updates` bucket, and
every event id is derived from what it describes, so the steps can be
replayed after a crash: publishing first and remembering after means a
crash in between republishes the same ids, which JetStream drops.

Humans' names, texts and Telegram ids are sealed with the person's data key
(`piyasa_common.sealing`); the person id is a keyed hash of the Telegram id,
the same on every replica and opaque in the log.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from typing import Any

from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from pydantic import ValidationError

from piyasa_common import metrics as common_metrics
from piyasa_common.clock import Clock
from piyasa_common.publisher import Publisher
from piyasa_common.sealing import DataKeys
from piyasa_contracts import Bucket, Envelope, EventKeys, Topology, derive_event_id, make_event
from piyasa_contracts.events.config import BotStatusChanged
from piyasa_contracts.events.conversation import IncomingMessage, ReactionAdded
from piyasa_contracts.events.system import DeadLettered
from piyasa_dispatcher import metrics
from piyasa_dispatcher.events import SERVICE
from piyasa_dispatcher.state import Conversation, Fleet
from piyasa_dispatcher.statuses import StatusWriter
from piyasa_dispatcher.telegram import Update
from piyasa_dispatcher.updates import (
    BotMembership,
    ChatMoved,
    HumanMessage,
    HumanReaction,
    Observation,
    dedup_keys,
    observe,
)

log = logging.getLogger(__name__)

DEADLETTER_CONSUMER = "dispatcher-updates"
"""The dead-letter `consumer` of updates a webhook or a poller could not process."""

_PRESENT = frozenset({"member", "administrator", "creator"})
_ADMIN = frozenset({"administrator", "creator"})


class Unprocessable(Exception):
    """An Update that does not parse into what it claims to carry."""


def person_id_of(telegram_user_id: int, key: bytes) -> str:
    """An opaque, stable person id: a keyed hash of the Telegram user id."""
    digest = hashlib.blake2b(str(telegram_user_id).encode(), key=key[:64], digest_size=8)
    return f"p_{digest.hexdigest()}"


class Ingest:
    def __init__(
        self,
        js: JetStreamContext,
        topology: Topology,
        publisher: Publisher,
        fleet: Fleet,
        conversation: Conversation,
        datakeys: DataKeys,
        statuses: StatusWriter,
        clock: Clock,
        *,
        person_key: bytes,
        seen_ttl_s: int,
    ) -> None:
        self._js = js
        self._topology = topology
        self._publisher = publisher
        self._fleet = fleet
        self._conversation = conversation
        self._datakeys = datakeys
        self._statuses = statuses
        self._clock = clock
        self._person_key = person_key
        self._ttl = seen_ttl_s
        self._kv: KeyValue | None = None

    async def handle(self, bot_id: str, raw: Any, source: str) -> int:
        """Turn one raw update into events; returns how many. Raises Unprocessable."""
        try:
            update = Update.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise Unprocessable(f"{where}: {first['msg']}") from None
        observations = observe(update, bot_id, self._fleet)
        keys = dedup_keys(update, bot_id, observations)
        if await self._seen(keys):
            metrics.UPDATES.labels(source, "duplicate").inc()
            return 0
        envelopes: list[Envelope] = []
        for observation in observations:
            envelope = await self._apply(bot_id, update, observation)
            if envelope is not None:
                envelopes.append(envelope)
        if envelopes:
            await self._publisher.publish_all(envelopes)
        await self._remember(keys)
        metrics.UPDATES.labels(source, "event" if envelopes else "ignored").inc()
        return len(envelopes)

    async def dead_letter(
        self, bot_id: str, raw: bytes, reason: str, error: str, update_id: int | None
    ) -> None:
        """Park an update that could not be processed (a webhook still answers 200)."""
        position = f"telegram:{bot_id}:{update_id if update_id is not None else _digest(raw)}"
        parked = DeadLettered(
            consumer=DEADLETTER_CONSUMER,
            stream_name="telegram",
            stream_sequence=max(0, update_id or 0),
            subject=f"telegram.{bot_id}",
            reason=reason[:40],
            error=error[:2000],
            deliveries=1,
            data_b64=base64.b64encode(raw).decode(),
        )
        envelope = make_event(
            parked,
            occurred_at=self._clock.now(),
            keys=EventKeys(bot_id=bot_id),
            actor=SERVICE,
        ).model_copy(update={"id": derive_event_id(position, DeadLettered.event_type)})
        await self._publisher.publish(envelope)
        common_metrics.DEAD_LETTERS.labels(DEADLETTER_CONSUMER, reason[:40]).inc()
        log.error("update dead-lettered (%s): %s", reason, error, extra={"bot_id": bot_id})

    # -- observations --------------------------------------------------------------------
    async def _apply(self, bot_id: str, update: Update, o: Observation) -> Envelope | None:
        if isinstance(o, HumanMessage):
            return await self._incoming(bot_id, o)
        if isinstance(o, HumanReaction):
            return self._reaction(bot_id, update, o)
        if isinstance(o, BotMembership):
            await self._membership(o)
        elif isinstance(o, ChatMoved):
            await self._moved(o)
        return None

    async def _incoming(self, bot_id: str, o: HumanMessage) -> Envelope:
        person = person_id_of(o.sender.telegram_id, self._person_key)
        sealed_id = await self._datakeys.seal(person, str(o.sender.telegram_id))
        payload = IncomingMessage(
            person_id=person,
            via_bot_id=bot_id,
            telegram_chat_id=o.telegram_chat_id,
            telegram_message_id=o.message_id,
            update_id=o.update_id,
            sender_name=await self._datakeys.seal(person, o.sender.name or "?"),
            text=await self._datakeys.seal(person, o.text),
            sender_telegram_id=sealed_id,
            username=o.sender.username,
            reply_to_message_id=o.reply_to_message_id,
            mentioned_bot_ids=list(o.mentioned_bot_ids),
            date=o.date,
            edit_date=o.edit_date,
        )
        self._conversation.remember_person(person, sealed_id)
        envelope = make_event(
            payload,
            occurred_at=self._clock.now(),
            keys=EventKeys(bot_id=bot_id, chat_id=o.chat_id),
            actor=SERVICE,
        )
        event_id = derive_event_id(f"tg:{o.identity}", IncomingMessage.event_type)
        return envelope.model_copy(update={"id": event_id, "correlation_id": event_id})

    def _reaction(self, bot_id: str, update: Update, o: HumanReaction) -> Envelope:
        payload = ReactionAdded(
            telegram_chat_id=o.telegram_chat_id,
            telegram_message_id=o.message_id,
            actor_id=person_id_of(o.sender.telegram_id, self._person_key),
            actor_is_bot=False,
            emoji=o.emoji,
        )
        envelope = make_event(
            payload,
            occurred_at=self._clock.now(),
            keys=EventKeys(bot_id=bot_id, chat_id=o.chat_id),
            actor=SERVICE,
        )
        seed = f"tg:{bot_id}:{update.update_id}:{o.emoji}"
        event_id = derive_event_id(seed, ReactionAdded.event_type)
        return envelope.model_copy(update={"id": event_id, "correlation_id": event_id})

    async def _membership(self, o: BotMembership) -> None:
        now = self._clock.now()

        def change(s: BotStatusChanged) -> BotStatusChanged:
            disabled = set(s.disabled_in_chats)
            admin = set(s.admin_in_chats)
            if o.status in _PRESENT:
                disabled.discard(o.chat_id)
            else:
                disabled.add(o.chat_id)
            if o.status in _ADMIN:
                admin.add(o.chat_id)
            else:
                admin.discard(o.chat_id)
            return s.model_copy(
                update={
                    "disabled_in_chats": sorted(disabled),
                    "admin_in_chats": sorted(admin),
                    "checked_at": now,
                    "detail": f"Telegram: the bot is {o.status} in chat {o.chat_id}",
                }
            )

        await self._statuses.bot(o.bot_id, change)

    async def _moved(self, o: ChatMoved) -> None:
        now = self._clock.now()
        await self._statuses.chat(
            o.chat_id,
            lambda s: s.model_copy(
                update={
                    "migrated_to_chat_id": o.telegram_chat_id,
                    "checked_at": now,
                    "detail": "the group was upgraded to a supergroup",
                }
            ),
        )

    # -- the `updates` ledger ------------------------------------------------------------
    async def _store(self) -> KeyValue:
        if self._kv is None:
            self._kv = await self._js.key_value(self._topology.bucket(Bucket.UPDATES))
        return self._kv

    async def _seen(self, keys: list[str]) -> bool:
        kv = await self._store()
        for key in keys:
            try:
                await kv.get(key)
            except KeyNotFoundError:
                continue
            return True
        return False

    async def _remember(self, keys: list[str]) -> None:
        kv = await self._store()
        for key in keys:
            try:
                await kv.create(key, b"1", msg_ttl=self._ttl)
            except KeyWrongLastSequenceError:
                continue  # already remembered (another bot delivered the same message)


def _digest(raw: bytes) -> str:
    return hashlib.blake2b(raw, digest_size=8).hexdigest()


def update_id_of(raw: Any) -> int | None:
    if isinstance(raw, dict):
        value = raw.get("update_id")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def body_of(raw: Any) -> bytes:
    return json.dumps(raw, ensure_ascii=False).encode()


__all__ = [
    "DEADLETTER_CONSUMER",
    "Ingest",
    "Unprocessable",
    "body_of",
    "person_id_of",
    "update_id_of",
]
