"""What every subcommand shares: the --state-dir option, settings, errors -> exit 1."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from piyasa_cli.settings import CliSettings
from piyasa_cli.target import Target, resolve_target
from piyasa_common.errors import PiyasaError

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

STATE_DIR_HELP = (
    "State directory (data, logs, run.json). Default: $PIYASA_STATE_DIR, else "
    "~/.local/share/piyasa (the platform's user data dir), or /var/lib/piyasa as root."
)


def state_dir_option(func: F) -> F:
    option = click.option(
        "--state-dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help=STATE_DIR_HELP,
    )
    return option(func)


def load_settings() -> CliSettings:
    try:
        return CliSettings()
    except ValidationError as err:
        raise click.ClickException(f"invalid setting: {err}") from err


def target_for(state_dir: Path | None) -> Target:
    try:
        return resolve_target(load_settings(), state_dir)
    except PiyasaError as err:
        raise click.ClickException(str(err)) from err


def configure_logging() -> None:
    """Warnings of the libraries a command runs, one plain line each on stderr."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # A command closing its connection is not worth a "disconnected" warning.
    logging.getLogger("piyasa_common.connection").setLevel(logging.ERROR)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; piyasa's errors become a message and exit code 1."""
    try:
        return asyncio.run(coro)
    except PiyasaError as err:
        raise click.ClickException(str(err)) from err
