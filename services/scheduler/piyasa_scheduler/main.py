"""Composition root of the scheduler service: fold the log, lease partitions, tick, publish."""

from __future__ import annotations

from piyasa_common.sealing import DataKeys
from piyasa_common.service import Service, ServiceContext, Setup
from piyasa_domain import LexiconStanceClassifier, StanceClassifier
from piyasa_scheduler.analysis import Analyzer
from piyasa_scheduler.envelopes import SERVICE
from piyasa_scheduler.people import OpenLater
from piyasa_scheduler.runtime import SchedulerRuntime
from piyasa_scheduler.settings import SchedulerSettings
from piyasa_scheduler.state import FleetState


def setup_for(settings: SchedulerSettings, *, classifier: StanceClassifier | None = None) -> Setup:
    async def setup(ctx: ServiceContext) -> None:
        analyzer = Analyzer(classifier or LexiconStanceClassifier())
        runtime = SchedulerRuntime(
            settings=settings,
            fleet=FleetState(analyzer, OpenLater()),
            clock=ctx.clock,
            publisher=ctx.publisher,
            topology=ctx.topology,
            keys=DataKeys(ctx.js, ctx.topology),
        )
        runtime.wire(ctx)

    return setup


def main() -> None:
    settings = SchedulerSettings()
    Service(SERVICE, settings, setup_for(settings)).main()


if __name__ == "__main__":
    main()
