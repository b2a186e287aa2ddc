"""Create, update and delete any config aggregate as events, with optimistic concurrency."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from piyasa_config.errors import AlreadyExists, Invalid, NotFound, VersionConflict
from piyasa_config.store.events import Current, EventStore, Stored
from piyasa_contracts import EventKeys
from piyasa_contracts.events.config import (
    BotChanged,
    ChatChanged,
    ConfigChanged,
    HoldingChanged,
    StanceChanged,
)

P = TypeVar("P", bound=ConfigChanged)


def keys_for(state: ConfigChanged) -> EventKeys:
    """The envelope keys a config event routes and partitions by."""
    match state:
        case BotChanged():
            return EventKeys(bot_id=state.id)
        case ChatChanged():
            return EventKeys(chat_id=state.id)
        case StanceChanged() | HoldingChanged():
            return EventKeys(bot_id=state.bot_id)
        case _:
            return EventKeys()


def revise(state: P, changes: Mapping[str, Any]) -> P:
    """`state` with `changes`, validated as a whole (a model_copy would skip validation)."""
    data = state.model_dump()
    data.update(changes)
    try:
        return type(state).model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise Invalid(first["msg"], field=".".join(str(p) for p in first["loc"])) from exc


def check_if_match(current: Current[Any], if_match: int | None, what: str) -> None:
    if if_match is not None and if_match != current.version:
        raise VersionConflict(what, if_match, current.version)


class Writer:
    def __init__(self, events: EventStore) -> None:
        self.events = events

    async def create(self, state: P, *, actor: str, event_id: str | None = None) -> Stored[P]:
        """Store a new aggregate; over a deleted one (a tombstone) too."""
        current = await self.events.current(type(state), state.id)
        if current.live:
            raise AlreadyExists(f"{state.aggregate} {state.id} exists", field="id")
        return await self.events.append(
            state, expected=current.version, actor=actor, keys=keys_for(state), event_id=event_id
        )

    async def load(self, cls: type[P], aggregate_id: str, if_match: int | None) -> Current[P]:
        current = await self.events.current(cls, aggregate_id)
        if not current.live:
            raise NotFound(f"no {cls.aggregate} {aggregate_id}")
        check_if_match(current, if_match, f"{cls.aggregate} {aggregate_id}")
        return current

    async def update(
        self,
        cls: type[P],
        aggregate_id: str,
        change: Callable[[P], P],
        *,
        if_match: int | None,
        actor: str,
    ) -> Stored[P]:
        """Apply `change` to the stored state; 409 if it moved since `if_match` or since read."""
        current = await self.load(cls, aggregate_id, if_match)
        assert current.state is not None
        state = change(current.state)
        return await self.save(state, current.version, actor=actor)

    async def save(self, state: P, expected: int, *, actor: str) -> Stored[P]:
        return await self.events.append(state, expected=expected, actor=actor, keys=keys_for(state))

    async def delete(
        self, cls: type[P], aggregate_id: str, *, if_match: int | None, actor: str
    ) -> Stored[P]:
        """A tombstone: the full last state with `deleted: true`."""
        return await self.update(
            cls,
            aggregate_id,
            lambda s: revise(s, {"deleted": True}),
            if_match=if_match,
            actor=actor,
        )
