"""A test rig for the dispatcher: real NATS, a real sandbox, bots and chats on both sides.

rig.bot("ayse")                 a sandbox bot, its token encrypted in the secrets
                                bucket, and its `bot.changed` (with the token_ref)
rig.chat([a, b], listener=a)    a sandbox group with those bots, and its `chat.changed`
rig.approve(a, chat, "text")    a `message.approved` on WORK, as the guard emits it
rig.start()                     the dispatcher service, in-process, until it is ready
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cryptography.fernet import Fernet
from nats.js import JetStreamContext

from piyasa_common.heartbeat import read_heartbeats
from piyasa_common.publisher import Publisher
from piyasa_common.service import Service
from piyasa_contracts import (
    Bucket,
    Envelope,
    EventKeys,
    Payload,
    StreamRole,
    Topology,
    make_event,
)
from piyasa_contracts.events._common import ChatLine
from piyasa_contracts.events.config import BotChanged, ChatChanged, SettingsChanged
from piyasa_contracts.events.work import Approved, MentionEntity, ReactionApproved
from piyasa_contracts.fleet_settings import SETTINGS_ID, FleetSettings
from piyasa_dispatcher.main import setup_for
from piyasa_dispatcher.settings import DispatcherSettings
from tests.chaos.processes import ServiceProcess
from tests.integration.sandbox.sandbox_client import BotHandle, SandboxClient
from tests.support.backbone import settings_for, stream_events
from tests.support.waiting import eventually

FERNET_KEY = Fernet.generate_key().decode()
_names = itertools.count(1)


@dataclass(frozen=True)
class Bot:
    bot_id: str
    handle: BotHandle

    @property
    def telegram_id(self) -> int:
        return self.handle.id

    @property
    def username(self) -> str:
        return self.handle.username


@dataclass(frozen=True)
class Chat:
    chat_id: str
    telegram_chat_id: int
    bots: tuple[Bot, ...]
    listener: Bot | None


# Limits compressed 5x: 0.2 s per chat, 20 per 12 s per group, 30 per 0.2 s per bot.
COMPRESSED: dict[str, Any] = {
    "dispatcher_chat_interval_s": 0.2,
    "dispatcher_group_per_window": 20,
    "dispatcher_group_window_s": 12.0,
    "dispatcher_bot_per_window": 30,
    "dispatcher_bot_window_s": 0.2,
    "dispatcher_limit_margin": 0.25,
    "dispatcher_typing_repeat_s": 0.2,
    "dispatcher_poll_timeout_s": 1,
    "dispatcher_poll_backoff_s": 0.1,
    "dispatcher_retry_initial_s": 0.1,
    "dispatcher_retry_max_s": 0.5,
    "dispatcher_reply_wait_s": 5.0,
    "dispatcher_intent_grace_s": 0.5,
    "telegram_timeout_s": 3.0,
}
SANDBOX_LIMITS = {"chat_per_s": 5.0, "chat_burst": 2, "group_per_min": 100, "bot_per_s": 150}
"""The sandbox's limits matching COMPRESSED (group: 20 per 12 s ~ 100 per minute), with the
short burst Telegram tolerates: the sandbox's clock is not the dispatcher's."""


class DispatcherProcess(ServiceProcess):
    """`DISPATCHER_LOG_DIR` keeps each process's log lines (for a failure's post-mortem)."""

    def __init__(self, instance: str, env: dict[str, str]) -> None:
        super().__init__("piyasa_dispatcher.main", env=env)
        self.instance = instance

    async def start(self) -> DispatcherProcess:
        log_dir = os.environ.get("DISPATCHER_LOG_DIR")
        if not log_dir:
            await super().start()
            return self
        with open(os.path.join(log_dir, f"{self.instance}.log"), "ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                *self._argv, env=self._env, stdout=out, stderr=out
            )
        return self


@dataclass
class Rig:
    nats_url: str
    prefix: str
    sandbox_url: str
    tg: SandboxClient
    js: JetStreamContext
    topology: Topology
    publisher: Publisher
    overrides: dict[str, Any] = field(default_factory=dict)
    running: list[tuple[Service, asyncio.Task[int]]] = field(default_factory=list)
    processes: list[DispatcherProcess] = field(default_factory=list)
    seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # -- the service ---------------------------------------------------------------------
    def settings(self, **overrides: Any) -> DispatcherSettings:
        base = settings_for(self.nats_url, self.prefix).model_dump()
        values: dict[str, Any] = {
            **base,
            **COMPRESSED,
            "telegram_api_base": self.sandbox_url,
            "fernet_keys": FERNET_KEY,
            "instance_id": f"dispatcher-{uuid.uuid4().hex[:6]}",
            **self.overrides,
            **overrides,
        }
        return DispatcherSettings(**values)

    async def start(self, **overrides: Any) -> Service:
        settings = self.settings(**overrides)
        service = Service("dispatcher", settings, setup_for(settings))
        self.running.append((service, asyncio.create_task(service.run())))
        await eventually(lambda: service.ready, timeout=20, message="dispatcher ready")
        assert service.context is not None
        leases = service.context.leases[0]
        await asyncio.wait_for(leases.wait_settled(), 20)
        return service

    async def stop(self, service: Service) -> None:
        for s, task in list(self.running):
            if s is service:
                s.request_stop()
                assert await asyncio.wait_for(task, 30) == 0
                self.running.remove((s, task))

    async def stop_all(self) -> None:
        for service, _ in list(self.running):
            await self.stop(service)
        for process in list(self.processes):
            process.kill()
            await process.wait()
        self.processes.clear()

    def process_env(self, **overrides: Any) -> dict[str, str]:
        """The environment a dispatcher process reads the same settings from."""
        settings = self.settings(**overrides)
        env: dict[str, str] = {}
        for name, value in settings.model_dump().items():
            if value is None:
                continue
            if hasattr(value, "get_secret_value"):
                value = value.get_secret_value()
            if isinstance(value, list | tuple | dict):
                text = json.dumps(value)
            elif isinstance(value, bool):
                text = "true" if value else "false"
            else:
                text = str(value)
            env[f"PIYASA_{name.upper()}"] = text
        env["NATS_URL"] = settings.nats_url
        env["TELEGRAM_API_BASE"] = settings.telegram_api_base
        env["PIYASA_LOG_LEVEL"] = os.environ.get("DISPATCHER_LOG_LEVEL", "WARNING")
        return env

    async def start_process(self, **overrides: Any) -> DispatcherProcess:
        """The dispatcher as a real process (`python -m piyasa_dispatcher.main`)."""
        env = self.process_env(**overrides)
        instance = env["PIYASA_INSTANCE_ID"]
        process = DispatcherProcess(instance, env)
        await process.start()
        self.processes.append(process)

        async def ready() -> bool:
            beats = await read_heartbeats(self.js, self.topology)
            return any(b.instance == instance and b.ready for b in beats)

        await eventually(ready, timeout=30, interval=0.1, message="dispatcher process ready")
        return process

    async def lease_owners(self) -> dict[int, str]:
        """partition -> the instance holding its dispatcher lease."""
        kv = await self.js.key_value(self.topology.bucket(Bucket.LEASES))
        owners: dict[int, str] = {}
        for partition in range(self.topology.partitions):
            try:
                entry = await kv.get(f"dispatcher.p{partition:03d}")
            except Exception:
                continue
            if entry.value:
                owners[partition] = json.loads(entry.value)["owner"]
        return owners

    # -- the fleet -----------------------------------------------------------------------
    async def publish(self, payload: Payload, **keys: str) -> Envelope:
        envelope = make_event(
            payload, occurred_at=datetime.now(UTC), keys=EventKeys(**keys), actor="test"
        )
        await self.publisher.publish(envelope)
        return envelope

    async def bot(
        self, name: str | None = None, *, privacy_mode: bool = True, bot_id: str | None = None
    ) -> Bot:
        n = next(_names)
        username = f"{name or 'bot'}{n}_{uuid.uuid4().hex[:6]}_bot"
        handle = await self.tg.bot(username, privacy_mode=privacy_mode)
        bot_id = bot_id or f"b{uuid.uuid4().hex[:12]}"
        await self.store_token(bot_id, handle.token)
        await self.publish(
            BotChanged(
                id=bot_id, name=name or username, username=username, token_ref=f"ref-{bot_id}"
            ),
            bot_id=bot_id,
        )
        return Bot(bot_id, handle)

    async def store_token(self, bot_id: str, token: str, ref: str | None = None) -> str:
        ref = ref or f"ref-{bot_id}"
        kv = await self.js.key_value(self.topology.bucket(Bucket.SECRETS))
        await kv.put(ref, Fernet(FERNET_KEY.encode()).encrypt(token.encode()))
        return ref

    async def chat(
        self,
        bots: Sequence[Bot],
        *,
        listener: Bot | None = None,
        admin_listener: bool = False,
        typing: bool = False,
        kind: str = "supergroup",
        humans: Sequence[int] = (),
    ) -> Chat:
        members = [b.telegram_id for b in bots if not (admin_listener and b is listener)]
        admins = [listener.telegram_id] if listener is not None and admin_listener else []
        telegram_chat_id = await self.tg.chat(members=[*members, *humans], admins=admins, kind=kind)
        chat_id = f"c{uuid.uuid4().hex[:12]}"
        await self.publish(
            ChatChanged(
                id=chat_id,
                telegram_chat_id=telegram_chat_id,
                title="Piyasa",
                bot_ids=[b.bot_id for b in bots],
                listener_bot_id=listener.bot_id if listener else None,
                typing=typing,
            ),
            chat_id=chat_id,
        )
        return Chat(chat_id, telegram_chat_id, tuple(bots), listener)

    async def fleet_settings(self, **values: Any) -> None:
        await self.publish(
            SettingsChanged(id=SETTINGS_ID, values=FleetSettings(**values).model_dump(mode="json"))
        )

    # -- work ----------------------------------------------------------------------------
    async def approve(
        self,
        bot: Bot,
        chat: Chat,
        text: str,
        *,
        turn_id: str | None = None,
        deadline_s: float = 60.0,
        reply_to: ChatLine | None = None,
        quote: str | None = None,
        mentions: Sequence[MentionEntity] = (),
        typing: bool = True,
    ) -> Envelope:
        turn = turn_id or f"t{uuid.uuid4().hex[:16]}"
        payload = Approved(
            turn_id=turn,
            deadline=datetime.now(UTC) + timedelta(seconds=deadline_s),
            bot_id=bot.bot_id,
            text=text,
            reply_to=reply_to,
            quote=quote,
            mentions=list(mentions),
            typing=typing,
        )
        return await self.publish(payload, bot_id=bot.bot_id, chat_id=chat.chat_id, turn_id=turn)

    async def react(
        self, bot: Bot, chat: Chat, target: ChatLine, emoji: str, *, deadline_s: float = 60.0
    ) -> Envelope:
        turn = f"r{uuid.uuid4().hex[:16]}"
        payload = ReactionApproved(
            turn_id=turn,
            deadline=datetime.now(UTC) + timedelta(seconds=deadline_s),
            bot_id=bot.bot_id,
            target=target,
            emoji=emoji,
        )
        return await self.publish(payload, bot_id=bot.bot_id, chat_id=chat.chat_id, turn_id=turn)

    # -- reading back --------------------------------------------------------------------
    async def posted(self, chat: Chat | int) -> list[dict[str, Any]]:
        """Bot messages the sandbox holds for the chat, oldest first."""
        telegram_chat_id = chat if isinstance(chat, int) else chat.telegram_chat_id
        messages = await self.tg.admin(
            "GET", f"/chats/{telegram_chat_id}/messages", params={"limit": 100000}
        )
        return [m for m in messages if m["from"] and m["from"]["is_bot"] and m["text"]]

    async def events(
        self, event_type: str, role: StreamRole = StreamRole.CONVERSATION
    ) -> list[Envelope]:
        return [
            e for e in await stream_events(self.js, self.topology, role) if e.type == event_type
        ]

    async def wait_events(
        self,
        event_type: str,
        count: int,
        *,
        role: StreamRole = StreamRole.CONVERSATION,
        timeout: float = 20,
    ) -> list[Envelope]:
        async def enough() -> list[Envelope] | None:
            found = await self.events(event_type, role)
            return found if len(found) >= count else None

        result = await eventually(enough, timeout=timeout, message=f"{count} {event_type}")
        assert result is not None
        return result

    async def fault(self, bot: Bot | None, method: str, error_code: int, **extra: Any) -> None:
        body: dict[str, Any] = {"method": method, "error_code": error_code, "count": 1, **extra}
        if bot is not None:
            body["bot"] = bot.telegram_id
        await self.tg.admin("POST", "/faults", json=body)


def line_of(
    sent_text: str, *, ref: str, author: str, message_id: int | None, human: bool = False
) -> ChatLine:
    return ChatLine(
        ref=ref,
        author_id=author,
        author_kind="human" if human else "bot",
        author_name=author,
        text=sent_text,
        telegram_message_id=message_id,
        sent_at=datetime.now(UTC),
    )


async def new_http(url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, timeout=30)
