"""`piyasa backup` and `piyasa restore` over piyasa_cli.backup."""

from __future__ import annotations

from pathlib import Path

import click
from pydantic import ValidationError

from piyasa_cli.backup import (
    BackupError,
    BackupReport,
    BackupSettings,
    Infrastructure,
    RestoreReport,
    create_backup,
    locate,
    read_manifest,
    restore_backup,
)
from piyasa_cli.backup.embedded import embedded_infrastructure, has_data
from piyasa_cli.commands._common import configure_logging, run, state_dir_option, target_for
from piyasa_cli.errors import NotRunning
from piyasa_cli.target import Target
from piyasa_common.clock import SystemClock


def _settings() -> BackupSettings:
    try:
        return BackupSettings()
    except ValidationError as err:
        raise click.ClickException(f"invalid setting: {err}") from err


def _embedded(target: Target) -> bool:
    """Neither URL configured and no `piyasa up` running: the state directory's own servers."""
    configured = (target.settings.nats_url, target.settings.database_url)
    if target.run is not None or configured != (None, None):
        if None in configured and target.run is None:
            raise click.ClickException("set both NATS_URL and DATABASE_URL, or neither")
        return False
    return True


def _urls(target: Target) -> tuple[str, str]:
    try:
        return target.nats_url, target.database_url
    except NotRunning as err:
        raise click.ClickException(str(err)) from err


@click.command()
@click.option(
    "--to",
    "destination",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Directory to write the backup into. Default: $PIYASA_BACKUP_DIR, "
    "else <state directory>/backups.",
)
@click.option(
    "--keep",
    type=click.IntRange(1, 10_000),
    default=None,
    help="Then delete all but the newest N backups of this prefix in that directory. "
    "Default: $PIYASA_BACKUP_KEEP, else keep them all.",
)
@state_dir_option
def backup(destination: Path | None, keep: int | None, state_dir: Path | None) -> None:
    """Back up PostgreSQL and every JetStream stream and KV bucket into one directory.

    \b
    The database is dumped with pg_dump (every table: projections and the config
    service's operators, API keys and sessions); each stream and bucket is saved
    with the server's snapshot API, so a restore keeps every sequence (ETags,
    KV revisions, consumers' and projections' positions). The directory
    (piyasa-<prefix>-<UTC time>) appears only once complete, with a manifest.json.

    \b
    Backs up NATS_URL and DATABASE_URL, else the `piyasa up` running on the state
    directory, else that directory's embedded servers (started for the backup).
    """
    settings = _settings()
    if keep is not None:
        settings = settings.model_copy(update={"backup_keep": keep})
    target = target_for(state_dir)
    where = destination or settings.backup_dir or target.state.root / "backups"
    clock = SystemClock()
    configure_logging()
    if not _embedded(target):
        nats_url, database_url = _urls(target)
        source = Infrastructure(nats_url, database_url, target.prefix)
        report = run(create_backup(source, where, settings, clock=clock))
    elif not has_data(target.state):
        raise click.ClickException(
            f"{target.state.root} holds no piyasa data, NATS_URL and DATABASE_URL are not set "
            "and no `piyasa up` runs there: nothing to back up"
        )
    else:

        async def from_state_directory() -> BackupReport:
            async with embedded_infrastructure(target.state, target.prefix) as urls:
                source = Infrastructure(urls.nats_url, urls.database_url, target.prefix)
                return await create_backup(source, where, settings, clock=clock)

        report = run(from_state_directory())
    click.echo(describe_backup(report))


@click.command()
@click.argument("path", type=click.Path(path_type=Path, exists=True))
@click.option(
    "--force",
    is_flag=True,
    help="Replace the streams and database objects that exist (never while services run).",
)
@click.option(
    "--replicas",
    type=click.IntRange(1, 5),
    default=None,
    help="Restore every stream with this many replicas (e.g. 1 on a single-node NATS). "
    "Default: as backed up; 1 into the state directory's embedded NATS.",
)
@state_dir_option
def restore(path: Path, force: bool, replicas: int | None, state_dir: Path | None) -> None:
    """Restore a backup (PATH, or the newest backup in the directory PATH) into empty NATS
    and PostgreSQL: the streams first, then the database.

    \b
    Refuses when a stream of the backup exists or the database holds tables, unless
    --force; refuses with --force too while services send heartbeats. Start the
    services afterwards: the projector catches up from the restored positions.

    \b
    Restores into NATS_URL and DATABASE_URL; with neither set (and no `piyasa up`
    running there), into the state directory's embedded servers, started for the
    restore: `piyasa up --state-dir` then runs the restored system.
    """
    settings = _settings()
    target = target_for(state_dir)
    clock = SystemClock()
    configured = target.settings.name_prefix or (target.run.prefix if target.run else None)
    configure_logging()

    async def into(nats_url: str, database_url: str, replicas: int | None) -> RestoreReport:
        return await restore_backup(
            path,
            nats_url,
            database_url,
            settings,
            prefix=configured,
            force=force,
            replicas=replicas,
            clock=clock,
        )

    if not _embedded(target):
        report = run(into(*_urls(target), replicas))
    else:
        try:
            prefix = read_manifest(locate(path)).prefix
        except BackupError as err:
            raise click.ClickException(str(err)) from err

        async def into_state_directory() -> RestoreReport:
            async with embedded_infrastructure(target.state, configured or prefix) as urls:
                # The embedded NATS is one server: streams backed up with 3 replicas get 1.
                return await into(urls.nats_url, urls.database_url, replicas or 1)

        report = run(into_state_directory())
    click.echo(describe_restore(report))


def _size(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def describe_backup(report: BackupReport) -> str:
    manifest = report.manifest
    total = manifest.database.size + sum(s.size for s in manifest.streams)
    lines = [
        f"backup: {report.path} ({_size(total)} in {report.seconds:.1f} s)",
        f"  {'postgres.dump':<28} {_size(manifest.database.size):>10}  "
        f"PostgreSQL {manifest.database.server_version}",
    ]
    lines += [
        f"  {s.name:<28} {_size(s.size):>10}  {s.messages} messages, last sequence {s.last_seq}"
        for s in manifest.streams
    ]
    if report.missing:
        lines.append("  not there (nothing to back up): " + ", ".join(report.missing))
    lines += [f"  pruned {path}" for path in report.pruned]
    return "\n".join(lines)


def describe_restore(report: RestoreReport) -> str:
    lines = [
        f"restored: {report.source} (taken {report.manifest.created_at.isoformat()}) "
        f"in {report.seconds:.1f} s"
    ]
    if report.replaced:
        lines.append("  replaced: " + ", ".join(report.replaced))
    lines += [
        f"  {s.name:<28} {s.messages} messages, last sequence {s.last_seq}" for s in report.streams
    ]
    lines.append("  database: restored from postgres.dump")
    lines += [f"  projection {name} at {seq}" for name, seq in sorted(report.positions.items())]
    return "\n".join(lines)
