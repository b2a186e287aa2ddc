"""Acked JetStream publishes against a real NATS server: each caller gets its own ack, and
every failure is the error nats-py's own `JetStreamContext.publish` raises for it."""

from __future__ import annotations

import asyncio
import uuid

import nats.errors
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.errors import APIError, NoStreamResponseError

from piyasa_common.acks import JetStreamAcks, acks_for
from piyasa_common.connection import jetstream

pytestmark = pytest.mark.integration


@pytest.fixture
async def stream(nc: NatsClient) -> str:
    name = f"ACKS_{uuid.uuid4().hex[:8]}"
    await jetstream(nc).add_stream(name=name, subjects=[f"{name}.>"])
    return name


async def test_concurrent_publishes_each_get_their_own_ack(nc: NatsClient, stream: str) -> None:
    acks = acks_for(jetstream(nc))

    answers = await asyncio.gather(
        *(acks.publish(f"{stream}.{n}", str(n).encode(), timeout=5) for n in range(200))
    )

    assert {a.stream for a in answers} == {stream}
    assert sorted(a.seq for a in answers) == list(range(1, 201))
    js = jetstream(nc)
    for n in (0, 57, 199):
        stored = await js.get_last_msg(stream, f"{stream}.{n}")
        assert stored.data == str(n).encode()
        assert stored.seq == answers[n].seq


async def test_one_subscription_per_connection(nc: NatsClient, stream: str) -> None:
    assert acks_for(jetstream(nc)) is acks_for(jetstream(nc))
    before = len(nc._subs)

    await asyncio.gather(
        *(acks_for(jetstream(nc)).publish(f"{stream}.x", b"1", timeout=5) for _ in range(5))
    )
    await acks_for(jetstream(nc)).publish(f"{stream}.x", b"2", timeout=5)

    assert len(nc._subs) == before + 1


async def test_a_duplicate_message_id_is_acked_as_a_duplicate(nc: NatsClient, stream: str) -> None:
    acks = JetStreamAcks(nc)
    headers = {"Nats-Msg-Id": "same"}

    first = await acks.publish(f"{stream}.d", b"a", headers=headers, timeout=5)
    again = await acks.publish(f"{stream}.d", b"a", headers=headers, timeout=5)

    assert (first.duplicate, again.duplicate) == (None, True)
    assert again.seq == first.seq


async def test_a_refused_write_raises_the_streams_error(nc: NatsClient, stream: str) -> None:
    acks = JetStreamAcks(nc)
    await acks.publish(f"{stream}.cas", b"a", timeout=5)

    with pytest.raises(APIError) as refused:
        await acks.publish(
            f"{stream}.cas",
            b"b",
            headers={"Nats-Expected-Last-Subject-Sequence": "0"},
            timeout=5,
        )

    assert refused.value.err_code == 10071  # wrong last sequence
    assert acks._waiting == {}


async def test_no_stream_for_the_subject_is_no_stream_response(nc: NatsClient) -> None:
    acks = JetStreamAcks(nc)

    with pytest.raises(NoStreamResponseError):
        await acks.publish(f"nowhere.{uuid.uuid4().hex}", b"x", timeout=5)


async def test_an_ack_that_never_comes_is_a_timeout(nc: NatsClient) -> None:
    """A core subscriber answers nothing: the publish times out, and forgets its wait."""
    subject = f"silent.{uuid.uuid4().hex}"
    await nc.subscribe(subject, cb=_ignore)  # a responder exists, so no 503
    acks = JetStreamAcks(nc)

    with pytest.raises(nats.errors.TimeoutError):
        await acks.publish(subject, b"x", timeout=0.2)

    assert acks._waiting == {}


async def _ignore(msg: object) -> None:
    del msg
