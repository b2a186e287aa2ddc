"""Writing what Telegram told the dispatcher about bots and chats, as config events.

`bot_status.changed` and `chat_status.changed` carry the aggregate's full
state, like every config event. A change is a read-modify-write of the
subject's last event with optimistic concurrency (the expected last subject
sequence), retried on a conflict, and skipped when nothing but the time
changed. The fleet fold is updated at once, so the next send sees it before
the follower reads the event back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from piyasa_common.clock import Clock
from piyasa_common.errors import Conflict
from piyasa_common.publisher import Publisher
from piyasa_contracts import EventKeys, StreamRole, Topology, decode, make_event
from piyasa_contracts.events.config import BotStatusChanged, ChatStatusChanged, ConfigChanged
from piyasa_contracts.registry import Event
from piyasa_dispatcher.events import SERVICE
from piyasa_dispatcher.state import Fleet

log = logging.getLogger(__name__)

S = TypeVar("S", bound=ConfigChanged)

_ATTEMPTS = 5
_IGNORED = {"checked_at"}


class StatusWriter:
    def __init__(
        self,
        js: JetStreamContext,
        topology: Topology,
        publisher: Publisher,
        fleet: Fleet,
        clock: Clock,
    ) -> None:
        self._js = js
        self._topology = topology
        self._publisher = publisher
        self._fleet = fleet
        self._clock = clock

    async def bot(
        self, bot_id: str, change: Callable[[BotStatusChanged], BotStatusChanged]
    ) -> None:
        await self._write(BotStatusChanged, bot_id, change, EventKeys(bot_id=bot_id))

    async def chat(
        self, chat_id: str, change: Callable[[ChatStatusChanged], ChatStatusChanged]
    ) -> None:
        await self._write(ChatStatusChanged, chat_id, change, EventKeys(chat_id=chat_id))

    async def _write(
        self, cls: type[S], aggregate_id: str, change: Callable[[S], S], keys: EventKeys
    ) -> None:
        subject = self._topology.config_subject(cls.aggregate, aggregate_id)
        for _ in range(_ATTEMPTS):
            current, sequence = await self._current(cls, aggregate_id, subject)
            wanted = change(current)
            if _same(current, wanted) and sequence:
                return
            envelope = make_event(wanted, occurred_at=self._clock.now(), keys=keys, actor=SERVICE)
            try:
                ack = await self._publisher.publish(envelope, expected_last_subject_seq=sequence)
            except Conflict:
                continue
            self._fleet.apply(Event(envelope, wanted), ack.seq)
            return
        log.warning("status write kept conflicting; left as is", extra={"subject": subject})

    async def _current(self, cls: type[S], aggregate_id: str, subject: str) -> tuple[S, int]:
        stream = self._topology.stream(StreamRole.CONFIG)
        try:
            raw = await self._js.get_last_msg(stream, subject)
        except NotFoundError:
            return cls(id=aggregate_id), 0
        payload = decode(raw.data or b"").payload
        assert isinstance(payload, cls)
        return payload, int(raw.seq or 0)


def _same(a: ConfigChanged, b: ConfigChanged) -> bool:
    return a.model_dump(exclude=_IGNORED) == b.model_dump(exclude=_IGNORED)
