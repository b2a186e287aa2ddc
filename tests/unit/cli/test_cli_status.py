"""`piyasa status` and the supervisor read readiness from heartbeats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from piyasa_cli.commands.status import format_table, status_rows
from piyasa_cli.readiness import ready_services
from piyasa_cli.runfile import ProcessInfo, RunInfo, ServerInfo
from piyasa_common.heartbeat import Heartbeat

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def beat(service: str, *, ready: bool = True, pid: int | None = 100, age_s: float = 1) -> Heartbeat:
    at = (NOW - timedelta(seconds=age_s)).isoformat()
    return Heartbeat(
        service=service,
        instance="laptop",
        version="0.1.0",
        ready=ready,
        lag=3,
        started_at=at,
        at=at,
        pid=pid,
    )


def run_info(**pids: int) -> RunInfo:
    return RunInfo(
        supervisor_pid=1,
        state_dir="/tmp/x",
        prefix="piyasa",
        started_at=NOW,
        nats=ServerInfo(embedded=True, url="nats://127.0.0.1:4222"),
        postgres=ServerInfo(embedded=True, url="postgresql://127.0.0.1/piyasa"),
        services={
            name: ProcessInfo(pid=pid, restarts=1, log=f"{name}.log") for name, pid in pids.items()
        },
    )


def test_a_known_service_without_heartbeat_or_not_ready_fails_status() -> None:
    beats = [beat("guard"), beat("config", ready=False)]
    rows, not_ready = status_rows(beats, None, ["guard", "config", "generator"], NOW)
    assert not_ready == ["config", "generator"]
    assert [(r.service, r.ready) for r in rows] == [
        ("guard", "yes"),
        ("config", "no"),
        ("generator", "no heartbeat"),
    ]


def test_rows_carry_the_supervisors_view_and_the_heartbeats_age() -> None:
    rows, not_ready = status_rows([beat("guard", age_s=2.5)], run_info(guard=100), ["guard"], NOW)
    assert not_ready == []
    (row,) = rows
    assert (row.pid, row.restarts, row.age, row.lag, row.instance) == (
        "100",
        "1",
        "2.5s",
        "3",
        "laptop",
    )
    table = format_table(rows).splitlines()
    assert table[0].split() == [
        "SERVICE",
        "INSTANCE",
        "READY",
        "LAG",
        "VERSION",
        "AGE",
        "PID",
        "RESTARTS",
    ]
    assert table[1].split() == ["guard", "laptop", "yes", "3", "0.1.0", "2.5s", "100", "1"]


def test_unknown_services_are_shown_but_do_not_fail_status() -> None:
    rows, not_ready = status_rows([beat("sandbox", ready=False)], None, [], NOW)
    assert [r.service for r in rows] == ["sandbox"]
    assert not_ready == []


def test_a_dead_process_heartbeat_does_not_count_for_its_successor() -> None:
    beats = [beat("guard", pid=100), beat("config", pid=200)]
    assert ready_services(beats) == {"guard", "config"}
    assert ready_services(beats, {"guard": 101, "config": 200}) == {"config"}
    assert ready_services([beat("guard", ready=False)], {"guard": 100}) == set()
