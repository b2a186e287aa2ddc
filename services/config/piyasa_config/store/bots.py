"""Bots' writes: their token is reserved (unique), encrypted and stored beside the event.

Order of a write that sets a token: reserve the token's hash, store the
encrypted token under a new reference, publish the event naming that
reference; then drop what the bot held before. If the publish fails, the
new secret and reservation are dropped instead, so nothing leaks.
"""

from __future__ import annotations

from collections.abc import Callable

from piyasa_config.errors import AlreadyExists, NotFound
from piyasa_config.secrets import TokenVault, validate_token
from piyasa_config.store.events import Stored
from piyasa_config.store.reservations import Reservations, token_key
from piyasa_config.store.writer import Writer, keys_for, revise
from piyasa_contracts.events.config import BotChanged


class BotWrites:
    def __init__(self, writer: Writer, vault: TokenVault, reservations: Reservations) -> None:
        self._writer = writer
        self._events = writer.events
        self._vault = vault
        self._reservations = reservations

    async def is_live(self, bot_id: str) -> bool:
        return (await self._events.current(BotChanged, bot_id)).live

    async def _token_holder_live(self, bot_id: str) -> bool:
        current = await self._events.current(BotChanged, bot_id)
        return current.live and current.state is not None and current.state.token_ref is not None

    async def create(
        self, state: BotChanged, token: str | None, *, actor: str, event_id: str | None = None
    ) -> Stored[BotChanged]:
        current = await self._events.current(BotChanged, state.id)
        if current.live:
            raise AlreadyExists(f"bot {state.id} exists", field="id")
        ref = await self._take_token(state.id, token) if token is not None else None
        try:
            return await self._events.append(
                revise(state, {"token_ref": ref}),
                expected=current.version,
                actor=actor,
                keys=keys_for(state),
                event_id=event_id,
            )
        except BaseException:
            await self._give_back(state.id, token, ref)
            raise

    async def update(
        self,
        bot_id: str,
        change: Callable[[BotChanged], BotChanged],
        *,
        token: str | None,
        if_match: int | None,
        actor: str,
    ) -> Stored[BotChanged]:
        """`token` None keeps the bot's token; a new one replaces it."""
        current = await self._writer.load(BotChanged, bot_id, if_match)
        assert current.state is not None
        old_ref = current.state.token_ref
        state = change(current.state)
        if token is None:
            return await self._writer.save(
                revise(state, {"token_ref": old_ref}), current.version, actor=actor
            )
        old_token = await self._reveal(old_ref)
        if old_token == validate_token(token):
            return await self._writer.save(
                revise(state, {"token_ref": old_ref}), current.version, actor=actor
            )
        ref = await self._take_token(bot_id, token)
        try:
            stored = await self._writer.save(
                revise(state, {"token_ref": ref}), current.version, actor=actor
            )
        except BaseException:
            await self._give_back(bot_id, token, ref)
            raise
        await self._give_back(bot_id, old_token, old_ref)
        return stored

    async def delete(self, bot_id: str, *, if_match: int | None, actor: str) -> Stored[BotChanged]:
        """A tombstone without a token; the token is freed for another bot."""
        current = await self._writer.load(BotChanged, bot_id, if_match)
        assert current.state is not None
        old_ref = current.state.token_ref
        old_token = await self._reveal(old_ref)
        stored = await self._writer.save(
            revise(current.state, {"deleted": True, "token_ref": None}),
            current.version,
            actor=actor,
        )
        await self._give_back(bot_id, old_token, old_ref)
        return stored

    async def require_live(self, bot_ids: list[str], field: str) -> None:
        for bot_id, current in zip(
            bot_ids, await self._events.current_many(BotChanged, bot_ids), strict=True
        ):
            if not current.live:
                raise NotFound(f"no bot {bot_id}", field=field)

    async def _take_token(self, bot_id: str, token: str) -> str:
        validate_token(token)
        await self._reservations.reserve(
            token_key(token), bot_id, is_live=self._token_holder_live, field="token"
        )
        try:
            return await self._vault.store(bot_id, token)
        except BaseException:
            await self._reservations.release(token_key(token), bot_id)
            raise

    async def _give_back(self, bot_id: str, token: str | None, ref: str | None) -> None:
        await self._vault.delete(ref)
        if token is not None:
            await self._reservations.release(token_key(token), bot_id)

    async def _reveal(self, ref: str | None) -> str | None:
        if ref is None:
            return None
        try:
            return await self._vault.reveal(ref)
        except Exception:
            return None  # a lost or undecryptable secret: nothing to release
