"""`piyasa up` as a newcomer runs it: a real subprocess with embedded NATS and
PostgreSQL in a fresh state directory. It restarts a killed service, loses no
acknowledged event while the projector is killed, stops everything on Ctrl-C,
and a second run on the same directory finds the data of the first."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from piyasa_cli.readiness import ready_services
from piyasa_cli.runfile import RunInfo, read_run_info
from piyasa_common.connection import connect, jetstream
from piyasa_common.heartbeat import read_heartbeats
from piyasa_common.publisher import Publisher
from piyasa_contracts import (
    Envelope,
    EventKeys,
    StreamRole,
    Topology,
    decode,
    make_event,
    new_opaque_id,
)
from piyasa_contracts.events.config import BotChanged
from tests.chaos.processes import REPO
from tests.support.waiting import eventually

pytestmark = pytest.mark.chaos

PREFIX = "upchaos"
START_TIMEOUT_S = 90.0
"""Six Python services importing at once on a 2-core CI runner, plus initdb."""

# Compressed settings for the services (and the supervisor) under test.
SMALL_SETTINGS = {
    "PIYASA_HEARTBEAT_INTERVAL_S": "0.5",
    "PIYASA_LEASE_TTL_S": "2",
    "PIYASA_PARTITIONS": "4",
    "PIYASA_DRAIN_GRACE_S": "5",
    "PIYASA_ACK_WAIT_S": "5",
    "PIYASA_FETCH_TIMEOUT_S": "0.2",
    "PIYASA_RETRY_DELAY_S": "0.2",
    "PIYASA_DB_PROBE_INTERVAL_S": "0.5",
    "PIYASA_RESTART_INITIAL_S": "0.2",
    "PIYASA_STOP_GRACE_S": "20",
    "PIYASA_LOG_LEVEL": "INFO",
}


class PiyasaUp:
    """One `piyasa up` subprocess on a state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.proc: asyncio.subprocess.Process | None = None
        self.started = 0.0

    async def start(self) -> PiyasaUp:
        # Nothing from the caller's environment may point the run elsewhere.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("PIYASA_") and k not in ("NATS_URL", "DATABASE_URL")
        }
        env.update(SMALL_SETTINGS)
        out = (self.state_dir.parent / f"{self.state_dir.name}.out").open("ab")
        self.started = time.monotonic()
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "piyasa_cli",
            "up",
            "--state-dir",
            str(self.state_dir),
            "--prefix",
            PREFIX,
            cwd=REPO,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )
        out.close()
        return self

    @property
    def output(self) -> str:
        path = self.state_dir.parent / f"{self.state_dir.name}.out"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def run_info(self) -> RunInfo | None:
        info = read_run_info(self.state_dir / "run.json")
        if info is None or self.proc is None or info.supervisor_pid != self.proc.pid:
            return None  # not yet, or the previous run's file
        return info

    async def wait_run_info(self) -> RunInfo:
        self._check_alive()
        return await eventually(
            self._running_info, timeout=START_TIMEOUT_S, message="run.json of this run"
        )

    def _running_info(self) -> RunInfo | None:
        self._check_alive()
        return self.run_info()

    def _check_alive(self) -> None:
        assert self.proc is not None
        if self.proc.returncode is not None:
            raise AssertionError(f"piyasa up exited with {self.proc.returncode}:\n{self.output}")

    async def stop(self, sig: signal.Signals = signal.SIGINT, timeout: float = 60) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            raise AssertionError(f"piyasa up did not stop in {timeout}s:\n{self.output}") from None


class Connected:
    """A NATS connection to a run's embedded server."""

    def __init__(self, nc: NATS, topology: Topology) -> None:
        self.nc = nc
        self.js: JetStreamContext = jetstream(nc)
        self.topology = topology
        self.publisher = Publisher(self.js, topology)

    @classmethod
    async def to(cls, info: RunInfo) -> Connected:
        return cls(await connect(info.nats_url, "piyasa-up-test"), Topology(prefix=info.prefix))

    async def all_ready(self, run: PiyasaUp) -> RunInfo | None:
        """The run file once every supervised service reports ready from its current pid."""
        info = run.run_info()
        if info is None:
            return None
        pids = {name: proc.pid for name, proc in info.services.items()}
        try:
            beats = await read_heartbeats(self.js, self.topology)
        except Exception:  # the bucket does not exist until a service provisions it
            return None
        return info if ready_services(beats, pids) >= set(pids) else None

    async def close(self) -> None:
        await self.nc.close()


