"""`piyasa status`: the services' heartbeats, and the supervisor's view when it runs here."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import click
from nats.js.errors import NotFoundError

from piyasa_cli.commands._common import run, state_dir_option, target_for
from piyasa_cli.errors import CliError
from piyasa_cli.runfile import RunInfo
from piyasa_cli.services import SERVICE_NAMES
from piyasa_cli.target import Target, jetstream
from piyasa_common.heartbeat import Heartbeat, read_heartbeats


@dataclass(frozen=True)
class Row:
    service: str
    instance: str
    ready: str
    lag: str
    version: str
    age: str
    pid: str
    restarts: str


HEADER = Row("SERVICE", "INSTANCE", "READY", "LAG", "VERSION", "AGE", "PID", "RESTARTS")


def status_rows(
    beats: list[Heartbeat], run_info: RunInfo | None, known: list[str], now: datetime
) -> tuple[list[Row], list[str]]:
    """The table, and the known services that are not ready."""
    rows: list[Row] = []
    not_ready: list[str] = []
    supervised = run_info.services if run_info is not None else {}
    names = [*known, *sorted({b.service for b in beats} - set(known))]
    for name in names:
        own = [b for b in beats if b.service == name]
        proc = supervised.get(name)
        pid = str(proc.pid) if proc is not None and proc.pid is not None else "-"
        restarts = str(proc.restarts) if proc is not None else "-"
        if not own:
            rows.append(Row(name, "-", "no heartbeat", "-", "-", "-", pid, restarts))
        for beat in own:
            rows.append(
                Row(
                    name,
                    beat.instance,
                    "yes" if beat.ready else "no",
                    str(beat.lag),
                    beat.version,
                    _age(beat.at, now),
                    str(beat.pid) if beat.pid is not None else pid,
                    restarts,
                )
            )
        if name in known and not any(b.ready for b in own):
            not_ready.append(name)
    return rows, not_ready


def format_table(rows: list[Row]) -> str:
    table = [list(vars(HEADER).values()), *(list(vars(r).values()) for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in table
    )


def _age(at: str, now: datetime) -> str:
    try:
        seconds = (now - datetime.fromisoformat(at)).total_seconds()
    except (TypeError, ValueError):
        return "?"
    return f"{max(seconds, 0.0):.1f}s"


async def _status(target: Target) -> tuple[list[Row], list[str]]:
    async with jetstream(target) as js:
        try:
            beats = await read_heartbeats(js, target.topology())
        except NotFoundError as err:
            raise CliError(
                f"no heartbeats bucket for prefix {target.prefix}: no service has started yet"
            ) from err
    known = list(target.run.services) if target.run is not None else list(SERVICE_NAMES)
    return status_rows(beats, target.run, known, datetime.now(UTC))


@click.command()
@state_dir_option
def status(state_dir: Path | None) -> None:
    """Show every service's readiness, lag and version from its heartbeat.

    With a `piyasa up` running on the state directory, also its pid and
    restarts. Exits 1 when a known service is not ready.
    """
    target = target_for(state_dir)
    rows, not_ready = run(_status(target))
    click.echo(f"NATS {target.nats_url}  prefix {target.prefix}")
    click.echo(format_table(rows))
    if not_ready:
        click.echo(f"not ready: {', '.join(not_ready)}", err=True)
        sys.exit(1)
