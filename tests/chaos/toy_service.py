"""A toy service for the chaos tests, built on the real service runner.

relay        consumes generation requests (shared durable `generator`) and
             emits one derived draft per request.
partitioned  leases partitions of the `dispatcher` consumer and emits one
             `message.sent` per approved message, stamped with its epoch.

TOY_CRASH_AT / TOY_CRASH_TURN make the process SIGKILL itself at a chosen
point of the handler on the first delivery of one turn: the test's way of
killing a real process at the worst moment. This lives in tests only.
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import UTC, datetime

from piyasa_common.consumer import Delivery, Handler
from piyasa_common.service import Service, ServiceContext
from piyasa_common.settings import BackboneSettings
from piyasa_contracts import EventKeys, make_event
from piyasa_contracts.events.conversation import Sent
from piyasa_contracts.events.work import Approved, Drafted, GenerationRequested
from piyasa_contracts.registry import Event

CRASH_AT = os.environ.get("TOY_CRASH_AT", "")
CRASH_TURN = os.environ.get("TOY_CRASH_TURN", "")


def crash_if(point: str, event: Event, delivery: Delivery) -> None:
    first_delivery = delivery.num_delivered == 1
    if point == CRASH_AT and event.envelope.keys.turn_id == CRASH_TURN and first_delivery:
        os.kill(os.getpid(), signal.SIGKILL)


async def relay_setup(ctx: ServiceContext) -> None:
    async def handle(event: Event, delivery: Delivery) -> None:
        request = event.payload
        assert isinstance(request, GenerationRequested)
        crash_if("before_publish", event, delivery)
        draft = Drafted(
            turn_id=request.turn_id,
            deadline=request.deadline,
            request=request,
            text=f"draft for {request.turn_id}",
            provider="offline",
            model="toy",
        )
        await ctx.publisher.publish(
            make_event(
                draft, occurred_at=ctx.clock.now(), cause=event.envelope, keys=event.envelope.keys
            )
        )
        crash_if("after_publish", event, delivery)
        await delivery.msg.ack()
        crash_if("after_ack", event, delivery)

    ctx.consume("generator", handle)


async def partitioned_setup(ctx: ServiceContext) -> None:
    def handler_for(partition: int, epoch: int) -> Handler:
        async def handle(event: Event, delivery: Delivery) -> None:
            approved = event.payload
            assert isinstance(approved, Approved)
            now = datetime.now(UTC)
            sent = Sent(
                turn_id=approved.turn_id,
                bot_id=approved.bot_id,
                telegram_chat_id=-1,
                telegram_message_id=delivery.stream_sequence,
                text=approved.text,
                sent_at=now,
            )
            crash_if("before_publish", event, delivery)
            await ctx.publisher.publish(
                make_event(
                    sent,
                    occurred_at=ctx.clock.now(),
                    cause=event.envelope,
                    keys=EventKeys(**event.envelope.keys.model_dump()),
                    epoch=epoch,
                )
            )
            crash_if("after_publish", event, delivery)

        return handle

    ctx.consume_partitions("dispatcher", handler_for)


def main() -> None:
    mode = sys.argv[1]
    setup = {"relay": relay_setup, "partitioned": partitioned_setup}[mode]
    Service(f"toy-{mode}", BackboneSettings(), setup).main()


if __name__ == "__main__":
    main()
