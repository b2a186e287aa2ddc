"""Generator benchmark: the real service against fake provider servers, 1, 2 and 4 replicas.

    uv run python bench/generation.py            # full run (about 5 minutes)
    uv run python bench/generation.py --quick    # seconds: a smoke run, figures not meaningful

Everything runs on this machine: NATS (embedded, or `NATS_URL`), one fake OpenAI server
process (`python -m tests.fakes.llm`) whose latency is drawn from a distribution (default
lognormal, median 1.5 s, sigma 0.4), and each generator replica as its own process
(`python -m piyasa_generator.main`, the real composition root, OpenAI SDK, shared KV
budgets). The benchmark process plays the scheduler (it publishes requests) and the guard
(it asks for a regeneration of some drafts), and reads drafts from a plain subscription.

1. *Fleet*: N bots in M chats, each sending messages at a rate per hour (Poisson arrivals),
   one replica; a share of the drafts is regenerated. Goal: p99(request-to-draft) -
   p99(provider) < 250 ms at 200 bots x 10 messages per hour.
2. *Scaling*: a closed loop keeps every replica's provider slots busy (twice the total
   concurrency outstanding) for a fixed window after a warm-up, with 1, 2 and 4 replicas.
   Goal: 4 replicas >= 3.6x one replica's drafts/s while the CPU is not the limit.
3. *Prompt caching*: the share of prompt tokens in the byte-stable prefix (fleet block +
   persona block), estimated from the prompts, and the share the fake provider reports
   as cached under OpenAI's rules (>= 1,024 tokens, 128-token steps). Goal: >= 60%.

Figures go to stdout and to `docs/performance.md` between the `bench:generation` markers.
"""

# ruff: noqa: RUF001 -- Turkish text: the dotless i is a letter, not a look-alike.

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nats.aio.client import Client as NATS  # noqa: E402
from nats.aio.msg import Msg  # noqa: E402

from piyasa_common.connection import connect, jetstream  # noqa: E402
from piyasa_common.provisioning import provision  # noqa: E402
from piyasa_common.publisher import Publisher  # noqa: E402
from piyasa_common.settings import BackboneSettings  # noqa: E402
from piyasa_contracts import Bucket, Envelope, EventKeys, StreamRole, decode, make_event  # noqa: E402
from piyasa_contracts.events._common import Persona  # noqa: E402
from piyasa_contracts.events.work import Drafted, GenerationRequested, RegenerationRequested  # noqa: E402
from piyasa_generator.prompt import build_prompt  # noqa: E402
from tests.unit.generator.builders import TOPICS, generation_request  # noqa: E402

DOC = ROOT / "docs" / "performance.md"
START_MARK = "<!-- bench:generation:start -->"
END_MARK = "<!-- bench:generation:end -->"
OVERHEAD_GOAL_MS = 250.0
SCALING_GOAL = 3.6
CACHE_GOAL = 0.60
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- measuring


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def tree_cpu_s(root: int) -> float:
    """CPU seconds of `root` and every process below it (replicas, the fake, NATS)."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    total = 0.0
    for pid in cpu:
        walk = pid
        while walk > 1 and walk != root:
            walk = parents.get(walk, 0)
        if walk == root:
            total += cpu[pid]
    return total


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies over all cores since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return float(sum(values) - idle), float(sum(values))


@dataclass
class Sample:
    kind: str  # generate | regenerate
    published: float
    drafted: float = 0.0
    provider_ms: float = 0.0
    prompt_tokens: int = 0
    cached_tokens: int = 0

    @property
    def r2d_ms(self) -> float:
        return (self.drafted - self.published) * 1000


@dataclass
class Run:
    label: str
    replicas: int
    concurrency: int
    window_s: float
    samples: list[Sample] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    cpu_window_s: float = 0.0
    in_flight: list[int] = field(default_factory=list)
    provider_calls: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    machine_busy: float = 0.0
    ours_busy: float = 0.0
    """This benchmark's processes (itself, replicas, fake, NATS) as a share of all cores."""
    estimated_prompt: int = 0
    estimated_cacheable: int = 0

    def of(self, kind: str | None = None) -> list[Sample]:
        return [s for s in self.samples if s.drafted and (kind is None or s.kind == kind)]

    @property
    def per_s(self) -> float:
        return len(self.of()) / self.window_s

    @property
    def utilisation(self) -> float:
        """Mean provider calls in flight over the replicas' total concurrency."""
        mean = sum(self.in_flight) / max(1, len(self.in_flight))
        return mean / (self.replicas * self.concurrency)


