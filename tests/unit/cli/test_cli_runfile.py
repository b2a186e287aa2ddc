"""run.json: what `piyasa up` runs and where, for the other commands and the next run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from piyasa_cli.errors import CliError
from piyasa_cli.runfile import ProcessInfo, RunInfo, ServerInfo, read_run_info, write_run_info


def _run_info(tmp_path: Path) -> RunInfo:
    return RunInfo(
        supervisor_pid=1234,
        state_dir=str(tmp_path),
        prefix="piyasa",
        started_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        ready_after_s=4.2,
        nats=ServerInfo(embedded=True, url="nats://127.0.0.1:4222", port=4222, pid=10),
        postgres=ServerInfo(embedded=False, url="postgresql://db.example/piyasa"),
        services={
            "guard": ProcessInfo(pid=11, restarts=2, log=str(tmp_path / "logs/guard.log")),
        },
    )


def test_round_trip_keeps_everything(tmp_path: Path) -> None:
    info = _run_info(tmp_path)
    write_run_info(tmp_path / "run.json", info)
    assert read_run_info(tmp_path / "run.json") == info
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]  # no temporary file left


def test_rewrite_replaces_the_file(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    write_run_info(path, _run_info(tmp_path))
    stopped = _run_info(tmp_path).model_copy(
        update={"supervisor_pid": None, "stopped_at": datetime.now(UTC)}
    )
    write_run_info(path, stopped)
    assert read_run_info(path) == stopped


def test_missing_file_is_no_run(tmp_path: Path) -> None:
    assert read_run_info(tmp_path / "run.json") is None


def test_foreign_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text('{"hello": "world"}')
    with pytest.raises(CliError, match="not a piyasa run file"):
        read_run_info(path)
