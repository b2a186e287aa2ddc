"""Composition root of the generator: settings, the fleet's knobs, providers, shared budgets,
router, handler."""

from __future__ import annotations

import logging

from piyasa_common.logs import register_secret
from piyasa_common.service import Service, ServiceContext, Setup
from piyasa_common.state import StartAt, StreamFollower
from piyasa_contracts import StreamRole
from piyasa_contracts.events.config import SettingsChanged
from piyasa_contracts.fleet_settings import SETTINGS_ID
from piyasa_generator.budget import SharedBudgets
from piyasa_generator.fleet import FleetKnobs
from piyasa_generator.handler import GenerationHandler, clean_for
from piyasa_generator.pricing import PriceTable
from piyasa_generator.providers.factory import build_providers
from piyasa_generator.router import Policy, Router
from piyasa_generator.settings import GeneratorSettings

log = logging.getLogger(__name__)


def generator_setup(settings: GeneratorSettings) -> Setup:
    async def setup(ctx: ServiceContext) -> None:
        knobs = FleetKnobs(settings)
        ctx.follow(
            StreamFollower(
                ctx.js,
                ctx.topology,
                stream=StreamRole.CONFIG,
                apply=knobs.apply_config,
                start=StartAt.last_per_subject(),
                filter_subject=ctx.topology.config_subject(SettingsChanged.aggregate, SETTINGS_ID),
                name="generator:settings",
            )
        )
        budgets = await SharedBudgets.open(ctx.js, ctx.topology, ctx.clock)
        router = Router(
            build_providers(settings),
            budgets,
            limits=knobs.limits,
            prices=PriceTable(settings.llm_prices),
            policy=Policy(
                concurrency=settings.llm_concurrency,
                breaker_failures=settings.breaker_failures,
                breaker_open_s=settings.breaker_open_s,
                quota_open_s=settings.quota_open_s,
                prefer_wait_s=settings.prefer_wait_s,
                max_calls=settings.max_calls_per_delivery,
                timeout_s=settings.llm_timeout_s,
            ),
            clock=ctx.clock,
            cleaner=clean_for,
        )
        handler = GenerationHandler(
            router=router, publisher=ctx.publisher, clock=ctx.clock, settings=settings, knobs=knobs
        )
        ctx.consume("generator", handler, concurrency=router.concurrency)
        ctx.on_stop.append(router.aclose)
        log.info(
            "providers configured",
            extra={"providers": [f"{p.name}:{p.model}" for p in router.providers]},
        )

    return setup


def main() -> None:
    settings = GeneratorSettings()
    for secret in settings.secrets():
        register_secret(secret)
    Service("generator", settings, generator_setup(settings)).main()


if __name__ == "__main__":
    main()