# --------------------------------------------------------------------------- processes


@contextlib.asynccontextmanager
async def nats_server(url: str | None) -> AsyncIterator[tuple[str, bool]]:
    url = url or os.environ.get("NATS_URL")
    if url:
        yield url, False
        return
    from piyasa_cli.embedded import EmbeddedNats

    state_dir = Path(tempfile.mkdtemp(prefix="piyasa-bench-gen-"))
    server = EmbeddedNats(state_dir)
    try:
        await server.start()
        yield server.url, True
    finally:
        await server.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


class Child:
    """A child process whose stdout is drained (and its first lines watched)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._seen = asyncio.Event()
        self._wanted: Callable[[str], bool] = lambda _: False
        self._reader = asyncio.create_task(self._drain())

    @classmethod
    async def start(cls, *args: str, env: dict[str, str]) -> Child:
        """`python *args` from the repository root with exactly `env` as its environment."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        return cls(proc)

    async def _drain(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            line = raw.decode(errors="replace").strip()
            if len(self.lines) < 200:
                self.lines.append(line)
            if self._wanted(line):
                self._seen.set()

    async def wait_for(self, wanted: Callable[[str], bool], timeout: float = 60) -> str:
        self._wanted = wanted
        for line in self.lines:
            if wanted(line):
                return line
        try:
            await asyncio.wait_for(self._seen.wait(), timeout)
        except TimeoutError:
            raise RuntimeError("child not ready:\n" + "\n".join(self.lines[-20:])) from None
        return next(line for line in self.lines if wanted(line))

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        with contextlib.suppress(Exception):
            await self._reader


async def start_fake(latency: str, seed: int) -> tuple[Child, str]:
    child = await Child.start(
        "-m", "tests.fakes.llm", "--dialect", "openai", "--latency", latency,
        "--seed", str(seed), "--completion-tokens", "40",
        env=dict(os.environ),
    )  # fmt: skip
    line = await child.wait_for(lambda text: text.startswith('{"url"'))
    return child, json.loads(line)["url"]


async def fake_stats(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(f"{url}/_fake/stats")
        return dict(response.json())


@contextlib.asynccontextmanager
async def sampling_in_flight(url: str, into: list[int]) -> AsyncIterator[None]:
    """Poll the fake's calls in flight every 100 ms while the block runs."""

    async def poll() -> None:
        async with httpx.AsyncClient(timeout=5) as client:
            while True:
                response = await client.get(f"{url}/_fake/stats")
                into.append(int(response.json()["in_flight"]))
                await asyncio.sleep(0.1)

    task = asyncio.create_task(poll())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def start_replica(
    index: int, nats_url: str, prefix: str, fake_url: str, concurrency: int
) -> Child:
    """One generator process, configured for OpenAI only, pointed at the fake."""
    others = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GROQ_API_KEY", "LLM_BASE_URL", "OPENAI_BASE_URL")
    env = {k: v for k, v in os.environ.items() if k not in others}
    env.update(
        {
            "NATS_URL": nats_url,
            "PIYASA_NAME_PREFIX": prefix,
            "PIYASA_INSTANCE_ID": f"bench-{prefix}-r{index}",
            "OPENAI_API_KEY": "sk-bench-0000000000000000000000",
            "PIYASA_OPENAI_BASE_URL": f"{fake_url}/v1",
            "PIYASA_LLM_CONCURRENCY": str(concurrency),
            "PIYASA_PROVIDER_DAILY_BUDGET_USD": "0",
            "PIYASA_BOT_DAILY_BUDGET_USD": "0",
            "PIYASA_HTTP_PORT": "0",
            "PIYASA_LOG_LEVEL": "INFO",
        }
    )
    child = await Child.start("-m", "piyasa_generator.main", env=env)
    await child.wait_for(lambda text: '"msg": "ready"' in text)
    return child


# --------------------------------------------------------------------------- the fleet


@dataclass(frozen=True)
class Bot:
    bot_id: str
    chat_id: str
    name: str
    language: str
    persona: Persona


def make_fleet(bots: int, chats: int, rng: random.Random) -> list[Bot]:
    tones = ("samimi", "resmi", "alaycı", "sert", "sakin", "heyecanlı")
    out = []
    for i in range(bots):
        chat = i % chats
        language = "en" if chat % 4 == 3 else "tr"
        out.append(
            Bot(
                bot_id=f"b{i:05d}",
                chat_id=f"c{chat:04d}",
                name=f"Bot {i}",
                language=language,
                persona=Persona(
                    tone=rng.choice(tones),
                    background=f"{rng.randrange(3, 20)} yıldır piyasaları izleyen bir yatırımcı.",
                    expertise=rng.sample(["kripto", "BIST", "makro", "emtia", "teknik analiz"], 2),
                    risk_appetite=round(rng.random(), 2),
                    verbosity=round(rng.random(), 2),
                    emoji_use=round(rng.random() * 0.6, 2),
                ),
            )
        )
    return out


class Bench:
    """The scheduler and guard stand-in: publishes requests, reads drafts."""

    def __init__(self, nc: NATS, publisher: Publisher, prefix: str, rng: random.Random) -> None:
        self.nc, self.publisher, self.prefix, self.rng = nc, publisher, prefix, rng
        self.pending: dict[tuple[str, int], Sample] = {}
        self.samples: list[Sample] = []
        self.drafts: asyncio.Queue[tuple[Envelope, Drafted]] = asyncio.Queue()
        self.estimated_prompt = 0
        self.estimated_cacheable = 0

    async def listen(self) -> None:
        async def on_draft(msg: Msg) -> None:
            event = decode(msg.data)
            drafted = event.payload
            assert isinstance(drafted, Drafted)
            sample = self.pending.pop((drafted.turn_id, drafted.attempt), None)
            if sample is not None:
                sample.drafted = time.monotonic()
                sample.provider_ms = drafted.latency_ms
                sample.prompt_tokens = drafted.tokens.prompt
                sample.cached_tokens = drafted.tokens.cached_prompt
            self.drafts.put_nowait((event.envelope, drafted))

        await self.nc.subscribe(f"{self.prefix}.work.draft.>", cb=on_draft)

    def request(self, bot: Bot) -> GenerationRequested:
        rng = self.rng
        return generation_request(
            bot_id=bot.bot_id,
            bot_name=bot.name,
            topic=rng.choice(TOPICS),
            position=rng.choice(("bullish", "bearish", "neutral")),
            strength=round(rng.random(), 2),
            language=bot.language,
            history=rng.randrange(8, 16),
            reply=rng.random() < 0.5,
            persona=bot.persona,
            rng=rng,
            deadline_s=600,
        )

    async def send(self, bot: Bot) -> None:
        request = self.request(bot)
        prompt = build_prompt(request)
        self.estimated_prompt += prompt.estimated_tokens
        self.estimated_cacheable += prompt.cacheable_tokens
        envelope = make_event(
            request,
            occurred_at=datetime.now(UTC),
            keys=EventKeys(bot_id=bot.bot_id, chat_id=bot.chat_id, turn_id=request.turn_id),
            actor="bench",
        )
        sample = Sample("generate", time.monotonic())
        self.pending[(request.turn_id, 0)] = sample
        self.samples.append(sample)
        await self.publisher.publish(envelope)

    async def regenerate(self, cause: Envelope, drafted: Drafted) -> None:
        payload = RegenerationRequested(
            turn_id=drafted.turn_id,
            deadline=datetime.now(UTC) + timedelta(minutes=10),
            attempt=1,
            request=drafted.request,
            rejected_text=drafted.text,
            feedback=["near_duplicate: too close to a recent message in the chat"],
        )
        envelope = make_event(
            payload, occurred_at=datetime.now(UTC), keys=cause.keys, cause=cause, actor="bench"
        )
        sample = Sample("regenerate", time.monotonic())
        self.pending[(drafted.turn_id, 1)] = sample
        self.samples.append(sample)
        await self.publisher.publish(envelope)


@contextlib.asynccontextmanager
async def backbone(nats_url: str) -> AsyncIterator[tuple[str, NATS, Publisher]]:
    prefix = "bg" + uuid.uuid4().hex[:8]
    settings = BackboneSettings(
        nats_url=nats_url, name_prefix=prefix, instance_id=f"bench-{prefix}"
    )
    nc = await connect(nats_url, f"bench:{prefix}")
    js = jetstream(nc)
    topology = settings.topology()
    try:
        await provision(js, settings)
        yield prefix, nc, Publisher(js, topology)
    finally:
        for role in StreamRole:
            with contextlib.suppress(Exception):
                await js.delete_stream(topology.stream(role))
        for bucket in Bucket:
            with contextlib.suppress(Exception):
                await js.delete_key_value(topology.bucket(bucket))
        await nc.close()


async def run_fleet(
    nats_url: str, fake_url: str, *, bots: int, chats: int, per_hour: float, duration_s: float,
    regen_share: float, concurrency: int, seed: int,
) -> Run:  # fmt: skip
    rng = random.Random(seed)
    fleet = make_fleet(bots, chats, rng)
    async with backbone(nats_url) as (prefix, nc, publisher):
        replica = await start_replica(0, nats_url, prefix, fake_url, concurrency)
        bench = Bench(nc, publisher, prefix, rng)
        await bench.listen()
        stats0, cpu0, machine0 = (
            await fake_stats(fake_url),
            process_cpu_s(replica.pid),
            machine_cpu(),
        )

        async def regenerations() -> None:
            while True:
                envelope, drafted = await bench.drafts.get()
                if drafted.attempt == 0 and rng.random() < regen_share:
                    await bench.regenerate(envelope, drafted)

        regen_task = asyncio.create_task(regenerations())
        rate = bots * per_hour / 3600
        in_flight: list[int] = []
        started = time.monotonic()
        async with sampling_in_flight(fake_url, in_flight):
            while True:
                await asyncio.sleep(rng.expovariate(rate))
                if time.monotonic() - started >= duration_s:
                    break
                await bench.send(rng.choice(fleet))
        window = time.monotonic() - started
        deadline = time.monotonic() + 30
        while bench.pending and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        regen_task.cancel()
        stats1, cpu1, machine1 = (
            await fake_stats(fake_url),
            process_cpu_s(replica.pid),
            machine_cpu(),
        )
        spent = time.monotonic() - started
        await replica.stop()
    run = Run("fleet", 1, concurrency, window, bench.samples, in_flight=in_flight)
    _account(run, stats0, stats1, [cpu1 - cpu0], machine0, machine1)
    run.cpu_window_s = spent
    run.estimated_prompt, run.estimated_cacheable = (
        bench.estimated_prompt,
        bench.estimated_cacheable,
    )
    return run


async def run_scaling(
    nats_url: str, fake_url: str, *, replicas: int, concurrency: int, warmup_s: float,
    window_s: float, seed: int,
) -> Run:  # fmt: skip
    rng = random.Random(seed)
    fleet = make_fleet(200, 20, rng)
    async with backbone(nats_url) as (prefix, nc, publisher):
        children = await asyncio.gather(
            *(start_replica(i, nats_url, prefix, fake_url, concurrency) for i in range(replicas))
        )
        bench = Bench(nc, publisher, prefix, rng)
        await bench.listen()
        outstanding = 2 * concurrency * replicas
        for _ in range(outstanding):
            await bench.send(rng.choice(fleet))
        stop_at = time.monotonic() + warmup_s + window_s
        in_window: list[Sample] = []
        marks: dict[str, Any] = {}

        async def refill() -> None:
            while True:
                await bench.drafts.get()
                await bench.send(rng.choice(fleet))

        refill_task = asyncio.create_task(refill())
        await asyncio.sleep(warmup_s)
        marks["stats0"] = await fake_stats(fake_url)
        marks["cpu0"] = [process_cpu_s(c.pid) for c in children]
        marks["machine0"] = machine_cpu()
        marks["tree0"] = tree_cpu_s(os.getpid())
        window_start = time.monotonic()
        in_flight: list[int] = []
        async with sampling_in_flight(fake_url, in_flight):
            await asyncio.sleep(max(0.0, stop_at - time.monotonic()))
        window = time.monotonic() - window_start
        stats1 = await fake_stats(fake_url)
        cpu1 = [process_cpu_s(c.pid) for c in children]
        machine1 = machine_cpu()
        tree1 = tree_cpu_s(os.getpid())
        refill_task.cancel()
        in_window = [s for s in bench.samples if s.drafted and window_start <= s.drafted]
        await asyncio.gather(*(c.stop() for c in children))
    run = Run(f"scaling x{replicas}", replicas, concurrency, window, in_window, in_flight=in_flight)
    run.cpu_window_s = window
    run.ours_busy = (tree1 - marks["tree0"]) / (window * (os.cpu_count() or 1))
    _account(
        run,
        marks["stats0"],
        stats1,
        [b - a for a, b in zip(marks["cpu0"], cpu1, strict=True)],
        marks["machine0"],
        machine1,
    )
    return run


def _account(
    run: Run,
    stats0: dict[str, Any],
    stats1: dict[str, Any],
    cpu: list[float],
    machine0: tuple[float, float],
    machine1: tuple[float, float],
) -> None:
    run.cpu_s = cpu
    run.provider_calls = stats1["requests"] - stats0["requests"]
    run.statuses = {k: v - stats0["statuses"].get(k, 0) for k, v in stats1["statuses"].items()}
    busy, total = machine1[0] - machine0[0], machine1[1] - machine0[1]
    run.machine_busy = busy / total if total else 0.0


# --------------------------------------------------------------------------- report


def ms(value: float) -> str:
    return f"{value:,.0f} ms" if value == value else "-"


def render(fleet: Run, scaling: list[Run], args: argparse.Namespace, total_s: float) -> str:
    gen, regen, every = fleet.of("generate"), fleet.of("regenerate"), fleet.of()
    lines = [
        START_MARK,
        "## Generator: request-to-draft, replica scaling, prompt caching"
        + (" (quick smoke run: figures not meaningful)" if args.quick else ""),
        "",
        f"- When: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores; command "
        f"`uv run python bench/generation.py{' --quick' if args.quick else ''}` "
        f"(total {total_s:.0f} s).",
        "- Provider: one fake OpenAI server process (`tests/fakes/llm`, real HTTP API, driven "
        f"through the `openai` SDK) answering after `{args.latency}` seconds "
        "(lognormal: median, log-space sigma); each generator replica is its own process "
        "(`python -m piyasa_generator.main`) with the shared KV budget, breakers and tracing "
        "on (spans not exported).",
        "- *Provider* latency is the call as the generator timed it (`Drafted.latency_ms`, SDK "
        "included); *request-to-draft* runs from the benchmark publishing the request to it "
        "receiving the draft (NATS both ways, decode, prompt, budget reservation and "
        "settlement in KV, the call, cleaning, publish).",
        "",
        f"### Fleet: {args.bots} bots in {args.chats} chats, {args.per_hour:g} messages per bot "
        "per hour",
        "",
        f"Poisson arrivals for {fleet.window_s:.0f} s with one replica "
        f"({fleet.concurrency} provider calls in flight at most); "
        f"{args.regen_share:.0%} of the drafts are sent back as regenerations with feedback.",
        "",
        "| turns | n | req/s | provider p50 | provider p99 | request-to-draft p50 | "
        "request-to-draft p99 | p99 difference | per-turn overhead p50 / p99 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, samples in (("generated", gen), ("regenerated", regen), ("all", every)):
        if not samples:
            continue
        provider = [s.provider_ms for s in samples]
        r2d = [s.r2d_ms for s in samples]
        overhead = [s.r2d_ms - s.provider_ms for s in samples]
        lines.append(
            f"| {label} | {len(samples)} | {len(samples) / fleet.window_s:.2f} | "
            f"{ms(percentile(provider, 50))} | {ms(percentile(provider, 99))} | "
            f"{ms(percentile(r2d, 50))} | {ms(percentile(r2d, 99))} | "
            f"**{ms(percentile(r2d, 99) - percentile(provider, 99))}** | "
            f"{ms(percentile(overhead, 50))} / {ms(percentile(overhead, 99))} |"
        )
    all_r2d = [s.r2d_ms for s in every]
    all_provider = [s.provider_ms for s in every]
    diff = percentile(all_r2d, 99) - percentile(all_provider, 99)
    overhead99 = percentile([s.r2d_ms - s.provider_ms for s in every], 99)
    cpu = fleet.cpu_s[0] / fleet.cpu_window_s
    lines += [
        "",
        f"Provider utilisation (mean calls in flight over the replica's {fleet.concurrency} "
        f"slots) {fleet.utilisation:.1%}; replica CPU {cpu:.1%} of one core "
        f"({fleet.cpu_s[0] / max(1, len(every)) * 1000:.1f} ms per draft); fake provider "
        f"calls {fleet.provider_calls} (statuses {fleet.statuses}).",
        "",
        f"Goal: p99(request-to-draft) - p99(provider) < {OVERHEAD_GOAL_MS:.0f} ms. This run: "
        f"{diff:,.0f} ms (the p99 of the per-turn overhead itself: {overhead99:,.0f} ms), so "
        f"it **{'meets' if diff < OVERHEAD_GOAL_MS else 'misses'}** the goal.",
        "",
        "### Replica scaling",
        "",
        f"A closed loop keeps twice the total concurrency outstanding ({scaling[0].concurrency} "
        f"calls in flight per replica at most); {args.warmup:g} s warm-up, then "
        f"{args.window:g} s measured. Same provider latency as above"
        + (" (compressed for this part)" if args.scaling_latency != args.latency else "")
        + f": `{args.scaling_latency}`. Utilisation is the mean of the fake provider's calls in "
        "flight (sampled every 100 ms) over replicas x concurrency; CPU is per replica "
        "process, as a share of one core; the benchmark's CPU is every process it started "
        "(replicas, the fake, NATS, itself) and machine CPU everything on the machine, both "
        "as a share of all cores.",
        "",
        "| replicas | drafts/s | vs 1 replica | provider p50 | provider p99 | "
        "request-to-draft p50 | utilisation | CPU per replica | CPU per draft | "
        "benchmark's CPU | machine CPU |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    base = scaling[0].per_s
    for run in scaling:
        provider = [s.provider_ms for s in run.of()]
        r2d = [s.r2d_ms for s in run.of()]
        per_replica = ", ".join(f"{c / run.cpu_window_s:.1%}" for c in run.cpu_s)
        per_draft = sum(run.cpu_s) / max(1, len(run.of())) * 1000
        lines.append(
            f"| {run.replicas} | {run.per_s:.2f} | {run.per_s / base:.2f}x | "
            f"{ms(percentile(provider, 50))} | {ms(percentile(provider, 99))} | "
            f"{ms(percentile(r2d, 50))} | {run.utilisation:.0%} | {per_replica} | "
            f"{per_draft:.1f} ms | {run.ours_busy:.0%} | {run.machine_busy:.0%} |"
        )
    four = next((r for r in scaling if r.replicas == 4), scaling[-1])
    factor = four.per_s / base
    lines += [
        "",
        f"Goal: {four.replicas} replicas >= {SCALING_GOAL}x one replica while the CPU is not "
        f"the limit. This run: {factor:.2f}x, with the benchmark's processes using "
        f"{four.ours_busy:.0%} of the machine (the machine {four.machine_busy:.0%} busy), "
        f"so it **{'meets' if factor >= SCALING_GOAL else 'misses'}** the goal. Throughput "
        "per replica is set by its provider concurrency cap (`PIYASA_LLM_CONCURRENCY`) and "
        "the provider's latency, not by CPU. A machine figure far above the benchmark's "
        "means other work shared the machine during the run.",
        "",
        "### Prompt caching",
        "",
    ]
    estimated = fleet.estimated_cacheable / max(1, fleet.estimated_prompt)
    reported_prompt = sum(s.prompt_tokens for s in every)
    reported_cached = sum(s.cached_tokens for s in every)
    reported = reported_cached / max(1, reported_prompt)
    lines += [
        "Every prompt starts with the fleet block and the bot's persona block, byte-identical "
        "from call to call; the dynamic context (mood, stances, holdings, people, memories, "
        "the last messages, the reply target, the task) follows.",
        "",
        f"- Byte-stable prefix, estimated over the fleet run's {fleet.estimated_prompt:,} "
        f"prompt tokens (4 characters per token): **{estimated:.1%}**.",
        f"- Reported as cached by the fake provider (OpenAI's rules: the longest prefix seen "
        f"before, from 1,024 tokens, in 128-token steps): **{reported:.1%}** of "
        f"{reported_prompt:,} prompt tokens.",
        "",
        f"Goal: cacheable share >= {CACHE_GOAL:.0%} of prompt tokens. This run: "
        f"{estimated:.1%} estimated, {reported:.1%} reported, so it "
        f"**{'meets' if min(estimated, reported) >= CACHE_GOAL else 'misses'}** the goal.",
        END_MARK,
    ]
    return "\n".join(lines) + "\n"


def write_section(path: Path, section: str) -> None:
    """Replace the section between the markers, or append it; keep everything else."""
    text = path.read_text() if path.exists() else "# Performance\n\nMeasured figures.\n"
    start, end = text.find(START_MARK), text.find(END_MARK)
    if start != -1 and end != -1 and end > start:
        text = text[:start] + section.rstrip("\n") + text[end + len(END_MARK) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


# --------------------------------------------------------------------------- main


async def run(args: argparse.Namespace) -> None:
    started = time.monotonic()
    async with nats_server(args.nats_url) as (nats_url, _embedded):
        fake, fake_url = await start_fake(args.latency, args.seed)
        try:
            print(f"fleet: {args.bots} bots, {args.fleet_duration:g} s ...", flush=True)
            fleet = await run_fleet(
                nats_url, fake_url, bots=args.bots, chats=args.chats, per_hour=args.per_hour,
                duration_s=args.fleet_duration, regen_share=args.regen_share,
                concurrency=args.concurrency, seed=args.seed,
            )  # fmt: skip
        finally:
            await fake.stop()
        fake, fake_url = await start_fake(args.scaling_latency, args.seed + 1)
        scaling = []
        try:
            for replicas in args.replicas:
                print(f"scaling: {replicas} replica(s) ...", flush=True)
                scaling.append(
                    await run_scaling(
                        nats_url,
                        fake_url,
                        replicas=replicas,
                        concurrency=args.concurrency,
                        warmup_s=args.warmup,
                        window_s=args.window,
                        seed=args.seed + replicas,
                    )
                )
        finally:
            await fake.stop()
    raw = Path(tempfile.gettempdir()) / f"piyasa-bench-generation-{os.getpid()}.json"
    raw.write_text(json.dumps({"fleet": asdict(fleet), "scaling": [asdict(r) for r in scaling]}))
    print(f"raw figures: {raw}", flush=True)
    section = render(fleet, scaling, args, time.monotonic() - started)
    print(section)
    if args.output is not None:
        write_section(args.output, section)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="seconds: a smoke run")
    parser.add_argument("--nats-url", default=None)
    parser.add_argument("--bots", type=int, default=200)
    parser.add_argument("--chats", type=int, default=20)
    parser.add_argument("--per-hour", type=float, default=10.0)
    parser.add_argument("--fleet-duration", type=float, default=180.0)
    parser.add_argument("--regen-share", type=float, default=0.1)
    parser.add_argument("--latency", default="lognormal:1.5:0.4")
    parser.add_argument("--scaling-latency", default=None, help="default: --latency")
    parser.add_argument("--concurrency", type=int, default=8, help="provider calls per replica")
    parser.add_argument(
        "--replicas", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 4]
    )
    parser.add_argument("--warmup", type=float, default=6.0)
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--output", type=Path, default=DOC)
    args = parser.parse_args(argv)
    args.scaling_latency = args.scaling_latency or args.latency
    if args.quick:
        args.fleet_duration, args.warmup, args.window = 10.0, 2.0, 5.0
        args.bots, args.per_hour = 200, 200.0
        args.output = None if args.output == DOC else args.output
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
