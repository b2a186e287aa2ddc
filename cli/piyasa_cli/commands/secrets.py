"""`piyasa secrets rotate`: re-encrypt every stored bot token with the newest key.

Rotation, step by step:
  1. generate a key:
       python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"
  2. put it FIRST in PIYASA_FERNET_KEYS (or the keys file), keep the old ones after it,
     and restart the config service and the dispatcher (they now read both);
  3. run `piyasa secrets rotate` with the same keys in its environment;
  4. remove the old key and restart them again.
"""

from __future__ import annotations

from pathlib import Path

import click

from piyasa_cli.commands._common import configure_logging, run, state_dir_option, target_for


@click.group()
def secrets() -> None:
    """Manage the encrypted bot tokens."""


@secrets.command()
@state_dir_option
def rotate(state_dir: Path | None) -> None:
    """Re-encrypt every bot token with the first key of PIYASA_FERNET_KEYS(_FILE)."""
    from piyasa_config.admin import rotate_secrets
    from piyasa_config.settings import ConfigSettings

    target = target_for(state_dir)
    settings = ConfigSettings(nats_url=target.nats_url, name_prefix=target.prefix)
    configure_logging()
    report = run(rotate_secrets(settings))
    click.echo(f"re-encrypted {report.rotated} token(s) with the newest key")
    if report.failed:
        click.echo(f"no configured key opens: {', '.join(report.failed)}", err=True)
        raise SystemExit(1)
