"""The dispatcher's edge: fold the log, own bot partitions, take approved messages in,
and keep the Telegram side of each owned bot running.

Per partition this replica leases (partitioned by bot, DESIGN 3a):

- on taking it: the partition's ledger records become jobs; if the previous
  owner left messages delivered but unacked, a turn goes only once every
  message before it is back and acked (the consumer's ack floor), so a chat's
  turns stay in order across a crash; the partition's bots are reconciled
  (token check, poller or webhook);
- its durable consumer's handler turns each approved message into a
  scheduled send and returns, so the message is acked at once;
- on losing it: posts in flight finish, pollers stop, the rest is forgotten
  here (the records are the next owner's).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from datetime import timedelta

from piyasa_common.consumer import Delivery, Handler
from piyasa_common.errors import Poison, Retry
from piyasa_common.sealing import DataKeys
from piyasa_common.secrets import TokenReader, load_fernet_keys
from piyasa_common.service import ServiceContext
from piyasa_common.state import StartAt, StreamFollower
from piyasa_contracts import StreamRole
from piyasa_contracts.events.work import Approved, ReactionApproved
from piyasa_contracts.registry import Event
from piyasa_dispatcher import metrics
from piyasa_dispatcher.ingest import Ingest
from piyasa_dispatcher.ledger import SendLedger
from piyasa_dispatcher.outbox import Outbox
from piyasa_dispatcher.poller import Poller
from piyasa_dispatcher.sandbox_fleet import SandboxFleet
from piyasa_dispatcher.settings import DispatcherSettings
from piyasa_dispatcher.state import Conversation, Fleet
from piyasa_dispatcher.statuses import StatusWriter
from piyasa_dispatcher.telegram import BotApi
from piyasa_dispatcher.tokens import TokenBook, TokenChecks
from piyasa_dispatcher.upkeep import Upkeep
from piyasa_dispatcher.webhook import WebhookEndpoint

log = logging.getLogger(__name__)

SERVICE = "dispatcher"
_BARRIER_POLL_S = 0.1


class DispatcherRuntime:
    def __init__(self, settings: DispatcherSettings, ctx: ServiceContext) -> None:
        self.settings = settings
        self.ctx = ctx
        self.topology = ctx.topology
        self.fleet = Fleet()
        self.conversation = Conversation()
        self.api = BotApi(
            settings.telegram_api_base,
            timeout_s=settings.telegram_timeout_s,
            max_connections=settings.telegram_connections,
        )
        keys = load_fernet_keys(
            settings.fernet_keys.get_secret_value() if settings.fernet_keys else None,
            settings.fernet_keys_file,
        )
        self.tokens = TokenBook(TokenReader(ctx.js, self.topology, keys), self.fleet)
        self.statuses = StatusWriter(ctx.js, self.topology, ctx.publisher, self.fleet, ctx.clock)
        self.datakeys = DataKeys(ctx.js, self.topology)
        self.outbox = Outbox(
            settings=settings,
            api=self.api,
            tokens=self.tokens,
            ledger=SendLedger(ctx.js, self.topology),
            fleet=self.fleet,
            conversation=self.conversation,
            datakeys=self.datakeys,
            publisher=ctx.publisher,
            statuses=self.statuses,
            clock=ctx.clock,
            rng=random.Random(),
        )
        self.ingest = Ingest(
            ctx.js,
            self.topology,
            ctx.publisher,
            self.fleet,
            self.conversation,
            self.datakeys,
            self.statuses,
            ctx.clock,
            person_key=settings.dispatcher_person_id_key.get_secret_value().encode(),
            seen_ttl_s=settings.dispatcher_updates_ttl_s,
        )
        webhook_base = None
        if settings.dispatcher_webhook_url:
            webhook_base = settings.dispatcher_webhook_url.replace("{port}", str(ctx.health.port))
        secret = settings.dispatcher_webhook_secret
        self.upkeep = Upkeep(
            fleet=self.fleet,
            api=self.api,
            tokens=self.tokens,
            checks=TokenChecks(self.api, self.tokens, self.fleet, self.statuses, ctx.clock),
            statuses=self.statuses,
            clock=ctx.clock,
            owns=self.owns_bot,
            pollers=self._poller,
            webhook_base=webhook_base,
            webhook_secret_base=secret.get_secret_value() if secret else None,
            sandbox=(
                SandboxFleet(settings.telegram_sandbox_admin)
                if settings.telegram_sandbox_admin
                else None
            ),
        )
        self._barrier_tasks: dict[int, asyncio.Task[None]] = {}

    # -- wiring --------------------------------------------------------------------------
    def wire(self) -> None:
        ctx = self.ctx
        ctx.follow(
            StreamFollower(
                ctx.js,
                self.topology,
                stream=StreamRole.CONFIG,
                apply=self.fleet.apply,
                start=StartAt.last_per_subject(),
                name="dispatcher:config",
            )
        )
        since = ctx.clock.now() - timedelta(hours=self.settings.conversation_window_h)
        ctx.follow(
            StreamFollower(
                ctx.js,
                self.topology,
                stream=StreamRole.CONVERSATION,
                apply=self.conversation.apply,
                start=StartAt.window(since),
                name="dispatcher:conversation",
            )
        )
        self.fleet.on_bot(self.upkeep.touch_bot)
        self.fleet.on_chat(self.upkeep.touch_chat)
        ctx.consume_partitions(
            "dispatcher",
            self._handler_for,
            on_acquired=self._acquired,
            on_lost=self._lost,
        )
        if self.settings.dispatcher_webhook_url and self.settings.dispatcher_webhook_secret:
            endpoint = WebhookEndpoint(
                self.ingest, self.settings.dispatcher_webhook_secret.get_secret_value()
            )
            ctx.health.add_route(endpoint.route())
        ctx.on_stop.append(self.stop)
        self.upkeep.start()

    async def stop(self) -> None:
        for task in self._barrier_tasks.values():
            task.cancel()
        await self.upkeep.stop()
        await self.outbox.stop()
        await self.api.aclose()

    # -- ownership -----------------------------------------------------------------------
    def owns_bot(self, bot_id: str) -> bool:
        return self.outbox.owns(self.topology.partition(bot_id))

    def _bots_of(self, partition: int) -> list[str]:
        return [b for b in self.fleet.bots if self.topology.partition(b) == partition]

    async def _acquired(self, partition: int, epoch: int) -> None:
        unacked = await self._unacked(partition)
        await self.outbox.acquire(partition, epoch, unacked[0] if unacked else None)
        if unacked is not None:
            self._barrier_tasks[partition] = asyncio.create_task(
                self._follow_floor(partition, unacked[1]), name=f"floor:{partition}"
            )
        bots = self._bots_of(partition)
        for bot_id in bots:
            self.upkeep.touch_bot(bot_id)
        metrics.ACTIVE_BOTS.inc(len(bots))

    async def _lost(self, partition: int, epoch: int) -> None:
        del epoch
        task = self._barrier_tasks.pop(partition, None)
        if task is not None:
            task.cancel()
        bots = self._bots_of(partition)
        await asyncio.gather(*(self.upkeep.release(b) for b in bots))
        await self.outbox.release(partition)
        for bot_id in bots:
            self.outbox.limiter.forget(bot_id)
        metrics.ACTIVE_BOTS.dec(len(bots))

    async def _unacked(self, partition: int) -> tuple[int, int] | None:
        """(ack floor, last delivered) of the partition's consumer, if some are unacked."""
        try:
            info = await self.ctx.js.consumer_info(*self._durable(partition))
        except Exception:
            log.warning("consumer info unavailable; turn order not held", exc_info=True)
            return None
        if not info.num_ack_pending or info.delivered is None:
            return None
        floor = int(info.ack_floor.stream_seq or 0) if info.ack_floor else 0
        return floor, int(info.delivered.stream_seq or 0)

    async def _follow_floor(self, partition: int, delivered: int) -> None:
        """Raise the partition's floor as the previous owner's messages come back and are
        acked, until it passes the last one delivered (or after a bounded wait)."""
        loop = asyncio.get_running_loop()
        # Bounded: a message that never comes back (parked after its last delivery) must
        # not hold the partition's chats for ever.
        give_up = loop.time() + self.settings.ack_wait_s * self.settings.max_deliver + 5
        try:
            while loop.time() < give_up:
                await asyncio.sleep(_BARRIER_POLL_S)
                with contextlib.suppress(Exception):
                    info = await self.ctx.js.consumer_info(*self._durable(partition))
                    floor = int(info.ack_floor.stream_seq or 0) if info.ack_floor else 0
                    if floor >= delivered or not info.num_ack_pending:
                        break
                    self.outbox.raise_floor(partition, floor)
            else:
                log.warning(
                    "turn order released after a takeover without every message back",
                    extra={"partition": partition, "delivered": delivered},
                )
        finally:
            self._barrier_tasks.pop(partition, None)
            self.outbox.raise_floor(partition, None)

    def _durable(self, partition: int) -> tuple[str, str]:
        spec = self.topology.consumer_spec("dispatcher")
        return self.topology.stream(StreamRole.WORK), self.topology.durable_name(spec, partition)

    def _poller(self, bot_id: str) -> Poller:
        return Poller(
            bot_id,
            js=self.ctx.js,
            topology=self.topology,
            api=self.api,
            tokens=self.tokens,
            ingest=self.ingest,
            instance=self.settings.instance_id,
            lease_ttl_s=self.settings.lease_ttl_s,
            poll_timeout_s=self.settings.dispatcher_poll_timeout_s,
            backoff_s=self.settings.dispatcher_poll_backoff_s,
            on_unauthorized=self.upkeep.disable,
        )

    # -- the approved messages' handler --------------------------------------------------
    def _handler_for(self, partition: int, epoch: int) -> Handler:
        del epoch  # the outbox stamps the partition's current epoch on what it emits
        outbox = self.outbox

        async def handle(event: Event, delivery: Delivery) -> None:
            payload = event.payload
            if not isinstance(payload, Approved | ReactionApproved):
                raise Poison(f"the dispatcher posts approved work, not {event.envelope.type}")
            keys = event.envelope.keys
            if not keys.chat_id:
                raise Poison("approved work without a chat_id key cannot be posted")
            if keys.turn_id and keys.turn_id != payload.turn_id:
                raise Poison("the turn key differs from the payload's turn")
            # No await before `reserve`: the job takes its place in the chat's lane in the
            # order the consumer delivered the messages.
            job = outbox.reserve(
                event.envelope, payload, partition, delivery.stream_sequence, delivery.msg.data
            )
            if job is None:
                if outbox.accepting(partition, payload.turn_id):
                    # A redelivery while the first delivery is still being persisted: acking
                    # it would lose the message if that attempt fails; come back later.
                    raise Retry(1.0, "the turn is being persisted")
                return  # held here already: a redelivery
            await outbox.accept(job)

        return handle
