"""The services `piyasa up` runs: the one list to extend.

The Telegram sandbox is here too, apart from the services: it writes no
heartbeat to KV (it is a stand-in for Telegram, not a piyasa service), so it
is ready when its HTTP API answers, and `piyasa up --live` leaves it out and
points the dispatcher at the real Bot API instead.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    """The name the service reports in its heartbeat, and its log file's name."""
    module: str
    """Run as `python -m <module>`."""
    needs_database: bool = False
    """Gets `DATABASE_URL` (only the services that own tables)."""
    ready_path: str | None = None
    """Ready when `GET http://127.0.0.1:<port><ready_path>` answers 200 (no heartbeat)."""

    def argv(self) -> list[str]:
        return [sys.executable, "-m", self.module]

    def installed(self) -> bool:
        """Whether this interpreter has the module (a slim install may lack one).

        Looks for the file without importing the package: importing a service's
        package here would cost the supervisor seconds of its dependencies' imports.
        """
        package, _, submodule = self.module.partition(".")
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            return False
        if spec is None:
            return False
        if not submodule:
            return True
        relative = Path(*submodule.split("."))
        return any(
            (Path(location) / relative).with_suffix(".py").is_file()
            or (Path(location) / relative / "__init__.py").is_file()
            for location in spec.submodule_search_locations or ()
        )


def service_env(
    spec: ServiceSpec, *, nats_url: str, database_url: str, prefix: str, instance: str
) -> dict[str, str]:
    """The environment of one service: ours, with the backbone's settings pinned."""
    dropped = ("PIYASA_NATS_URL", "DATABASE_URL", "PIYASA_DATABASE_URL")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(
        NATS_URL=nats_url,
        PIYASA_NAME_PREFIX=prefix,
        PIYASA_INSTANCE_ID=instance,
        PYTHONUNBUFFERED="1",
    )
    if spec.needs_database:
        env["DATABASE_URL"] = database_url
    return env


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("scheduler", "piyasa_scheduler.main"),
    ServiceSpec("generator", "piyasa_generator.main"),
    ServiceSpec("guard", "piyasa_guard.main"),
    ServiceSpec("dispatcher", "piyasa_dispatcher.main"),
    ServiceSpec("config", "piyasa_config.main", needs_database=True),
    ServiceSpec("projector", "piyasa_projector.main", needs_database=True),
)

SERVICE_NAMES: tuple[str, ...] = tuple(s.name for s in SERVICES)


SANDBOX = ServiceSpec("sandbox", "piyasa_sandbox", ready_path="/sandbox/api/state")
"""The Telegram sandbox (`python -m piyasa_sandbox`): the fleet's Telegram unless --live."""

SANDBOX_DEFAULT_PORT = 8081
REAL_TELEGRAM = "https://api.telegram.org"


def sandbox_env(port: int, state_file: Path) -> dict[str, str]:
    """The sandbox's own settings: its port, and a state file so that chats survive restarts."""
    return {"PIYASA_SANDBOX_PORT": str(port), "PIYASA_SANDBOX_STATE_FILE": str(state_file)}


def telegram_env(
    *, live: bool, sandbox_port: int | None, configured_base: str | None
) -> dict[str, str]:
    """Where the dispatcher finds Telegram: the sandbox, or the real Bot API with --live.

    Without --live a configured `TELEGRAM_API_BASE` is overridden: a laptop never
    posts into real groups by accident. With --live it is kept (a self-hosted Bot API
    server), else the real one.
    """
    if live:
        return {
            "TELEGRAM_API_BASE": configured_base or REAL_TELEGRAM,
            "PIYASA_TELEGRAM_LIVE": "true",
            "TELEGRAM_SANDBOX_ADMIN": "",
        }
    assert sandbox_port is not None
    base = f"http://127.0.0.1:{sandbox_port}"
    return {
        "TELEGRAM_API_BASE": base,
        "PIYASA_TELEGRAM_LIVE": "false",
        "TELEGRAM_SANDBOX_ADMIN": f"{base}/sandbox/api",
    }


def sandbox_config_env() -> dict[str, str]:
    """The config service's side of the sandbox: the wizard's bots get tokens it accepts."""
    return {"PIYASA_SANDBOX_TOKENS": "true"}
