"""JetStream's stream snapshot and restore API, which nats-py does not wrap.

A snapshot is the server's own copy of a stream's store (messages with their sequences
and timestamps, deleted-sequence gaps, per-message TTLs, and the durable consumers with
their delivered and ack floors), so a restored stream continues at the same sequence: the
config service's ETags (a subject's last sequence) and the projector's positions stay true.
Republishing messages could not do that: it renumbers them.

Snapshot (`$JS.API.STREAM.SNAPSHOT.<stream>`, body `{"deliver_subject": <inbox>}`): the
answer carries the stream's config and state; then the server sends the snapshot's bytes
(an s2-compressed tar) to the inbox in chunks. A chunk with a reply subject is acknowledged
by an empty message to it: the server stops after 32 MiB unacknowledged, and ends the
snapshot when nobody listens. An empty message ends it; one with an error status
(`408 No Flow Response`) means the server gave up.

Restore (`$JS.API.STREAM.RESTORE.<stream>`, body `{"config", "state"}`): the answer names
a deliver subject; each chunk is sent there as a request and the server answers empty when
it is staged (or `-ERR ...`); an empty request ends the upload, and its answer, once the
server has loaded the stream, is a stream-create response with the new stream's state. The
server refuses a stream that exists (10130) and gives up after 5 s without a chunk.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import nats.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from piyasa_cli.backup.errors import ToolFailed

API_TIMEOUT_S: Final = 10.0
RESTORE_CHUNK_BYTES: Final = 256 * 1024
STREAM_NAME_IN_USE: Final = 10130


@dataclass(frozen=True)
class Snapshot:
    stream: str
    config: dict[str, Any]
    state: dict[str, Any]
    size: int
    sha256: str


class StreamNotFound(ToolFailed):
    pass


class StreamExists(ToolFailed):
    pass


async def snapshot_stream(
    nc: NatsClient, stream: str, destination: Path, *, idle_timeout_s: float
) -> Snapshot:
    """Write the server's snapshot of `stream`, consumers included, to `destination`."""
    inbox = nc.new_inbox()
    # No pending limits: the server's flow-control window (32 MiB) bounds what waits here.
    sub = await nc.subscribe(inbox, pending_msgs_limit=0, pending_bytes_limit=0)
    try:
        answer = await _api(
            nc,
            f"$JS.API.STREAM.SNAPSHOT.{stream}",
            {"deliver_subject": inbox},
            what=f"snapshot of {stream}",
        )
        digest = hashlib.sha256()
        size = 0
        with destination.open("wb") as out:
            while True:
                try:
                    msg = await sub.next_msg(timeout=idle_timeout_s)
                except nats.errors.TimeoutError:
                    raise ToolFailed(
                        f"snapshot of {stream} stalled: no chunk for {idle_timeout_s:.0f} s"
                    ) from None
                _raise_on_status(msg, f"snapshot of {stream}")
                if not msg.data:
                    break
                out.write(msg.data)
                digest.update(msg.data)
                size += len(msg.data)
                if msg.reply:
                    await nc.publish(msg.reply, b"")
            out.flush()
            os.fsync(out.fileno())
    finally:
        await sub.unsubscribe()
    return Snapshot(stream, answer["config"], answer["state"], size, digest.hexdigest())


async def restore_stream(
    nc: NatsClient,
    stream: str,
    config: dict[str, Any],
    state: dict[str, Any],
    source: Path,
    *,
    chunk_timeout_s: float,
    finish_timeout_s: float,
) -> dict[str, Any]:
    """Upload `source` (a snapshot of `stream`) and wait until the server has loaded it.

    Returns the restored stream's state as the server reports it.
    """
    what = f"restore of {stream}"
    answer = await _api(
        nc, f"$JS.API.STREAM.RESTORE.{stream}", {"config": config, "state": state}, what=what
    )
    deliver = answer.get("deliver_subject")
    if not deliver:
        raise ToolFailed(f"{what}: the server named no subject to upload to")
    chunk_bytes = max(1024, min(RESTORE_CHUNK_BYTES, nc.max_payload - 1024))
    with source.open("rb") as snapshot:
        while chunk := snapshot.read(chunk_bytes):
            ack = await _request(nc, deliver, chunk, chunk_timeout_s, what)
            if ack.data:
                raise ToolFailed(f"{what}: {ack.data.decode('utf-8', 'replace')}")
    done = await _request(nc, deliver, b"", finish_timeout_s, what)
    created = _decode(done, what)
    state_after = created.get("state")
    if not isinstance(state_after, dict):
        raise ToolFailed(f"{what}: the server's final answer carries no stream state")
    return state_after


async def _api(nc: NatsClient, subject: str, body: dict[str, Any], *, what: str) -> dict[str, Any]:
    reply = await _request(nc, subject, json.dumps(body).encode(), API_TIMEOUT_S, what)
    return _decode(reply, what)


async def _request(nc: NatsClient, subject: str, payload: bytes, timeout: float, what: str) -> Msg:
    try:
        return await nc.request(subject, payload, timeout=timeout)
    except nats.errors.NoRespondersError:
        raise ToolFailed(f"{what}: nobody answers {subject} (is JetStream enabled?)") from None
    except (nats.errors.Error, TimeoutError) as err:
        raise ToolFailed(f"{what}: {type(err).__name__} {err}".rstrip()) from err


def _decode(reply: Msg, what: str) -> dict[str, Any]:
    _raise_on_status(reply, what)
    try:
        answer = json.loads(reply.data)
    except ValueError:
        text = reply.data[:200].decode("utf-8", "replace")
        raise ToolFailed(f"{what}: unexpected answer {text!r}") from None
    if not isinstance(answer, dict):
        raise ToolFailed(f"{what}: unexpected answer {answer!r}")
    error = answer.get("error")
    if error:
        description = error.get("description", "error") if isinstance(error, dict) else error
        code = error.get("err_code") if isinstance(error, dict) else None
        message = f"{what}: {description}"
        if isinstance(error, dict) and error.get("code") == 404:
            raise StreamNotFound(message)
        if code == STREAM_NAME_IN_USE:
            raise StreamExists(message)
        raise ToolFailed(message)
    return answer


def _raise_on_status(msg: Msg, what: str) -> None:
    headers = msg.headers or {}
    status = headers.get("Status")
    if status and not status.startswith("2"):
        description = headers.get("Description", "")
        raise ToolFailed(f"{what}: the server stopped with status {status} {description}".rstrip())