@pytest.fixture(scope="module")
def state_dir() -> Iterator[Path]:
    # Short, under the temp dir: the PostgreSQL socket path stays short, and as root only
    # the temp dir's (already world-traversable) parents are opened o+rx.
    parent = Path(tempfile.mkdtemp(prefix="piyasa-up-"))
    yield parent / "state"
    shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture(scope="module")
async def up(state_dir: Path) -> AsyncIterator[PiyasaUp]:
    run = await PiyasaUp(state_dir).start()
    try:
        yield run
    finally:
        if run.proc is not None and run.proc.returncode is None:
            await run.stop()


async def _ready(up: PiyasaUp) -> tuple[Connected, RunInfo]:
    info = await up.wait_run_info()
    conn = await Connected.to(info)
    ready = await eventually(
        lambda: conn.all_ready(up), timeout=START_TIMEOUT_S, message="every service ready"
    )
    return conn, ready


async def test_killed_service_is_restarted_and_no_acked_event_is_lost(up: PiyasaUp) -> None:
    conn, info = await _ready(up)
    try:
        print(f"all services ready {time.monotonic() - up.started:.1f}s after `piyasa up`")
        assert set(info.services) == {
            "scheduler",
            "generator",
            "guard",
            "dispatcher",
            "config",
            "projector",
        }

        # A killed service comes back as a new process that reports ready.
        guard = info.services["guard"].pid
        assert guard is not None
        os.kill(guard, signal.SIGKILL)
        after = await eventually(
            lambda: _restarted(conn, up, "guard", guard), timeout=60, message="guard restarted"
        )
        assert after.services["guard"].restarts >= 1

        # Events acknowledged by JetStream while the projector is dead all get projected.
        projector = after.services["projector"].pid
        assert projector is not None
        os.kill(projector, signal.SIGKILL)
        bots = [_bot_changed(f"while-down-{i}") for i in range(20)]
        for event in bots[:10]:
            await conn.publisher.publish(event)
        await eventually(
            lambda: _new_pid(up, "projector", projector), timeout=30, message="projector respawned"
        )
        for event in bots[10:]:
            await conn.publisher.publish(event)  # while it starts up
        await eventually(
            lambda: _restarted(conn, up, "projector", projector),
            timeout=60,
            message="projector ready again",
        )
        ids = [str(e.payload["id"]) for e in bots]
        await eventually(
            lambda: _projected(after.database_url, ids), timeout=60, message="all bots projected"
        )
    finally:
        await conn.close()


async def test_the_wizards_fleet_talks_in_the_sandbox_and_answers_a_human(up: PiyasaUp) -> None:
    """The newcomer's path: an admin, the wizard, and within a minute the bots talk on the
    sandbox page; a human who mentions a bot gets that bot's reply."""
    conn, info = await _ready(up)
    await conn.close()
    assert info.api_url is not None and info.telegram_url is not None
    admin = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "piyasa_cli", "admin", "create", "-u", "newcomer"),
        *("--no-password", "--state-dir", str(up.state_dir)),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    printed = (await admin.communicate())[0].decode()
    assert admin.returncode == 0, printed
    api_key = re.search(r"pk_[A-Za-z0-9_-]+", printed)
    assert api_key is not None, printed
    api = httpx.AsyncClient(base_url=info.api_url, headers={"X-API-Key": api_key.group()})
    sandbox = httpx.AsyncClient(base_url=f"{info.telegram_url}sandbox/api")
    try:
        wizard = await api.post(
            "/wizard/newcomer", params={"wait": "projected"}, json={"telegram_chat_id": -100777}
        )
        assert wizard.status_code == 200, wizard.text
        asked = time.monotonic()

        async def talking() -> dict[str, Any] | None:
            chats = (await sandbox.get("/chats")).json()
            chat = next((c for c in chats if c["title"] == "Piyasa Sohbet"), None)
            return chat if chat and chat["last_message"] else None

        chat = await eventually(talking, timeout=60.0, interval=0.5, message="a bot's message")
        print(f"first message {time.monotonic() - asked:.1f}s after the wizard")
        first = chat["last_message"]
        assert first["from"]["is_bot"] is True

        human = (await sandbox.post("/users", json={"first_name": "Ali"})).json()["id"]
        joined = await sandbox.post(
            f"/chats/{chat['id']}/members", json={"user": human, "status": "member"}
        )
        assert joined.status_code < 300, joined.text
        addressed = first["from"]
        asked_at = await sandbox.post(
            f"/chats/{chat['id']}/messages",
            json={"from": human, "text": f"@{addressed['username']} BTC için ne diyorsun?"},
        )
        question = asked_at.json()["message_id"]

        async def answered() -> dict[str, Any] | None:
            view = (await sandbox.get(f"/chats/{chat['id']}")).json()
            return next(
                (
                    m
                    for m in view["messages"]
                    if (m.get("reply_to") or {}).get("message_id") == question
                ),
                None,
            )

        reply = await eventually(answered, timeout=60.0, interval=0.5, message="the reply")
        assert reply["from"]["id"] == addressed["id"]
        assert reply["text"]
    finally:
        await api.aclose()
        await sandbox.aclose()


