"""Composition root of the guard service: fold state, then decide every draft."""

from __future__ import annotations

from datetime import timedelta

from piyasa_common.service import Service, ServiceContext, Setup
from piyasa_common.state import StartAt, StreamFollower
from piyasa_contracts import StreamRole
from piyasa_domain import LexiconStanceClassifier
from piyasa_guard.bootstrap import build_judge, build_state, configure_gc
from piyasa_guard.handler import DraftHandler
from piyasa_guard.settings import GuardSettings


def setup_for(settings: GuardSettings) -> Setup:
    """The guard's wiring: followers that fold its state, and the drafts consumer."""

    async def setup(ctx: ServiceContext) -> None:
        state = build_state(settings)
        topology, now = ctx.topology, ctx.clock.now()
        window = timedelta(hours=max(settings.guard_chat_window_h, settings.guard_bot_window_h))
        ctx.follow(
            StreamFollower(
                ctx.js,
                topology,
                stream=StreamRole.CONFIG,
                apply=state.apply_config,
                start=StartAt.last_per_subject(),
                name="guard:config",
            )
        )
        ctx.follow(
            StreamFollower(
                ctx.js,
                topology,
                stream=StreamRole.CONVERSATION,
                apply=state.apply_conversation,
                start=StartAt.window(now - window),
                name="guard:conversation",
            )
        )
        for stage in ("approved", "decision"):
            ctx.follow(
                StreamFollower(
                    ctx.js,
                    topology,
                    stream=StreamRole.WORK,
                    apply=state.apply_work,
                    start=StartAt.window(now - window),
                    filter_subject=f"{topology.prefix}.work.{stage}.>",
                    name=f"guard:work-{stage}",
                )
            )
        classifier = LexiconStanceClassifier()
        handler = DraftHandler(
            state=state,
            publisher=ctx.publisher,
            clock=ctx.clock,
            classifier=classifier,
            judge=build_judge(settings, classifier),
        )
        ctx.consume("guard", handler)

    return setup


def main() -> None:
    configure_gc()
    settings = GuardSettings()
    Service("guard", settings, setup_for(settings)).main()


if __name__ == "__main__":
    main()
