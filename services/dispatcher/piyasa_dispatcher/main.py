"""Composition root of the dispatcher: settings, the runtime, the service runner."""

from __future__ import annotations

import gc

from piyasa_common.service import Service, ServiceContext, Setup
from piyasa_dispatcher.runtime import SERVICE, DispatcherRuntime
from piyasa_dispatcher.settings import DispatcherSettings


def setup_for(settings: DispatcherSettings) -> Setup:
    async def setup(ctx: ServiceContext) -> None:
        DispatcherRuntime(settings, ctx).wire()

    return setup


def configure_gc() -> None:
    """Collect the young generation every 50,000 allocations instead of 700.

    Each send allocates thousands of short-lived objects (events, models, HTTP and NATS
    frames); with the default thresholds the collector runs several times per send and
    its full passes walk every scheduled send, which shows as a latency tail.
    """
    gc.set_threshold(50_000, 20, 100)
    # What is loaded by now (modules, settings) lives as long as the process: keep it
    # out of every later collection, which then walks only what the sends leave behind.
    gc.freeze()


def main() -> None:
    settings = DispatcherSettings()
    configure_gc()  # in the process only: tests run several services in one
    Service(SERVICE, settings, setup_for(settings)).main()


if __name__ == "__main__":
    main()
