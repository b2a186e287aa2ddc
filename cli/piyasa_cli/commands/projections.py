"""`piyasa projections rebuild`: drop and rebuild the Postgres projections from the log."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from typing import Any

import click

from piyasa_cli.commands._common import configure_logging, run, state_dir_option, target_for
from piyasa_cli.target import Target
from piyasa_common.settings import BackboneSettings


@click.group()
def projections() -> None:
    """Manage the Postgres projections the projector writes."""


@projections.command()
@click.option("--yes", "-y", is_flag=True, help="Do not ask first.")
@state_dir_option
def rebuild(yes: bool, state_dir: Path | None) -> None:
    """Drop the projections and rebuild them from the event log (JetStream)."""
    try:
        from piyasa_projector.rebuild import rebuild as rebuild_projections
    except ImportError as err:
        raise click.ClickException(
            f"this install has no projector rebuild (piyasa_projector.rebuild): {err}"
        ) from err
    target = target_for(state_dir)
    database_url = _database_url(target)
    if not yes:
        click.confirm(f"drop and rebuild the projections in {database_url}?", abort=True)
    settings = BackboneSettings(nats_url=target.nats_url, name_prefix=target.prefix)
    configure_logging()

    async def go() -> Any:
        report = rebuild_projections(settings, database_url)
        return await report if inspect.isawaitable(report) else report

    click.echo(_describe(run(go())))


def _database_url(target: Target) -> str:
    try:
        return target.database_url
    except Exception as err:
        raise click.ClickException(str(err)) from err


def _describe(report: Any) -> str:
    if dataclasses.is_dataclass(report) and not isinstance(report, type):
        fields = dataclasses.asdict(report)
    elif hasattr(report, "model_dump"):
        fields = report.model_dump()
    else:
        return f"rebuilt: {report}"
    return "rebuilt:\n" + "\n".join(f"  {key}: {value}" for key, value in fields.items())
