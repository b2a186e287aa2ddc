"""The NATS users of deploy/k8s/base/nats/accounts.conf, against a real nats-server.

Every service can still provision the whole topology (streams, buckets, durable consumers)
under its own user, and only config and the dispatcher can read or write the secrets bucket.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
import pytest_asyncio
from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.js.errors import Error as JetStreamError

from piyasa_cli.embedded.nats import find_nats_server, parse_ports
from piyasa_common.provisioning import provision
from piyasa_common.settings import BackboneSettings
from piyasa_contracts import Bucket, Topology
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

ACCOUNTS = Path(__file__).resolve().parents[3] / "deploy/k8s/base/nats/accounts.conf"
USERS = ("config", "dispatcher", "scheduler", "generator", "guard", "projector", "ops", "sys")
TOPOLOGY = Topology(prefix="piyasa", partitions=2)
SECRETS = TOPOLOGY.bucket(Bucket.SECRETS)
DENIED = 0.5
"""Seconds to wait for an answer the server will never send (a denied publish is dropped)."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A nats-server with the committed accounts.conf; yields its host:port."""
    directory = tmp_path_factory.mktemp("nats-accounts")
    shutil.copy(ACCOUNTS, directory / "accounts.conf")
    (directory / "nats.conf").write_text(
        "listen: 127.0.0.1:-1\n"
        f'jetstream {{ store_dir: "{directory / "js"}" }}\n'
        f'ports_file_dir: "{directory}"\n'
        "include accounts.conf\n",
        encoding="utf-8",
    )
    env = {f"NATS_{user.upper()}_PASSWORD": f"pw-{user}" for user in USERS}
    process = subprocess.Popen(
        [str(find_nats_server()), "-c", str(directory / "nats.conf")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        ports_file = directory / f"nats-server_{process.pid}.ports"
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else b""
            assert time.monotonic() < deadline, "nats-server did not start"
            with contextlib.suppress(OSError, ValueError):
                port = parse_ports(ports_file.read_text(encoding="utf-8")).client
                break
            time.sleep(0.02)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextlib.asynccontextmanager
async def connected(server: str, user: str) -> AsyncIterator[tuple[NatsClient, list[str]]]:
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    nc = await nats.connect(
        f"nats://{user}:pw-{user}@{server}", error_cb=on_error, allow_reconnect=False
    )
    try:
        yield nc, errors
    finally:
        await nc.close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def provisioned(server: str) -> str:
    """The topology, provisioned by config (who also stores one secret)."""
    async with connected(server, "config") as (nc, _):
        js = nc.jetstream()
        await provision(js, _settings())
        secrets = await js.key_value(SECRETS)
        await secrets.put("bot-1-abc", b"ciphertext")
    return server


def _settings() -> BackboneSettings:
    return BackboneSettings(name_prefix="piyasa", partitions=2, stream_replicas=1)


@pytest.mark.parametrize("user", ["scheduler", "generator", "guard", "projector"])
async def test_every_service_can_still_provision_the_topology(provisioned: str, user: str) -> None:
    async with connected(provisioned, user) as (nc, errors):
        await provision(nc.jetstream(timeout=5), _settings())
        leases = await nc.jetstream().key_value(TOPOLOGY.bucket(Bucket.LEASES))
        await leases.put(f"{user}.probe", b"1")
        assert (await leases.get(f"{user}.probe")).value == b"1"
    assert not errors


@pytest.mark.parametrize("user", ["dispatcher", "config"])
async def test_config_and_dispatcher_read_the_secrets_bucket(provisioned: str, user: str) -> None:
    async with connected(provisioned, user) as (nc, _):
        secrets = await nc.jetstream().key_value(SECRETS)
        assert (await secrets.get("bot-1-abc")).value == b"ciphertext"


@pytest.mark.parametrize("user", ["scheduler", "generator", "guard", "projector"])
async def test_other_services_cannot_read_or_write_secrets(provisioned: str, user: str) -> None:
    async with connected(provisioned, user) as (nc, errors):
        js = nc.jetstream(timeout=DENIED)
        secrets = await js.key_value(SECRETS)  # stream info: allowed, holds no value
        attempts = {
            "direct get": secrets.get("bot-1-abc"),
            "message get": js.get_msg(f"KV_{SECRETS}", seq=1),
            "put": secrets.put("bot-1-abc", b"overwritten"),
            "watch (a consumer)": secrets.watchall(),
        }
        outcomes = await asyncio.gather(*attempts.values(), return_exceptions=True)
        for what, outcome in zip(attempts, outcomes, strict=True):
            assert isinstance(outcome, NatsError | JetStreamError | TimeoutError), what
        await nc.subscribe(f"$KV.{SECRETS}.>")
        await eventually(
            lambda: any(f'subscription to "$kv.{SECRETS}.>"' in e.lower() for e in errors),
            timeout=5,
            message="the server refuses the subscription",
        )
    assert any(f'publish to "$js.api.direct.get.kv_{SECRETS}' in e.lower() for e in errors)

    async with connected(provisioned, "config") as (nc, _):
        secrets = await nc.jetstream().key_value(SECRETS)
        assert (await secrets.get("bot-1-abc")).value == b"ciphertext", "the put was refused"
