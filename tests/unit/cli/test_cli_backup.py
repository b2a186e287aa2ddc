"""`piyasa backup` / `restore` without servers: the manifest, atomic directories, pruning,
the choice of pg_dump, and secrets kept out of every message."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from piyasa_cli.backup import (
    BackupInvalid,
    BackupSettings,
    Infrastructure,
    Manifest,
    ToolFailed,
    create_backup,
    locate,
    read_manifest,
    restore_backup,
)
from piyasa_cli.backup.backup import prune
from piyasa_cli.backup.manifest import (
    FORMAT,
    DatabaseEntry,
    StreamEntry,
    StreamKind,
    sha256_of,
    verify_files,
    write_manifest,
)
from piyasa_cli.backup.pgtools import Database, choose_newest, dump, find_tool, server_version
from piyasa_cli.errors import NotRunning
from piyasa_cli.main import cli
from piyasa_cli.redact import redact_url
from piyasa_common.clock import ManualClock

SECRET = "s3cret-Pa55"
NOW = datetime(2026, 11, 28, 2, 30, tzinfo=UTC)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def fake_backup(root: Path, prefix: str, created_at: datetime) -> Path:
    """A complete backup directory: one stream file and a dump, listed in a manifest."""
    directory = root / f"piyasa-{prefix}-{created_at:%Y%m%dT%H%M%SZ}"
    (directory / "streams").mkdir(parents=True)
    stream_file = directory / "streams" / f"{prefix}_CONFIG.snapshot"
    stream_file.write_bytes(b"snapshot bytes")
    dump_file = directory / "postgres.dump"
    dump_file.write_bytes(b"PGDMP dump bytes")
    write_manifest(
        directory,
        Manifest(
            format=FORMAT,
            piyasa_version="test",
            created_at=created_at,
            prefix=prefix,
            nats_server_version="2.15.1",
            streams=(
                StreamEntry(
                    file=f"streams/{prefix}_CONFIG.snapshot",
                    size=stream_file.stat().st_size,
                    sha256=sha256_of(stream_file),
                    name=f"{prefix}_CONFIG",
                    kind=StreamKind.STREAM,
                    messages=3,
                    first_seq=1,
                    last_seq=3,
                    consumers=0,
                    config={"name": f"{prefix}_CONFIG"},
                    state={"messages": 3, "last_seq": 3},
                ),
            ),
            database=DatabaseEntry(
                file="postgres.dump",
                size=dump_file.stat().st_size,
                sha256=sha256_of(dump_file),
                server_version="18.1",
                pg_dump_version="18.6",
            ),
        ),
    )
    return directory


# --- secrets stay out of messages --------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"postgresql://piyasa:{SECRET}@db:5432/piyasa", "postgresql://piyasa:***@db:5432/piyasa"),
        (f"nats://ops:{SECRET}@nats:4222", "nats://ops:***@nats:4222"),
        (f"nats://{SECRET}@nats:4222", "nats://***@nats:4222"),
        (f"postgresql://u@db/x?password={SECRET}", "postgresql://***@db/x"),
        ("nats://127.0.0.1:4222", "nats://127.0.0.1:4222"),
    ],
)
def test_urls_are_shown_without_their_secrets(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_the_database_password_never_reaches_the_tools_command_line() -> None:
    url = f"postgresql+asyncpg://piyasa:{SECRET.replace('-', '%2D')}@db:5432/piyasa?sslmode=require"
    database = Database.from_url(url)
    assert database.password == SECRET
    assert database.public_url == "postgresql://piyasa@db:5432/piyasa?sslmode=require"
    assert database.tool_env()["PGPASSWORD"] == SECRET
    in_query = Database.from_url(f"postgresql://piyasa@db/piyasa?password={SECRET}&sslmode=require")
    assert in_query.password == SECRET
    assert SECRET not in in_query.public_url
    with pytest.raises(ToolFailed) as not_postgres:
        Database.from_url(f"mysql://root:{SECRET}@db/x")
    assert SECRET not in str(not_postgres.value)


async def test_postgres_failures_name_the_server_but_not_the_password(tmp_path: Path) -> None:
    database = Database.from_url(f"postgresql://piyasa:{SECRET}@127.0.0.1:{closed_port()}/piyasa")
    with pytest.raises(ToolFailed) as connecting:
        await server_version(database)
    with pytest.raises(ToolFailed) as dumping:
        await dump(find_tool("pg_dump", None), database, tmp_path / "x.dump")
    for failure in (connecting.value, dumping.value):
        assert "piyasa:***@127.0.0.1" in str(failure)
        assert SECRET not in str(failure)


async def test_a_backup_that_cannot_reach_nats_leaves_no_directory_and_no_password(
    tmp_path: Path,
) -> None:
    source = Infrastructure(
        f"nats://ops:{SECRET}@127.0.0.1:{closed_port()}",
        f"postgresql://piyasa:{SECRET}@127.0.0.1:{closed_port()}/piyasa",
        "piyasa",
    )
    with pytest.raises(NotRunning) as failed:
        await create_backup(source, tmp_path / "backups", BackupSettings(), clock=ManualClock(NOW))

    assert "nats://ops:***@127.0.0.1" in str(failed.value)
    assert SECRET not in str(failed.value)
    assert list((tmp_path / "backups").iterdir()) == []


# --- the backup directory --------------------------------------------------------------------


def test_a_changed_file_is_refused_before_anything_is_touched(tmp_path: Path) -> None:
    directory = fake_backup(tmp_path, "piyasa", NOW)
    manifest = read_manifest(directory)
    verify_files(directory, manifest)

    (directory / "postgres.dump").write_bytes(b"PGDMP dump bytez")
    with pytest.raises(BackupInvalid, match="checksum"):
        verify_files(directory, manifest)
    (directory / "postgres.dump").write_bytes(b"short")
    with pytest.raises(BackupInvalid, match="bytes"):
        verify_files(directory, manifest)
    # The restore checks the files before it connects anywhere (this NATS is not there).
    with pytest.raises(BackupInvalid):
        asyncio.run(
            restore_backup(
                directory,
                f"nats://127.0.0.1:{closed_port()}",
                f"postgresql://127.0.0.1:{closed_port()}/x",
                BackupSettings(),
                prefix=None,
                force=False,
                replicas=None,
                clock=ManualClock(NOW),
            )
        )


def test_a_manifest_names_only_files_inside_and_a_newer_format_is_refused(tmp_path: Path) -> None:
    directory = fake_backup(tmp_path, "piyasa", NOW)
    manifest_file = directory / "manifest.json"
    text = manifest_file.read_text()
    manifest_file.write_text(text.replace('"postgres.dump"', '"../../etc/passwd"', 1))
    with pytest.raises(BackupInvalid, match="not a path inside"):
        read_manifest(directory)
    manifest_file.write_text(text.replace(f'"format": {FORMAT}', f'"format": {FORMAT + 1}'))
    with pytest.raises(BackupInvalid, match=f"format {FORMAT + 1}"):
        read_manifest(directory)


def test_restore_finds_the_newest_complete_backup_in_a_directory(tmp_path: Path) -> None:
    old = fake_backup(tmp_path, "piyasa", NOW - timedelta(days=1))
    new = fake_backup(tmp_path, "piyasa", NOW)
    unfinished = tmp_path / "piyasa-piyasa-20991231T000000Z"
    unfinished.mkdir()

    assert locate(tmp_path) == new
    assert locate(old) == old
    with pytest.raises(BackupInvalid, match="no complete backup"):
        locate(unfinished)


def test_pruning_keeps_the_newest_of_the_prefix_and_clears_day_old_partials(
    tmp_path: Path,
) -> None:
    ours = [fake_backup(tmp_path, "piyasa", NOW - timedelta(days=d)) for d in range(4)]
    theirs = fake_backup(tmp_path, "other", NOW - timedelta(days=9))
    stale = tmp_path / ".piyasa-piyasa-20261101T000000Z.partial"
    fresh = tmp_path / ".piyasa-piyasa-20261128T023000Z.partial"
    stale.mkdir()
    fresh.mkdir()
    old = (NOW - timedelta(days=2)).timestamp()
    os.utime(stale, (old, old))

    removed = prune(tmp_path, "piyasa", 2, clock=ManualClock(NOW))

    assert set(removed) == {ours[2], ours[3], stale}
    assert set(tmp_path.iterdir()) == {ours[0], ours[1], theirs, fresh}
    assert prune(tmp_path, "piyasa", None, clock=ManualClock(NOW)) == []


# --- the PostgreSQL tools ----------------------------------------------------------------------


def fake_tool(directory: Path, name: str, version: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(f"#!/bin/sh\necho '{name} (PostgreSQL) {version}'\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_the_newest_pg_dump_is_chosen_because_older_ones_refuse_newer_servers(
    tmp_path: Path,
) -> None:
    debian = fake_tool(tmp_path / "debian", "pg_dump", "15.18 (Debian 15.18-0+deb12u1)")
    wheel = fake_tool(tmp_path / "wheel", "pg_dump", "18.6")
    broken = tmp_path / "broken" / "pg_dump"

    chosen = choose_newest([debian, broken, wheel])
    assert chosen is not None and (chosen.path, chosen.version, chosen.major) == (wheel, "18.6", 18)
    assert choose_newest([broken]) is None
    assert find_tool("pg_dump", tmp_path / "debian").version == "15.18"
    with pytest.raises(ToolFailed, match="PIYASA_PG_BIN_DIR"):
        find_tool("pg_dump", tmp_path / "broken")


# --- the commands --------------------------------------------------------------------------


def test_backup_and_restore_document_themselves() -> None:
    top = CliRunner().invoke(cli, ["--help"])
    assert "  backup" in top.output and "  restore" in top.output
    for command in ("backup", "restore"):
        result = CliRunner().invoke(cli, [command, "--help"])
        assert result.exit_code == 0, result.output
    assert "--force" in CliRunner().invoke(cli, ["restore", "--help"]).output


def test_restore_of_a_directory_without_a_backup_says_so(tmp_path: Path) -> None:
    env = {
        "NATS_URL": f"nats://127.0.0.1:{closed_port()}",
        "DATABASE_URL": f"postgresql://127.0.0.1:{closed_port()}/x",
    }
    result = CliRunner().invoke(cli, ["restore", str(tmp_path)], env=env)
    assert result.exit_code == 1
    assert "holds no complete backup" in result.output
