"""`piyasa fleet export|import`: the fleet as one YAML document (bots without tokens)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click

from piyasa_cli.commands._common import configure_logging, run, state_dir_option, target_for

if TYPE_CHECKING:
    from piyasa_config.settings import ConfigSettings


def _settings(state_dir: Path | None) -> ConfigSettings:
    from piyasa_config.settings import ConfigSettings

    target = target_for(state_dir)
    return ConfigSettings(nats_url=target.nats_url, name_prefix=target.prefix)


@click.group()
def fleet() -> None:
    """Export or import the whole fleet configuration."""


@fleet.command("export")
@click.option(
    "--output", "-o", type=click.Path(path_type=Path, dir_okay=False), help="Default: stdout."
)
@state_dir_option
def export_(output: Path | None, state_dir: Path | None) -> None:
    """Write bots, chats, stances, holdings and settings as YAML."""
    from piyasa_config.admin import export_fleet

    settings = _settings(state_dir)
    configure_logging()
    text = run(export_fleet(settings))
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)


@fleet.command("import")
@click.argument("document", type=click.File("r", encoding="utf-8"))
@state_dir_option
def import_(document: TextIO, state_dir: Path | None) -> None:
    """Create or update everything DOCUMENT names (`-` reads stdin)."""
    from piyasa_config.admin import import_fleet

    settings = _settings(state_dir)
    configure_logging()
    report = run(import_fleet(settings, document.read()))  # errors name the field
    for outcome in ("created", "updated", "unchanged"):
        counts = getattr(report, outcome)
        line = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "nothing"
        click.echo(f"{outcome}: {line}")
