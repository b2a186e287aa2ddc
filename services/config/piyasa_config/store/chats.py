"""Chats' writes: a Telegram chat id belongs to one chat (a KV reservation)."""

from __future__ import annotations

from collections.abc import Callable

from piyasa_config.domain.rules import chat_bots
from piyasa_config.errors import AlreadyExists
from piyasa_config.store.bots import BotWrites
from piyasa_config.store.events import Stored
from piyasa_config.store.reservations import Reservations, chat_key
from piyasa_config.store.writer import Writer, keys_for, revise
from piyasa_contracts.events.config import ChatChanged


class ChatWrites:
    def __init__(self, writer: Writer, bots: BotWrites, reservations: Reservations) -> None:
        self._writer = writer
        self._events = writer.events
        self._bots = bots
        self._reservations = reservations

    async def _holder_live(self, chat_id: str, telegram_chat_id: int) -> bool:
        current = await self._events.current(ChatChanged, chat_id)
        return (
            current.live
            and current.state is not None
            and current.state.telegram_chat_id == telegram_chat_id
        )

    async def _reserve(self, chat_id: str, telegram_chat_id: int) -> None:
        async def is_live(holder: str) -> bool:
            return await self._holder_live(holder, telegram_chat_id)

        await self._reservations.reserve(
            chat_key(telegram_chat_id), chat_id, is_live=is_live, field="telegram_chat_id"
        )

    async def validate(self, state: ChatChanged) -> ChatChanged:
        """The state as stored: the listener among the bots, every bot live (else 404)."""
        bot_ids = chat_bots(list(state.bot_ids), state.listener_bot_id)
        await self._bots.require_live(bot_ids, "bot_ids")
        return state if bot_ids == state.bot_ids else revise(state, {"bot_ids": bot_ids})

    async def create(
        self, state: ChatChanged, *, actor: str, event_id: str | None = None
    ) -> Stored[ChatChanged]:
        current = await self._events.current(ChatChanged, state.id)
        if current.live:
            raise AlreadyExists(f"chat {state.id} exists", field="id")
        state = await self.validate(state)
        await self._reserve(state.id, state.telegram_chat_id)
        try:
            return await self._events.append(
                state,
                expected=current.version,
                actor=actor,
                keys=keys_for(state),
                event_id=event_id,
            )
        except BaseException:
            await self._reservations.release(chat_key(state.telegram_chat_id), state.id)
            raise

    async def update(
        self,
        chat_id: str,
        change: Callable[[ChatChanged], ChatChanged],
        *,
        if_match: int | None,
        actor: str,
    ) -> Stored[ChatChanged]:
        current = await self._writer.load(ChatChanged, chat_id, if_match)
        assert current.state is not None
        old_id = current.state.telegram_chat_id
        state = await self.validate(change(current.state))
        moved = state.telegram_chat_id != old_id
        if moved:
            await self._reserve(chat_id, state.telegram_chat_id)
        try:
            stored = await self._writer.save(state, current.version, actor=actor)
        except BaseException:
            if moved:
                await self._reservations.release(chat_key(state.telegram_chat_id), chat_id)
            raise
        if moved:
            await self._reservations.release(chat_key(old_id), chat_id)
        return stored

    async def delete(
        self, chat_id: str, *, if_match: int | None, actor: str
    ) -> Stored[ChatChanged]:
        current = await self._writer.load(ChatChanged, chat_id, if_match)
        assert current.state is not None
        stored = await self._writer.save(
            revise(current.state, {"deleted": True}), current.version, actor=actor
        )
        await self._reservations.release(chat_key(current.state.telegram_chat_id), chat_id)
        return stored
