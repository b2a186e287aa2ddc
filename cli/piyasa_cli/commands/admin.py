"""`piyasa admin create`: an operator (the first admin) in the config service's tables."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from piyasa_cli.commands._common import configure_logging, run, state_dir_option, target_for


@click.group()
def admin() -> None:
    """Manage the operators who may use the config API."""


@admin.command()
@click.option("--username", "-u", required=True, help="Login name (lowercase).")
@click.option(
    "--role",
    type=click.Choice(["admin", "operator", "viewer"]),
    default="admin",
    show_default=True,
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input instead of prompting.",
)
@click.option(
    "--no-password",
    is_flag=True,
    help="API keys only: no password login (and so no TOTP).",
)
@click.option("--api-key/--no-api-key", default=True, show_default=True, help="Issue an API key.")
@state_dir_option
def create(
    username: str,
    role: str,
    password_stdin: bool,
    no_password: bool,
    api_key: bool,
    state_dir: Path | None,
) -> None:
    """Create an operator; prints the TOTP enrolment URI and the API key, once.

    A password login also needs the TOTP code from an authenticator app: scan
    the printed otpauth:// URI (or type its secret) into one.
    """
    from piyasa_config.admin import create_operator
    from piyasa_config.auth.roles import Role

    target = target_for(state_dir)
    database_url = target.database_url
    password: str | None = None
    if not no_password:
        if password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        if len(password) < 12:
            raise click.ClickException("the password must have at least 12 characters")
    configure_logging()
    created = run(create_operator(database_url, username, Role(role), password, with_key=api_key))
    click.echo(f"created {role} {username} ({created.operator.operator_id})")
    if created.operator.totp_uri:
        click.echo("TOTP: add this to an authenticator app (shown once):")
        click.echo(f"  {created.operator.totp_uri}")
    if created.key is not None:
        click.echo("API key (shown once; send it as the X-API-Key header):")
        click.echo(f"  {created.key.key}")
