"""Config API benchmark: writes and reads through HTTP, at 100 and at 10,000 bots.

    uv run python bench/config_api.py            # full run (a few minutes on 2 cores)
    uv run python bench/config_api.py --quick    # small N: a smoke run

Runs the real processes: `piyasa_config.main` (the API, mounted in the service
runner's HTTP server) and `piyasa_projector.main`, against a fresh embedded NATS
and PostgreSQL (or `NATS_URL` / `DATABASE_URL`), all on this machine, and drives
them over HTTP/1.1 keep-alive with an admin API key (so every request pays
its authentication, as in production).

Per operation it measures, in one run:
- *sequential*: one request at a time; p50/p99 latency (what one operator sees);
- *concurrent*: `--concurrency` requests in flight; requests/s and p99.

Writes (create-bot, update-stance) answer once JetStream acked the event
(`?wait=stored`, the default), so their latency includes the ack. Reads
(list-bots: one keyset page of 50 after a random bot id; get-bot: a random
bot) come from the projections. Reads run at 100 bots, then the fleet is
grown to 10,000 bots through the API (those creates are the concurrent
create-bot figures) and the reads run again.

Writes `docs/performance.md` between the `bench:config` markers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

from piyasa_config.auth.roles import Role
from piyasa_config.auth.store import AuthStore
from piyasa_config.bootstrap import database_engine
from piyasa_config.schema import migrate
from piyasa_config.settings import ConfigSettings

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"
START_MARK = "<!-- bench:config:start -->"
END_MARK = "<!-- bench:config:end -->"

READ_P99_MS = 20.0
WRITE_P99_MS = 50.0
GROWTH = 1.5


@dataclass(frozen=True)
class Sizes:
    small: int
    large: int
    stances: int
    samples: int  # sequential requests per measurement
    concurrent: int  # requests per concurrent measurement


FULL = Sizes(small=100, large=10_000, stances=500, samples=1_000, concurrent=2_000)
QUICK = Sizes(small=20, large=200, stances=40, samples=60, concurrent=120)


@dataclass
class Figure:
    operation: str
    fleet: int
    sequential_ms: list[float] = field(default_factory=list)
    concurrent_ms: list[float] = field(default_factory=list)
    concurrent_rate: float = 0.0

    @staticmethod
    def pct(values: list[float], q: float) -> float:
        if not values:
            return float("nan")
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    @property
    def seq_rate(self) -> float:
        total = sum(self.sequential_ms) / 1000
        return len(self.sequential_ms) / total if total else 0.0


# ------------------------------------------------------------------ infrastructure


@contextlib.asynccontextmanager
async def infrastructure() -> AsyncIterator[tuple[str, str, str, bool]]:
    """(nats url, two fresh databases' urls, embedded?)."""
    from piyasa_cli.embedded import EmbeddedNats, EmbeddedPostgres
    from piyasa_cli.embedded.postgres import create_database, drop_database

    dirs: list[Path] = []
    stack = contextlib.AsyncExitStack()
    async with stack:
        nats_url = os.environ.get("NATS_URL")
        pg_url = os.environ.get("DATABASE_URL")
        embedded = not (nats_url and pg_url)
        if not nats_url:
            dirs.append(Path(tempfile.mkdtemp(prefix="piyasa-bench-nats-")))
            nats = EmbeddedNats(dirs[-1])
            await nats.start()
            stack.push_async_callback(nats.stop)
            nats_url = nats.url
        if not pg_url:
            dirs.append(Path(tempfile.mkdtemp(prefix="piyasa-bench-pg-")))
            pg = EmbeddedPostgres(dirs[-1])
            await pg.start()
            stack.push_async_callback(pg.stop)
            pg_url = pg.url
        urls = []
        for _ in range(2):
            name = f"bench_{uuid.uuid4().hex[:10]}"
            urls.append(await create_database(pg_url, name))
            stack.push_async_callback(drop_database, pg_url, name)
        yield nats_url, urls[0], urls[1], embedded
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


@contextlib.asynccontextmanager
async def service(module: str, env: dict[str, str]) -> AsyncIterator[int]:
    """Run `python -m module`; yields the HTTP port it logs in its `ready` line."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    tail: list[str] = []
    port = 0
    drainer: asyncio.Task[None] | None = None

    async def drain() -> None:
        assert proc.stdout is not None
        while await proc.stdout.readline():
            pass

    try:
        while not port:
            line = await asyncio.wait_for(proc.stdout.readline(), 120)
            if not line:
                raise RuntimeError(f"{module} exited:\n" + "".join(tail[-20:]))
            tail.append(line.decode(errors="replace"))
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if record.get("msg") == "ready":
                    port = int(record["http_port"])
        drainer = asyncio.create_task(drain())
        yield port
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if drainer is not None:
            await drainer


async def admin_key(db_url: str, nats_url: str) -> str:
    await migrate(db_url)
    settings = ConfigSettings(database_url=db_url, nats_url=nats_url)
    engine = database_engine(settings)
    try:
        from datetime import timedelta

        auth = AuthStore(engine, session_ttl=timedelta(minutes=15))
        now = datetime.now(UTC)
        op = await auth.create_operator("bench", Role.ADMIN, None, now=now)
        return (await auth.issue_api_key(op.operator_id, "bench", now=now)).key
    finally:
        await engine.dispose()


# ------------------------------------------------------------------ measuring

Request = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


async def sequential(client: httpx.AsyncClient, request: Request, n: int) -> list[float]:
    out = []
    for i in range(n):
        started = time.perf_counter()
        response = await request(client, i)
        out.append((time.perf_counter() - started) * 1000)
        if response.status_code >= 300:
            raise RuntimeError(f"{response.status_code}: {response.text[:300]}")
    return out


async def concurrent(
    client: httpx.AsyncClient, request: Request, n: int, width: int
) -> tuple[list[float], float]:
    latencies: list[float] = []
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            started = time.perf_counter()
            response = await request(client, i)
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code >= 300:
                raise RuntimeError(f"{response.status_code}: {response.text[:300]}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(width)))
    return latencies, n / (time.perf_counter() - started)


async def wait_projected(client: httpx.AsyncClient) -> None:
    """A no-op write with ?wait=projected: the projector has everything before it."""
    answer = await client.post("/control/fleet/start?wait=projected")
    answer.raise_for_status()


def bot_body(i: int) -> dict[str, Any]:
    return {
        "name": f"Bot {i}",
        "persona": {
            "tone": random.choice(["alaycı", "neşeli", "temkinli", "hızlı"]),  # noqa: RUF001
            "background": "Borsada yirmi yıl." * 3,  # noqa: RUF001
            "expertise": ["BIST", "altın", "BTC"][: 1 + i % 3],  # noqa: RUF001
            "catchphrases": ["Piyasa her zaman haklıdır."],  # noqa: RUF001
        },
        "emotion": {"baseline_mood": round(random.uniform(-0.5, 0.5), 2)},
        "hourly_limit": 4 + i % 5,
    }


class Fleet:
    """One config service (and its projector) with its own prefix and database."""

    def __init__(self, client: httpx.AsyncClient, size: int) -> None:
        self.client = client
        self.size = size
        self.bots: list[str] = []
        self.stances: list[str] = []

    async def create_bot(self, c: httpx.AsyncClient, i: int) -> httpx.Response:
        r = await c.post("/bots", json=bot_body(len(self.bots) + i))
        if r.status_code == 201:
            self.bots.append(r.json()["id"])
        return r

    async def update_stance(self, c: httpx.AsyncClient, i: int) -> httpx.Response:
        # No cooldown: every update flips the position, and a flip sets the fleet's cooldown
        # unless the write names its own (`stance_cooldown_h`).
        body = {
            "position": ("bullish", "bearish", "neutral")[i % 3],
            "strength": random.random(),
            "cooldown_until": None,
        }
        # Consecutive i (in flight together) touch distinct stances: no 409s.
        return await c.patch(f"/stances/{self.stances[i % len(self.stances)]}", json=body)

    async def list_page(self, c: httpx.AsyncClient, i: int) -> httpx.Response:
        ordered = self._ordered
        after = ordered[random.randrange(max(1, len(ordered) - 50))]
        return await c.get("/bots", params={"limit": 50, "after": after})

    async def get_one(self, c: httpx.AsyncClient, i: int) -> httpx.Response:
        return await c.get(f"/bots/{random.choice(self.bots)}")

    async def add_stances(self, n: int) -> None:
        for i, bot in enumerate(self.bots[:n]):
            r = await self.client.post(
                "/stances",
                json={"bot_id": bot, "topic": f"T{i % 7}", "position": "bullish", "strength": 0.5},
            )
            r.raise_for_status()
            self.stances.append(r.json()["id"])

    async def settle(self) -> None:
        await wait_projected(self.client)
        self._ordered = sorted(self.bots)


@contextlib.asynccontextmanager
async def fleet_service(nats_url: str, db_url: str, width: int, size: int) -> AsyncIterator[Fleet]:
    key = await admin_key(db_url, nats_url)
    env = {
        "NATS_URL": nats_url,
        "DATABASE_URL": db_url,
        "PIYASA_NAME_PREFIX": f"b{uuid.uuid4().hex[:8]}",
        "PIYASA_HTTP_PORT": "0",
        "PIYASA_FERNET_KEYS": Fernet.generate_key().decode(),
        "PIYASA_WRITE_RATE_PER_MINUTE": "1000000",
        "PIYASA_TRACE_SAMPLE_RATIO": "0",
    }
    async with service("piyasa_projector.main", env), service("piyasa_config.main", env) as port:
        limits = httpx.Limits(max_connections=width + 2, max_keepalive_connections=width + 2)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            headers={"X-API-Key": key},
            limits=limits,
            timeout=30,
        ) as client:
            for _ in range(20):  # warm-up (connections, caches) that no figure includes
                await client.get("/bots?limit=1")
            yield Fleet(client, size)


async def interleaved(pairs: list[tuple[Fleet, Request]], n: int) -> list[list[float]]:
    """Sequential requests taking turns between fleets: both see the same machine noise."""
    out: list[list[float]] = [[] for _ in pairs]
    for i in range(n):
        for slot, (fleet, request) in enumerate(pairs):
            started = time.perf_counter()
            response = await request(fleet.client, i)
            out[slot].append((time.perf_counter() - started) * 1000)
            if response.status_code >= 300:
                raise RuntimeError(f"{response.status_code}: {response.text[:300]}")
    return out


async def run(sizes: Sizes, width: int) -> tuple[list[Figure], dict[str, Any]]:
    """Two fleets side by side (100 and 10,000 bots), each its own service, projector and
    database on the same NATS and PostgreSQL; reads alternate between them request by
    request, so the comparison is not at the mercy of what else the machine runs."""
    figures: list[Figure] = []
    meta: dict[str, Any] = {}
    async with infrastructure() as (nats_url, db_small, db_large, embedded):
        meta["embedded"] = embedded
        async with (
            fleet_service(nats_url, db_small, width, sizes.small) as small,
            fleet_service(nats_url, db_large, width, sizes.large) as large,
        ):
            create = Figure("create-bot", sizes.small)
            create.sequential_ms = await sequential(small.client, small.create_bot, sizes.small)
            figures.append(create)
            await small.add_stances(min(sizes.stances, sizes.small))

            grow = Figure("create-bot", sizes.large)
            grow.concurrent_ms, grow.concurrent_rate = await concurrent(
                large.client, large.create_bot, sizes.large - sizes.samples // 2, width
            )
            grow.sequential_ms = await sequential(
                large.client, large.create_bot, sizes.samples // 2
            )
            figures.append(grow)
            await large.add_stances(sizes.stances)

            for fleet in (small, large):
                update = Figure("update-stance", len(fleet.bots))
                update.sequential_ms = await sequential(
                    fleet.client, fleet.update_stance, sizes.samples
                )
                update.concurrent_ms, update.concurrent_rate = await concurrent(
                    fleet.client, fleet.update_stance, sizes.concurrent, width
                )
                figures.append(update)

            await small.settle()
            await large.settle()
            for name, pick in (("list-bots", "list_page"), ("get-bot", "get_one")):
                pairs: list[tuple[Fleet, Request]] = [
                    (small, getattr(small, pick)),
                    (large, getattr(large, pick)),
                ]
                sequential_ms = await interleaved(pairs, sizes.samples)
                for (fleet, request), latencies in zip(pairs, sequential_ms, strict=True):
                    figure = Figure(name, len(fleet.bots))
                    figure.sequential_ms = latencies
                    figure.concurrent_ms, figure.concurrent_rate = await concurrent(
                        fleet.client, request, sizes.concurrent, width
                    )
                    figures.append(figure)
            meta["small"], meta["large"] = len(small.bots), len(large.bots)
    return figures, meta


# ------------------------------------------------------------------ report


def render(
    figures: list[Figure], meta: dict[str, Any], args: argparse.Namespace, total: float
) -> str:
    def ms(v: float) -> str:
        return "–" if v != v else f"{v:.1f}"  # noqa: RUF001

    rows = [
        "| operation | bots | sequential req/s | p50 ms | p99 ms | "
        f"{args.concurrency} in flight req/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for f in figures:
        conc = f"{f.concurrent_rate:,.0f}" if f.concurrent_ms else "–"  # noqa: RUF001
        seq = f"{ms(Figure.pct(f.sequential_ms, 0.5))} | {ms(Figure.pct(f.sequential_ms, 0.99))}"
        par = f"{ms(Figure.pct(f.concurrent_ms, 0.5))} | {ms(Figure.pct(f.concurrent_ms, 0.99))}"
        rows.append(f"| {f.operation} | {f.fleet:,} | {f.seq_rate:,.0f} | {seq} | {conc} | {par} |")

    def p99(op: str, fleet_small: bool) -> float:
        wanted = sorted((f for f in figures if f.operation == op), key=lambda f: f.fleet)
        pick = wanted[0] if fleet_small else wanted[-1]
        return Figure.pct(pick.sequential_ms, 0.99)

    checks = []
    for op in ("list-bots", "get-bot"):
        small, large = p99(op, True), p99(op, False)
        ratio = large / small if small else float("inf")
        checks.append(
            f"- {op}: sequential p99 {ms(small)} ms at {meta['small']:,} bots, {ms(large)} ms at "
            f"{meta['large']:,} bots: x{ratio:.2f} "
            f"({'meets' if ratio <= GROWTH else 'misses'} the x{GROWTH} goal; "
            f"{'meets' if large < READ_P99_MS else 'misses'} < {READ_P99_MS:.0f} ms)"
        )
    for op in ("create-bot", "update-stance"):
        worst = max(Figure.pct(f.sequential_ms, 0.99) for f in figures if f.operation == op)
        checks.append(
            f"- {op}: worst sequential p99 {ms(worst)} ms including the JetStream ack "
            f"({'meets' if worst < WRITE_P99_MS else 'misses'} < {WRITE_P99_MS:.0f} ms)"
        )
    load = os.getloadavg()
    return "\n".join(
        [
            START_MARK,
            "## Config API: writes and reads over HTTP"
            + (" (quick smoke run: figures not meaningful)" if args.quick else ""),
            "",
            f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores, "
            f"{platform.system()} {platform.machine()}, Python {platform.python_version()}; "
            f"{'embedded NATS and PostgreSQL' if meta['embedded'] else 'NATS_URL / DATABASE_URL'}"
            f" on the same machine; load average {load[0]:.2f} at the end",
            f"- Command: `uv run python bench/config_api.py{' --quick' if args.quick else ''}` "
            f"(total {total:.0f} s). The config service and the projector run as their own "
            "processes (`python -m piyasa_config.main`, `piyasa_projector.main`); the client is "
            "httpx over keep-alive HTTP/1.1 with an admin API key (every request authenticates "
            "against PostgreSQL).",
            "- Two fleets side by side, each with its own config service, projector and "
            f"database on one NATS and one PostgreSQL: {meta['small']:,} and {meta['large']:,} "
            "bots (the large one grown through the API: its concurrent create-bot figures). "
            "Sequential reads alternate between the two fleets request by request, so both "
            "see the same machine; writes answer once JetStream stored the event (the ack is "
            "in the latency). list-bots is one keyset page of 50 after a random id; get-bot a "
            f"random bot. The in-flight columns run {args.concurrency} requests at once "
            "(client, services, NATS and PostgreSQL share the cores).",
            "",
            *rows,
            "",
            *checks,
            END_MARK,
            "",
        ]
    )


def write_section(path: Path, section: str) -> None:
    """Replace the section between the markers, or append it; keep everything else."""
    text = path.read_text() if path.exists() else "# Performance\n\nMeasured figures.\n"
    start, end = text.find(START_MARK), text.find(END_MARK)
    if start != -1 and end != -1 and end > start:
        text = text[:start] + section.rstrip("\n") + text[end + len(END_MARK) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text.endswith("\n") else text + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small N: a smoke run")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    random.seed(20261128)
    started = time.perf_counter()
    figures, meta = asyncio.run(run(QUICK if args.quick else FULL, args.concurrency))
    section = render(figures, meta, args, time.perf_counter() - started)
    print(section)
    if not args.no_write:
        write_section(DOC, section)
        print(f"wrote {DOC}", file=sys.stderr)


if __name__ == "__main__":
    main()
