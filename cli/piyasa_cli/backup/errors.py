"""The backup's errors; the CLI turns each into a message and exit code 1.

BackupError (CliError)
 ├── BackupInvalid   the directory is not a complete, intact backup this version can read
 ├── NotEmpty        restore would overwrite data (and --force was not given)
 ├── ServicesRunning services still write to the target: restore refuses even with --force
 └── ToolFailed      pg_dump / pg_restore, or the JetStream snapshot API, said no
"""

from __future__ import annotations

from piyasa_cli.errors import CliError


class BackupError(CliError):
    pass


class BackupInvalid(BackupError):
    pass


class NotEmpty(BackupError):
    pass


class ServicesRunning(BackupError):
    pass


class ToolFailed(BackupError):
    pass
