"""The fake provider server: an ASGI app with scripted replies, latency, limits and caching."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from tests.fakes.llm.dialects import Dialect, Limits, Usage
from tests.support.waiting import eventually

Latency = Callable[[], float]
TextFor = Callable[[dict[str, Any], int], str]

CHARS_PER_TOKEN = 4
"""The fakes count tokens as characters / 4: close enough for budgets and cache shares."""

CACHE_MIN_TOKENS = 1024
CACHE_STEP_TOKENS = 128


def constant(seconds: float) -> Latency:
    return lambda: seconds


def lognormal(median_s: float = 1.5, sigma: float = 0.4, seed: int | None = None) -> Latency:
    """Latency with the given median; `sigma` is the log-space spread (p99 ~ median*e^(2.33s))."""
    rng = random.Random(seed)
    mu = math.log(median_s)
    return lambda: rng.lognormvariate(mu, sigma)


def count_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN))


@dataclass
class Reply:
    """One scripted answer. `body=None` on a 200 means a generated success body."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    text: str | None = None
    delay_s: float | None = None


@dataclass(frozen=True)
class Seen:
    """A request as the server received it."""

    at: float
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int = 0


class RateBucket:
    """A GCRA limiter like the providers': `limit` requests per `window_s`, full burst allowed.

    Tokens are limited the same way when `token_limit` is set. The state it reports is
    what OpenAI's and Groq's headers say: remaining units and the time until full reset.
    """

    def __init__(
        self,
        limit: int,
        window_s: float,
        *,
        token_limit: int = 1_000_000,
        token_window_s: float = 60.0,
        retry_after: bool = True,
    ) -> None:
        self.limit, self.window_s = limit, window_s
        self.token_limit, self.token_window_s = token_limit, token_window_s
        self.retry_after = retry_after
        self._tat = 0.0
        self._token_tat = 0.0

    def _interval(self) -> float:
        return self.window_s / self.limit

    def _token_interval(self) -> float:
        return self.token_window_s / self.token_limit

    def take(self, tokens: int, now: float) -> float | None:
        """Admit a request (None) or say how long until it would be admitted."""
        t, tt = self._interval(), self._token_interval()
        tat = max(self._tat, now) + t
        token_tat = max(self._token_tat, now) + tokens * tt
        wait = max(tat - now - self.window_s, token_tat - now - self.token_window_s, 0.0)
        if wait > 0:
            return wait
        self._tat, self._token_tat = tat, token_tat
        return None

    def state(self, now: float) -> Limits:
        t, tt = self._interval(), self._token_interval()
        used = max(0.0, self._tat - now)
        used_tokens = max(0.0, self._token_tat - now)
        return Limits(
            limit_requests=self.limit,
            remaining_requests=max(0, self.limit - math.ceil(used / t - 1e-9)),
            reset_requests_s=used,
            limit_tokens=self.token_limit,
            remaining_tokens=max(0, self.token_limit - math.ceil(used_tokens / tt - 1e-9)),
            reset_tokens_s=used_tokens,
        )


class PrefixCache:
    """Automatic prompt caching: the longest earlier-seen prefix, in 128-token steps, >= 1024."""

    def __init__(self, max_entries: int = 200_000) -> None:
        self._seen: set[bytes] = set()
        self._max = max_entries

    def cached_tokens(self, prompt: str) -> int:
        step = CACHE_STEP_TOKENS * CHARS_PER_TOKEN
        data = prompt.encode()
        digest = hashlib.blake2b(digest_size=16)
        hit = 0
        new: list[bytes] = []
        for end in range(step, len(data) + 1, step):
            digest.update(data[end - step : end])
            key = digest.copy().digest()
            if key in self._seen:
                hit = end
            else:
                new.append(key)
        if len(self._seen) < self._max:
            self._seen.update(new)
        tokens = hit // CHARS_PER_TOKEN
        return tokens if tokens >= CACHE_MIN_TOKENS else 0


