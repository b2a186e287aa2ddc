"""The `piyasa` command: `up` runs everything; the others look at and steer what runs."""

from __future__ import annotations

import click

from piyasa_cli.commands.admin import admin
from piyasa_cli.commands.backup import backup, restore
from piyasa_cli.commands.dlq import dlq
from piyasa_cli.commands.fleet import fleet
from piyasa_cli.commands.logs import logs
from piyasa_cli.commands.projections import projections
from piyasa_cli.commands.secrets import secrets
from piyasa_cli.commands.status import status
from piyasa_cli.commands.up import up


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="piyasa")
def cli() -> None:
    """piyasa: a fleet of LLM bots for Telegram market groups.

    The commands find NATS (and PostgreSQL) through NATS_URL / DATABASE_URL,
    else through the run.json of the `piyasa up` running on the state directory.
    """


for command in (up, status, logs, dlq, projections, admin, fleet, secrets, backup, restore):
    cli.add_command(command)


if __name__ == "__main__":
    cli()
