"""The fleet's settings, as the config API stores them, change what the generator does."""

# ruff: noqa: RUF001 -- Turkish text: the dotless i is a letter, not a look-alike.

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from piyasa_common.clock import ManualClock
from piyasa_contracts import Envelope, decode, encode, make_event
from piyasa_contracts.events._common import ChatLine
from piyasa_contracts.events.config import SettingsChanged
from piyasa_contracts.events.work import Drafted
from piyasa_contracts.fleet_settings import SETTINGS_ID, FleetSettings
from piyasa_contracts.registry import Event
from piyasa_generator.budget import Limits
from piyasa_generator.fleet import FleetKnobs
from piyasa_generator.handler import GenerationHandler, clean_for
from piyasa_generator.pricing import PriceTable
from piyasa_generator.providers.base import Completion, Job
from piyasa_generator.router import Policy, Router
from piyasa_generator.settings import GeneratorSettings
from tests.unit.generator.builders import generation_request, request_envelope

NOW = datetime(2026, 1, 5, 9, tzinfo=UTC)
LONG = "BTC bence yukarı gider. " * 20  # 480 characters, in sentences


def process_settings(**values: Any) -> GeneratorSettings:
    return GeneratorSettings(instance_id="t", history_lines=20, **values)


def config_event(payload: SettingsChanged) -> Event:
    return Event(make_event(payload, occurred_at=NOW), payload)


def fleet_settings(**knobs: Any) -> Event:
    """The fleet's settings as the config API stores them: every knob, defaulted."""
    values = FleetSettings(**knobs).model_dump(mode="json")
    return config_event(SettingsChanged(id=SETTINGS_ID, values=values))


def test_until_the_fleets_settings_are_written_the_process_settings_stand() -> None:
    knobs = FleetKnobs(
        process_settings(
            provider_daily_budget_usd=7.0,
            provider_daily_budget_overrides={"groq": 3.0},
            bot_daily_budget_usd=0.5,
            llm_rpm={"groq": 30},
        )
    )
    assert (knobs.history_lines(), knobs.max_message_chars()) == (20, None)
    assert knobs.limits("groq") == Limits(rpm=30, daily_usd=3.0, bot_daily_usd=0.5)
    assert knobs.limits("openai") == Limits(daily_usd=7.0, bot_daily_usd=0.5)


def test_the_fleets_settings_override_history_length_and_budgets() -> None:
    knobs = FleetKnobs(process_settings(provider_daily_budget_usd=7.0, llm_rpm={"groq": 30}))

    knobs.apply_config(
        fleet_settings(
            context_messages=4,
            max_message_chars=120,
            daily_budget_usd_per_provider={"groq": 2.5, "openai": 0.0},
            daily_budget_usd_per_bot=0.25,
        ),
        1,
    )

    assert (knobs.history_lines(), knobs.max_message_chars()) == (4, 120)
    assert knobs.limits("groq") == Limits(rpm=30, daily_usd=2.5, bot_daily_usd=0.25)
    assert knobs.limits("openai").daily_usd == 0.0  # named with 0: no budget
    assert knobs.limits("gemini").daily_usd == 7.0  # not named: the process setting


@pytest.mark.parametrize(
    "values",
    [
        {"id": "global", "values": {"context_messages": 4}},
        {"id": SETTINGS_ID, "deleted": True, "values": {"context_messages": 4}},
        {"id": SETTINGS_ID, "values": {"context_messages": -4}},
    ],
    ids=["another aggregate", "deleted", "invalid"],
)
def test_only_the_fleets_valid_settings_are_taken(values: dict[str, Any]) -> None:
    knobs = FleetKnobs(process_settings())
    knobs.apply_config(fleet_settings(context_messages=9), 1)
    knobs.apply_config(config_event(SettingsChanged.model_validate(values)), 2)
    assert knobs.history_lines() == 9


@dataclass
class Writer:
    """A provider that always answers at length, and keeps the jobs it was given."""

    name: str = "openai"
    model: str = "gpt-4o-mini"
    key_id: str = "k"
    priced: bool = True
    governed: bool = True
    jobs: list[Job] = field(default_factory=list)

    async def complete(self, job: Job) -> Completion:
        self.jobs.append(job)
        return Completion(LONG, self.model, 100, 200, 0)

    async def aclose(self) -> None:
        return None


class Publisher:
    def __init__(self) -> None:
        self.published: list[Envelope] = []

    async def publish(self, envelope: Envelope) -> Any:
        self.published.append(envelope)


def history(n: int) -> list[ChatLine]:
    return [
        ChatLine(
            ref=f"line{i}",
            author_id=f"m{i}",
            author_kind="human",
            author_name=f"Üye {i}",
            text=f"satır numara {i}",
            telegram_message_id=100 + i,
            sent_at=NOW - timedelta(minutes=n - i),
        )
        for i in range(n)
    ]


async def generate(knobs: FleetKnobs) -> tuple[Writer, Drafted]:
    writer, publisher = Writer(), Publisher()
    router = Router(
        [writer],  # type: ignore[list-item]
        None,
        limits=knobs.limits,
        prices=PriceTable(),
        policy=Policy(),
        clock=ManualClock(NOW),
        cleaner=clean_for,
    )
    handler = GenerationHandler(
        router=router,
        publisher=publisher,  # type: ignore[arg-type]
        clock=ManualClock(NOW),
        settings=process_settings(),
        knobs=knobs,
    )
    request = generation_request(now=NOW, reply=False).model_copy(update={"history": history(8)})
    event = decode(encode(request_envelope(request)))
    await handler(event, SimpleNamespace(num_delivered=1))  # type: ignore[arg-type]
    [draft] = publisher.published
    return writer, Drafted.model_validate(draft.payload)


async def test_the_fleets_max_message_chars_caps_what_is_asked_for_and_kept() -> None:
    knobs = FleetKnobs(process_settings())
    _, uncapped = await generate(knobs)
    assert len(uncapped.text) > 100  # the request's own style allows 280

    knobs.apply_config(fleet_settings(max_message_chars=100), 1)
    writer, draft = await generate(knobs)

    [job] = writer.jobs
    assert "at most 100 characters" in job.prompt.system
    assert job.max_tokens == 50
    assert len(draft.text) <= 100
    assert draft.request.style.max_chars == 100  # the guard checks the same limit


async def test_the_fleets_context_messages_is_the_history_the_prompt_includes() -> None:
    knobs = FleetKnobs(process_settings())
    knobs.apply_config(fleet_settings(context_messages=3), 1)

    writer, _ = await generate(knobs)

    prompt = writer.jobs[0].prompt.user
    assert [f"satır numara {i}" in prompt for i in range(8)] == [False] * 5 + [True] * 3
