"""`piyasa logs`."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from piyasa_cli.commands._common import load_settings, state_dir_option
from piyasa_cli.logtail import follow, last_lines
from piyasa_cli.settings import default_state_dir
from piyasa_cli.state import StateDir


def log_files(state: StateDir) -> dict[str, Path]:
    """Every log file of the state directory by name (services, nats, postgres, up)."""
    if not state.logs.is_dir():
        return {}
    return {path.stem: path for path in sorted(state.logs.glob("*.log"))}


@click.command()
@click.argument("service", required=False)
@click.option("-f", "--follow", "follow_", is_flag=True, help="Keep printing new lines.")
@click.option(
    "-n",
    "--lines",
    default=20,
    show_default=True,
    type=click.IntRange(min=0),
    help="How many of the last lines to print first (per file).",
)
@state_dir_option
def logs(service: str | None, follow_: bool, lines: int, state_dir: Path | None) -> None:
    """Print (and with -f follow) the log of SERVICE, or of every process.

    Services write JSON lines; nats and postgres their own format; `up` is the
    supervisor's log. With several files each line starts with the file's name.
    """
    settings = load_settings()
    state = StateDir(state_dir or default_state_dir(configured=settings.state_dir))
    files = log_files(state)
    if service is not None:
        if service not in files:
            known = ", ".join(files) or "none yet"
            raise click.BadParameter(
                f"no log named {service} in {state.logs} (there: {known})", param_hint="SERVICE"
            )
        files = {service: files[service]}
    if not files:
        raise click.ClickException(f"no log files in {state.logs}: has piyasa up run there?")
    width = max(len(name) for name in files)

    def show(name: str, line: str) -> None:
        click.echo(line if len(files) == 1 else f"{name.ljust(width)} | {line}")

    for name, path in files.items():
        for line in last_lines(path, lines):
            show(name, line)
    if follow_:
        with contextlib.suppress(KeyboardInterrupt):
            for name, line in follow(files):
                show(name, line)