async def test_ctrl_c_stops_everything_and_a_second_run_finds_the_data(
    up: PiyasaUp, state_dir: Path
) -> None:
    conn, info = await _ready(up)
    event = _bot_changed("kept-across-runs")
    try:
        await conn.publisher.publish(event)
        await eventually(
            lambda: _projected(info.database_url, [str(event.payload["id"])]),
            timeout=60,
            message="bot projected before stopping",
        )
    finally:
        await conn.close()
    info = up.run_info()
    assert info is not None
    children = _pids(info)

    assert await up.stop(signal.SIGINT) == 0, up.output

    assert [pid for pid in children if _alive(pid)] == []
    stopped = read_run_info(state_dir / "run.json")
    assert stopped is not None and stopped.stopped_at is not None
    assert stopped.supervisor_pid is None

    second = await PiyasaUp(state_dir).start()
    try:
        conn, again = await _ready(second)
        try:
            assert again.nats.port == info.nats.port  # free again, so reused
            stored = await conn.js.get_last_msg(
                conn.topology.stream(StreamRole.CONFIG),
                conn.topology.config_subject("bot", str(event.payload["id"])),
            )
            assert decode(stored.data or b"").envelope.id == event.id
            assert await _projected(again.database_url, [str(event.payload["id"])])
        finally:
            await conn.close()
    finally:
        assert await second.stop(signal.SIGINT) == 0, second.output


# -- helpers ---------------------------------------------------------------------------


def _bot_changed(name: str) -> Envelope:
    bot_id = new_opaque_id()
    return make_event(
        BotChanged(id=bot_id, name=name),
        occurred_at=datetime.now(UTC),
        keys=EventKeys(bot_id=bot_id),
        actor="test",
    )


def _new_pid(up: PiyasaUp, service: str, old: int) -> RunInfo | None:
    info = up.run_info()
    if info is None:
        return None
    pid = info.services[service].pid
    return info if pid is not None and pid != old else None


async def _restarted(conn: Connected, up: PiyasaUp, service: str, old: int) -> RunInfo | None:
    info = _new_pid(up, service, old)
    if info is None:
        return None
    try:
        beats = await read_heartbeats(conn.js, conn.topology)
    except Exception:
        return None
    current = {service: info.services[service].pid}
    return info if service in ready_services(beats, current) else None


async def _projected(database_url: str, ids: list[str]) -> bool:
    conn = await asyncpg.connect(database_url)
    try:
        count = await conn.fetchval("SELECT count(*) FROM bots WHERE id = ANY($1::text[])", ids)
    except asyncpg.UndefinedTableError:
        return False
    finally:
        await conn.close()
    return bool(count == len(ids))


def _pids(info: RunInfo) -> list[int]:
    pids = [p.pid for p in info.services.values()] + [info.nats.pid, info.postgres.pid]
    return [pid for pid in pids if pid is not None]


def _alive(pid: int) -> bool:
    """Running, and not a zombie waiting for a parent that is gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"
