"""Whole-fleet operations: the wizard's example fleet, export and import."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from nats.js import JetStreamContext

from piyasa_common.state import StartAt, StreamFollower
from piyasa_config.domain.fleet import FleetDocument
from piyasa_config.domain.ids import wizard_event_id
from piyasa_config.domain.wizard import ExampleFleet, sandbox_token
from piyasa_config.store.bots import BotWrites
from piyasa_config.store.chats import ChatWrites
from piyasa_config.store.events import EventStore, Stored
from piyasa_config.store.writer import Writer, keys_for, revise
from piyasa_contracts import StreamRole, Topology
from piyasa_contracts.events.config import (
    BotChanged,
    ChatChanged,
    ConfigChanged,
    HoldingChanged,
    SettingsChanged,
    StanceChanged,
)
from piyasa_contracts.fleet_settings import SETTINGS_ID, FleetSettings
from piyasa_contracts.registry import Event

T = TypeVar("T")

IMPORT_CONCURRENCY = 16


@dataclass
class FleetReport:
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    last_version: int = 0

    def count(self, outcome: str, aggregate: str, version: int) -> None:
        getattr(self, outcome)[aggregate] += 1
        self.last_version = max(self.last_version, version)


class FleetOps:
    def __init__(
        self,
        js: JetStreamContext,
        topology: Topology,
        writer: Writer,
        bots: BotWrites,
        chats: ChatWrites,
        *,
        sandbox_tokens: bool = False,
    ) -> None:
        self._js = js
        self._topology = topology
        self._writer = writer
        self._events: EventStore = writer.events
        self._bots = bots
        self._chats = chats
        self._sandbox_tokens = sandbox_tokens

    async def run_wizard(self, wizard_id: str, fleet: ExampleFleet, *, actor: str) -> FleetReport:
        """Store what the fleet lacks; a retry after a partial run completes it.

        Every event id is derived from the wizard id and the aggregate, so an
        aggregate this run (or a concurrent retry of it) stored is recognised
        and skipped; one someone else stored is left alone too.
        """
        report = FleetReport()
        for state in fleet.in_order():
            current = await self._events.current(type(state), state.id)
            if current.state is not None:
                report.count("unchanged", state.aggregate, current.version)
                continue
            event_id = wizard_event_id(wizard_id, state.id)
            stored: Stored[Any]
            if isinstance(state, ChatChanged):
                stored = await self._chats.create(state, actor=actor, event_id=event_id)
            elif isinstance(state, BotChanged) and self._sandbox_tokens:
                token = sandbox_token(wizard_id, state.id)
                stored = await self._bots.create(state, token, actor=actor, event_id=event_id)
            else:
                stored = await self._writer.create(state, actor=actor, event_id=event_id)
            report.count("created", state.aggregate, stored.version)
        return report

    async def export(self) -> FleetDocument:
        """Every live aggregate as the log holds it now (the last event per subject)."""
        latest: dict[str, ConfigChanged] = {}

        def keep(event: Event, sequence: int) -> None:
            del sequence
            if isinstance(event.payload, ConfigChanged):
                latest[f"{event.payload.aggregate}/{event.payload.id}"] = event.payload

        follower = StreamFollower(
            self._js,
            self._topology,
            stream=StreamRole.CONFIG,
            apply=keep,
            start=StartAt.last_per_subject(),
            name="config:export",
        )
        await follower.start()
        try:
            await follower.caught_up.wait()
        finally:
            await follower.stop()
        live = [s for s in latest.values() if not s.deleted]
        settings = next((s for s in live if isinstance(s, SettingsChanged)), None)
        return FleetDocument(
            bots=_sorted(s for s in live if isinstance(s, BotChanged)),
            chats=_sorted(s for s in live if isinstance(s, ChatChanged)),
            stances=_sorted(s for s in live if isinstance(s, StanceChanged)),
            holdings=_sorted(s for s in live if isinstance(s, HoldingChanged)),
            settings=FleetSettings.model_validate(settings.values) if settings else None,
        )

    async def import_(self, document: FleetDocument, *, actor: str) -> FleetReport:
        """Write every aggregate of the document: create, update, or leave alone if equal."""
        report = FleetReport()
        kinds: list[list[Any]] = [
            list(document.bots),
            list(document.chats),
            list(document.stances),
            list(document.holdings),
        ]
        for states in kinds:
            await _bounded([self._put(s, actor, report) for s in states])
        if document.settings is not None:
            values = document.settings.model_dump(mode="json")
            await self._put(SettingsChanged(id=SETTINGS_ID, values=values), actor, report)
        return report

    async def _put(self, state: ConfigChanged, actor: str, report: FleetReport) -> None:
        current = await self._events.current(type(state), state.id)
        if current.live and current.state is not None:
            if isinstance(state, BotChanged):
                # A token is never in a document: keep the one the bot has.
                state = revise(state, {"token_ref": current.state.model_dump()["token_ref"]})
            if _same(current.state, state):
                report.count("unchanged", state.aggregate, current.version)
                return
            if isinstance(state, ChatChanged):
                new = state
                stored: Any = await self._chats.update(
                    state.id, lambda _: new, if_match=current.version, actor=actor
                )
            else:
                stored = await self._writer.save(state, current.version, actor=actor)
            report.count("updated", state.aggregate, stored.version)
            return
        if isinstance(state, ChatChanged):
            stored = await self._chats.create(state, actor=actor)
        else:
            stored = await self._events.append(
                state, expected=current.version, actor=actor, keys=keys_for(state)
            )
        report.count("created", state.aggregate, stored.version)


def _same(a: ConfigChanged, b: ConfigChanged) -> bool:
    return a.model_dump(mode="json") == b.model_dump(mode="json")


def _sorted(states: Iterable[T]) -> list[T]:
    return sorted(states, key=lambda s: getattr(s, "id", ""))


async def _bounded(work: list[Coroutine[Any, Any, None]]) -> None:
    """Run the coroutines, at most IMPORT_CONCURRENCY at a time."""
    gate = asyncio.Semaphore(IMPORT_CONCURRENCY)

    async def one(job: Coroutine[Any, Any, None]) -> None:
        async with gate:
            await job

    await asyncio.gather(*(one(job) for job in work))


__all__ = ["FleetOps", "FleetReport"]
