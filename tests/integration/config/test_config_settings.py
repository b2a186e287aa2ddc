"""The fleet's settings, written through the real config API, reach the services that own
them: each service's own fold of the CONFIG stream takes them, and the stance writes the
config service accepts follow `stance_cooldown_h`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest

from piyasa_common.state import Apply, StartAt, StreamFollower
from piyasa_contracts import StreamRole
from piyasa_generator.fleet import FleetKnobs
from piyasa_generator.settings import GeneratorSettings
from piyasa_guard.bootstrap import build_state as guard_state
from piyasa_guard.settings import GuardSettings
from piyasa_scheduler.harness import MemoAnalyzer, SimulatedUnsealer
from piyasa_scheduler.state import FleetState
from tests.integration.config.conftest import Api
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


@asynccontextmanager
async def following(api: Api, apply: Apply, name: str) -> AsyncIterator[StreamFollower]:
    """A service's fold of CONFIG, as its `main` wires it: the last event per subject, live."""
    follower = StreamFollower(
        api.js, api.topology, stream=StreamRole.CONFIG, apply=apply,
        start=StartAt.last_per_subject(), name=name,
    )  # fmt: skip
    await follower.start()
    try:
        yield follower
    finally:
        await follower.stop()


async def test_a_settings_patch_reaches_the_scheduler_the_guard_and_the_generator(api: Api):
    scheduler = FleetState(MemoAnalyzer(), SimulatedUnsealer())
    guard = guard_state(GuardSettings(instance_id="t", guard_max_attempts=2))
    generator = FleetKnobs(GeneratorSettings(instance_id="t", bot_daily_budget_usd=0.5))
    first = await api.operator.patch("/settings", json={"values": {"min_gap_s": 30}})
    assert first.status_code == 200, first.text

    async with (
        following(api, scheduler.apply_config, "scheduler:config"),
        following(api, guard.apply_config, "guard:config"),
        following(api, generator.apply_config, "generator:settings"),
    ):
        await eventually(lambda: scheduler.policy.min_gap_s == 30, message="loaded at start")

        patched = await api.operator.patch(
            "/settings",
            json={
                "values": {
                    "min_gap_s": 45,
                    "gap_jitter": 0.5,
                    "turns_in_flight_per_chat": 2,
                    "context_messages": 7,
                    "dedup_threshold": 0.6,
                    "dedup_window_messages": 50,
                    "guard_max_retries": 4,
                    "max_message_chars": 300,
                    "daily_budget_usd_per_bot": 0.3,
                    "daily_budget_usd_per_provider": {"groq": 2.0},
                }
            },
        )
        assert patched.status_code == 200, patched.text

        await eventually(lambda: scheduler.policy.min_gap_s == 45, message="scheduler folded")
        await eventually(lambda: guard.max_attempts() == 4, message="guard folded")
        await eventually(lambda: generator.history_lines() == 7, message="generator folded")

    p = scheduler.policy
    assert (p.gap_shape, p.turns_in_flight, p.history_lines) == (4.0, 2, 7)
    assert (guard.index.threshold, guard.index.chat_window.count) == (0.6, 50)
    assert guard.policy("c1").max_message_chars == 300
    assert generator.max_message_chars() == 300
    assert (generator.limits("groq").daily_usd, generator.limits("groq").bot_daily_usd) == (
        2.0,
        0.3,
    )


async def test_a_stance_flip_gets_the_fleets_stance_cooldown(api: Api):
    bot = (await api.operator.post("/bots", json={"name": "Ayşe"})).json()
    patched = await api.operator.patch("/settings", json={"values": {"stance_cooldown_h": 6}})
    assert patched.status_code == 200, patched.text
    stance = (
        await api.operator.post(
            "/stances",
            json={"bot_id": bot["id"], "topic": "BTC/USD", "position": "bullish", "strength": 0.8},
        )
    ).json()
    assert stance["cooldown_until"] is None

    before = datetime.now(UTC)
    flip = await api.operator.patch(f"/stances/{stance['id']}", json={"position": "bearish"})
    after = datetime.now(UTC)

    assert flip.status_code == 200, flip.text
    until = datetime.fromisoformat(flip.json()["cooldown_until"])
    assert before + timedelta(hours=6) <= until <= after + timedelta(hours=6)
    back = await api.operator.patch(f"/stances/{stance['id']}", json={"position": "bullish"})
    assert back.status_code == 409 and back.json()["code"] == "stance_cooldown"
    named = await api.admin.patch(
        f"/stances/{stance['id']}?force=true",
        json={"position": "bullish", "cooldown_until": None},
    )
    assert named.status_code == 200 and named.json()["cooldown_until"] is None
