"""The services `piyasa up` runs: the one list to extend (the Telegram sandbox goes here)."""

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