class _QuietServer(uvicorn.Server):
    """uvicorn that leaves the test process's signal handling alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _default_text(body: dict[str, Any], n: int) -> str:
    return f"Piyasa bugün ilginç, takipteyim. #{n}"


class FakeLLM:
    """One provider's API on 127.0.0.1:<port>; use `async with` or `start()` / `stop()`."""

    def __init__(
        self,
        dialect: Dialect,
        *,
        latency: Latency | float = 0.0,
        text: TextFor | None = None,
        limiter: RateBucket | None = None,
        prompt_cache: bool = True,
        completion_tokens: int | None = None,
    ) -> None:
        self.dialect = dialect
        self.latency: Latency = constant(latency) if isinstance(latency, int | float) else latency
        self.text_for: TextFor = text or _default_text
        self.limiter = limiter
        self.cache = PrefixCache() if prompt_cache else None
        self.completion_tokens = completion_tokens
        self.script: deque[Reply] = deque()
        self.requests: list[Seen] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.busy_s = 0.0
        """Sum over requests of the time each spent being served (for utilisation)."""
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.port = 0

    # ---------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """What `AsyncOpenAI(base_url=...)` takes: the SDK appends `/chat/completions`."""
        return f"{self.url}/v1"

    async def start(self, port: int = 0) -> str:
        config = uvicorn.Config(
            self,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_keep_alive=30,
            backlog=4096,
        )
        self._server = _QuietServer(config)
        self._task = asyncio.create_task(self._server.serve())
        await eventually(
            lambda: self._server is not None and (self._server.started or self._task.done()),
            timeout=10,
            interval=0.005,
            message="the fake LLM server started",
        )
        if self._task.done():
            self._task.result()  # it failed to start: raise why
        sockets = self._server.servers[0].sockets
        self.port = int(sockets[0].getsockname()[1])
        return self.url

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._server = self._task = None

    async def __aenter__(self) -> FakeLLM:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---------------------------------------------------------------- scripting

    def push(self, *replies: Reply) -> None:
        self.script.extend(replies)

    def rate_limited(self, retry_after_s: float | None = 1.0, kind: str = "requests") -> Reply:
        status, headers, body = self.dialect.rate_limited("model", retry_after_s, kind)
        return Reply(status, headers, body)

    def server_error(self, status: int = 500) -> Reply:
        status, headers, body = self.dialect.server_error(status)
        return Reply(status, headers, body)

    def insufficient_quota(self) -> Reply:
        status, headers, body = self.dialect.insufficient_quota()  # type: ignore[attr-defined]
        return Reply(status, headers, body)

    def statuses(self) -> list[int]:
        return [r.status for r in self.requests]

    def stats(self) -> dict[str, Any]:
        """Counters for a benchmark in another process (`GET /_fake/stats`)."""
        counts: dict[str, int] = {}
        for seen in self.requests:
            counts[str(seen.status)] = counts.get(str(seen.status), 0) + 1
        return {
            "requests": len(self.requests),
            "statuses": counts,
            "busy_s": self.busy_s,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
        }

    # ---------------------------------------------------------------- ASGI

    async def __call__(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[dict[str, Any]]],
        send: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            return
        started = time.monotonic()
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        raw = b"".join(chunks)
        if scope["path"] == "/_fake/stats":
            await _send_json(send, 200, self.stats())
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            status, out_headers, payload = await self._answer(scope, body, started)
        finally:
            self.in_flight -= 1
            self.busy_s += time.monotonic() - started
        self.requests.append(Seen(started, scope["method"], scope["path"], headers, body, status))
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        content_type = b"application/json" if not isinstance(payload, bytes) else b"text/plain"
        header_list = [
            (b"content-type", content_type),
            (b"content-length", str(len(data)).encode()),
        ]
        header_list += [(k.encode(), v.encode()) for k, v in out_headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": header_list})
        await send({"type": "http.response.body", "body": data})

    async def _answer(
        self, scope: dict[str, Any], body: Any, started: float
    ) -> tuple[int, dict[str, str], Any]:
        routed = self.dialect.route(scope["method"], scope["path"])
        if routed is None or not isinstance(body, dict):
            return 404, {}, {"error": {"message": f"no route {scope['path']}", "code": 404}}
        model = self.dialect.model_of(body, routed)
        n = len(self.requests) + self.in_flight
        reply = self.script.popleft() if self.script else Reply()
        delay = self.latency() if reply.delay_s is None else reply.delay_s
        prompt = self.dialect.prompt_text(body)
        prompt_tokens = count_tokens(prompt)
        headers = {"x-request-id": f"req_{n:08d}", **reply.headers}
        if reply.status == 200 and self.limiter is not None:
            wait = self.limiter.take(prompt_tokens, time.monotonic())
            if wait is not None:
                state = self.limiter.state(time.monotonic())
                status, extra, error = self.dialect.rate_limited(
                    model, wait if self.limiter.retry_after else None
                )
                if not self.limiter.retry_after:
                    extra.pop("retry-after", None)
                return status, {**headers, **self.dialect.limit_headers(state), **extra}, error
        if delay > 0:
            await asyncio.sleep(delay)
        if self.limiter is not None:
            headers.update(self.dialect.limit_headers(self.limiter.state(time.monotonic())))
            headers.update(reply.headers)
        if reply.status != 200 or reply.body is not None:
            payload = reply.body if reply.body is not None else {}
            if isinstance(payload, str):
                payload = payload.encode()
            return reply.status, headers, payload
        text = reply.text if reply.text is not None else self.text_for(body, n)
        cached = self.cache.cached_tokens(prompt) if self.cache is not None else 0
        completion = self.completion_tokens or count_tokens(text)
        usage = Usage(prompt=prompt_tokens, completion=completion, cached=cached)
        return 200, headers, self.dialect.success(text, model, usage)


async def _send_json(
    send: Callable[[dict[str, Any]], Awaitable[None]], status: int, payload: Any
) -> None:
    data = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
