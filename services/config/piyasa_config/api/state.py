"""Everything the routes use, built once by the composition root (or a test)."""

from __future__ import annotations

from dataclasses import dataclass

from nats.js import JetStreamContext

from piyasa_common.clock import Clock
from piyasa_common.sealing import DataKeys
from piyasa_config.api.ratelimit import RateLimits
from piyasa_config.auth.store import AuthStore
from piyasa_config.secrets import TokenVault
from piyasa_config.settings import ConfigSettings
from piyasa_config.store.bots import BotWrites
from piyasa_config.store.chats import ChatWrites
from piyasa_config.store.events import EventStore
from piyasa_config.store.fleet import FleetOps
from piyasa_config.store.reads import ProjectionReader
from piyasa_config.store.writer import Writer
from piyasa_contracts import StreamRole, Topology


@dataclass(frozen=True)
class AppState:
    settings: ConfigSettings
    clock: Clock
    js: JetStreamContext
    topology: Topology
    events: EventStore
    writer: Writer
    bots: BotWrites
    chats: ChatWrites
    fleet: FleetOps
    reader: ProjectionReader
    auth: AuthStore
    vault: TokenVault
    datakeys: DataKeys
    limits: RateLimits

    @property
    def config_stream(self) -> str:
        return self.topology.stream(StreamRole.CONFIG)
