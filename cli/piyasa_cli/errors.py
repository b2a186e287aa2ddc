"""The CLI's errors; `main` turns every one into a message and exit code 1.

CliError (PiyasaError)
 ├── AlreadyRunning     another `piyasa up` holds the state directory
 ├── NotRunning         nothing to talk to: no NATS_URL and no running `piyasa up`
 └── StartupFailed      a server or service could not be started
"""

from __future__ import annotations

from piyasa_common.errors import PiyasaError


class CliError(PiyasaError):
    pass


class AlreadyRunning(CliError):
    pass


class NotRunning(CliError):
    pass


class StartupFailed(CliError):
    pass
