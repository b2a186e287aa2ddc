"""The `piyasa` command line: every command documents itself and fails clearly."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from piyasa_cli.main import cli

NO_SERVERS = {"NATS_URL": "", "PIYASA_NATS_URL": "", "DATABASE_URL": "", "PIYASA_STATE_DIR": ""}


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["up"],
        ["status"],
        ["logs"],
        ["dlq"],
        ["dlq", "list"],
        ["dlq", "show"],
        ["dlq", "replay"],
        ["dlq", "purge"],
        ["projections"],
        ["projections", "rebuild"],
    ],
)
def test_every_command_has_help(args: list[str]) -> None:
    result = CliRunner().invoke(cli, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output


def test_up_help_says_where_the_data_goes_and_why_not_under_root() -> None:
    result = CliRunner().invoke(cli, ["up", "--help"])
    assert "/var/lib/piyasa" in result.output
    assert "o+rx" in result.output
    assert "--state-dir" in result.output
    assert "--prefix" in result.output


def test_top_level_help_lists_the_commands() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    for command in ("up", "status", "logs", "dlq", "projections"):
        assert f"  {command}" in result.output


def test_status_without_anything_running_says_how_to_start(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["status", "--state-dir", str(tmp_path)], env=NO_SERVERS)
    assert result.exit_code == 1
    assert "piyasa up is not running" in result.output
    assert "NATS_URL" in result.output


def test_dlq_purge_needs_a_sequence_or_all(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["dlq", "purge", "--state-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "either SEQ or --all" in result.output


def test_logs_of_an_unknown_service_names_the_ones_there(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "guard.log").write_text('{"msg": "ready"}\n')
    result = CliRunner().invoke(cli, ["logs", "nope", "--state-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "guard" in result.output


def test_logs_prints_the_last_lines_of_every_file_with_its_name(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "guard.log").write_text("".join(f"guard {i}\n" for i in range(30)))
    (logs / "config.log").write_text("config 0\n")
    result = CliRunner().invoke(cli, ["logs", "-n", "2", "--state-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "config | config 0",
        "guard  | guard 28",
        "guard  | guard 29",
    ]


def test_up_refuses_a_prefix_that_is_not_a_subject_token(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["up", "--state-dir", str(tmp_path), "--prefix", "no.dots"], env=NO_SERVERS
    )
    assert result.exit_code == 2
    assert "--prefix" in result.output
