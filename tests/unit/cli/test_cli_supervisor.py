"""The supervisor restarts a child that exits, stops it on request, and logs both."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from piyasa_cli.redact import redact_url
from piyasa_cli.services import SERVICES, ServiceSpec, service_env
from piyasa_cli.supervisor import BackoffPolicy, ProcessSpec, SupervisedProcess, describe_exit
from tests.support.waiting import eventually

QUICK = BackoffPolicy(initial_s=0.01, max_s=0.05, reset_after_s=60)


async def test_a_child_that_exits_is_started_again_until_stopped(tmp_path: Path) -> None:
    log = tmp_path / "crashy.log"
    changes: list[int | None] = []
    process = SupervisedProcess(
        ProcessSpec("crashy", [sys.executable, "-c", "print('hello'); raise SystemExit(3)"], log),
        QUICK,
    )
    process.on_change = lambda: changes.append(process.pid)

    await process.start()
    process.supervise()
    await eventually(lambda: process.restarts >= 2, timeout=20, message="restarted twice")
    await process.stop(timeout=5)

    assert process.last_exit == 3
    assert not process.running
    lines = log.read_text().splitlines()
    assert "hello" in lines
    notes = [json.loads(line) for line in lines if line.startswith("{")]
    assert {n["msg"] for n in notes} == {"process started", "process exited"}
    assert any(n.get("exit") == "exit code 3" for n in notes)
    assert changes  # run.json would have been rewritten


async def test_stop_signals_waits_then_kills_a_child_that_ignores_it(tmp_path: Path) -> None:
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ignoring-sigterm', flush=True); time.sleep(60)"
    )
    log = tmp_path / "stubborn.log"
    process = SupervisedProcess(
        ProcessSpec("stubborn", [sys.executable, "-c", stubborn], log), QUICK
    )
    await process.start()
    process.supervise()
    await eventually(
        lambda: "ignoring-sigterm" in log.read_text().splitlines(),
        timeout=20,
        message="child running",
    )

    code = await process.stop(timeout=0.5)

    assert code == -9
    assert describe_exit(code) == "killed by SIGKILL"
    assert process.restarts == 0


def test_services_get_the_backbone_settings_and_only_owners_get_the_database() -> None:
    projector = next(s for s in SERVICES if s.name == "projector")
    guard = next(s for s in SERVICES if s.name == "guard")
    urls = {"nats_url": "nats://n:1", "database_url": "postgresql://d/p", "prefix": "p"}
    for_projector = service_env(projector, instance="host", **urls)
    for_guard = service_env(guard, instance="host", **urls)
    assert for_projector["DATABASE_URL"] == "postgresql://d/p"
    assert "DATABASE_URL" not in for_guard
    for env in (for_projector, for_guard):
        assert env["NATS_URL"] == "nats://n:1"
        assert env["PIYASA_NAME_PREFIX"] == "p"
        assert env["PIYASA_INSTANCE_ID"] == "host"


def test_every_listed_service_is_installed_and_a_missing_one_is_detected() -> None:
    assert all(spec.installed() for spec in SERVICES)
    assert len({spec.name for spec in SERVICES}) == len(SERVICES)
    assert not ServiceSpec("ghost", "piyasa_ghost.main").installed()
    assert not ServiceSpec("ghost", "piyasa_cli.ghost").installed()


def test_printed_urls_never_show_a_password() -> None:
    assert redact_url("postgresql://app:s3cret@db:5432/piyasa") == (
        "postgresql://app:***@db:5432/piyasa"
    )
    assert redact_url("nats://127.0.0.1:4222") == "nats://127.0.0.1:4222"


async def test_stop_during_the_backoff_wait_ends_it_without_a_restart(tmp_path: Path) -> None:
    slow = BackoffPolicy(initial_s=30, max_s=30)
    process = SupervisedProcess(
        ProcessSpec("once", [sys.executable, "-c", "raise SystemExit(1)"], tmp_path / "once.log"),
        slow,
    )
    await process.start()
    process.supervise()
    await eventually(lambda: process.last_exit == 1, timeout=20, message="child exited")

    await asyncio.wait_for(process.stop(timeout=5), timeout=5)

    assert process.restarts == 0
    assert not process.running
