"""Serve one fake provider until SIGTERM: `python -m tests.fakes.llm --dialect openai`.

Prints one JSON line with its URL once listening. `--latency lognormal:1.5:0.4`
(median seconds, log-space sigma) or `constant:0.2`. Counters at `GET /_fake/stats`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys

from tests.fakes.llm.core import FakeLLM, Latency, constant, lognormal
from tests.fakes.llm.dialects import DIALECTS


def parse_latency(text: str, seed: int | None) -> Latency:
    kind, _, rest = text.partition(":")
    values = [float(v) for v in rest.split(":") if v]
    if kind == "lognormal":
        return lognormal(*values, seed=seed)
    if kind == "constant":
        return constant(values[0] if values else 0.0)
    raise SystemExit(f"unknown latency {text!r}: lognormal:MEDIAN[:SIGMA] or constant:SECONDS")


async def serve(args: argparse.Namespace) -> None:
    fake = FakeLLM(
        DIALECTS[args.dialect],
        latency=parse_latency(args.latency, args.seed),
        completion_tokens=args.completion_tokens,
    )
    await fake.start(args.port)
    print(json.dumps({"url": fake.url, "dialect": args.dialect}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await fake.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dialect", choices=sorted(DIALECTS), default="openai")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", default="lognormal:1.5:0.4")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--completion-tokens", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(args))
    sys.exit(0)


if __name__ == "__main__":
    main()
