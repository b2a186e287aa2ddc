"""GET /turn-failures: turns that never reached the chat, newest first, from the projected
turn outcomes; paged without gaps or repeats, filtered, masked, and read through the
partial index built for it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import asyncpg
import pytest

from piyasa_common.publisher import Publisher
from piyasa_config.settings import asyncpg_dsn
from piyasa_config.store.turn_failures import failures_query
from piyasa_contracts import Envelope, EventKeys, make_event
from piyasa_contracts.envelope import Payload
from piyasa_contracts.events.conversation import (
    DispatchFailed,
    FailureAction,
    Sent,
    TurnDropped,
    TurnExpired,
    TurnStage,
)
from tests.integration.config.conftest import BOT_TOKEN, Api

pytestmark = pytest.mark.integration

INDEX = "turn_outcomes_failures"
"""The projector's partial index for failures (its definition: `test_projector_schema`)."""

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def failed(
    turn_id: str,
    bot_id: str = "b1",
    *,
    description: str = "Forbidden: bot was kicked from the group chat",
    code: int | None = 403,
    action: FailureAction = FailureAction.DISABLE_IN_CHAT,
) -> DispatchFailed:
    return DispatchFailed(
        turn_id=turn_id, bot_id=bot_id, action=action, error_code=code, description=description
    )


def expired(turn_id: str, reason: str = "deadline passed before generation") -> TurnExpired:
    return TurnExpired(turn_id=turn_id, stage=TurnStage.GENERATOR, reason=reason)


def dropped(turn_id: str, reason: str = "rejected at attempt 2: near_duplicate") -> TurnDropped:
    return TurnDropped(turn_id=turn_id, stage=TurnStage.GUARD, reason=reason)


def sent(turn_id: str, message_id: int, seconds: float, bot_id: str = "b1") -> Sent:
    return Sent(
        turn_id=turn_id,
        bot_id=bot_id,
        telegram_chat_id=-100500,
        telegram_message_id=message_id,
        text="Bence yükselir.",
        sent_at=at(seconds),
    )


def outcome(
    payload: Payload, seconds: float, *, chat_id: str = "c1", bot_id: str | None = "b1"
) -> Envelope:
    """The event a stage emits for a turn's end, `seconds` after T0, keyed as it keys it."""
    keys = EventKeys(chat_id=chat_id, bot_id=bot_id, turn_id=getattr(payload, "turn_id", None))
    return make_event(payload, occurred_at=at(seconds), keys=keys, actor="dispatcher")


async def record(api: Api, *events: Envelope) -> None:
    """Store the events, and wait until the projection has them."""
    publisher = Publisher(api.js, api.topology)
    last: dict[str, int] = {}
    for event in events:
        ack = await publisher.publish(event)
        last[ack.stream] = ack.seq
    for stream, seq in last.items():
        assert await api.state.reader.wait_projected(stream, seq, 10)


async def every_page(api: Api, limit: int, **filters: str) -> list[dict[str, Any]]:
    """Every item `/turn-failures` lists, following `next` to the end (as a viewer)."""
    items: list[dict[str, Any]] = []
    after = None
    while True:
        params: dict[str, Any] = {"limit": limit, **filters, **({"after": after} if after else {})}
        answer = await api.viewer.get("/turn-failures", params=params)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert len(page["items"]) <= limit
        items += page["items"]
        after = page["next"]
        if after is None:
            return items


async def turn_ids(api: Api, **params: Any) -> list[str]:
    """The turns one page lists."""
    answer = await api.viewer.get("/turn-failures", params=params)
    assert answer.status_code == 200, answer.text
    return [f["turn_id"] for f in answer.json()["items"]]


# ---------------------------------------------------------------- what is listed


async def test_a_viewer_sees_failed_expired_and_dropped_turns_newest_first(api: Api) -> None:
    await record(
        api,
        outcome(failed("t1", code=400, description="Bad Request: message is too long"), 1),
        outcome(expired("t2"), 2, bot_id="b2"),
        outcome(dropped("t3"), 3, chat_id="c2"),
        outcome(sent("t4", 40, 4), 4),
    )

    answer = await api.viewer.get("/turn-failures")

    assert answer.status_code == 200, answer.text
    page = answer.json()
    assert page["next"] is None
    assert page["items"] == [
        {
            "turn_id": "t3",
            "chat_id": "c2",
            "bot_id": "b1",
            "outcome": "dropped",
            "stage": "guard",
            "reason": "rejected at attempt 2: near_duplicate",
            "detail": None,
            "at": "2026-01-05T10:00:03Z",
        },
        {
            "turn_id": "t2",
            "chat_id": "c1",
            "bot_id": "b2",
            "outcome": "expired",
            "stage": "generator",
            "reason": "deadline passed before generation",
            "detail": None,
            "at": "2026-01-05T10:00:02Z",
        },
        {
            "turn_id": "t1",
            "chat_id": "c1",
            "bot_id": "b1",
            "outcome": "failed",
            "stage": "dispatcher",
            "reason": "disable_in_chat",
            "detail": "400 Bad Request: message is too long",
            "at": "2026-01-05T10:00:01Z",
        },
    ]


async def test_a_turn_that_reached_the_chat_is_never_listed(api: Api) -> None:
    await record(
        api,
        # Retried after a failure, then sent: the turn is sent.
        outcome(failed("retried", code=None, action=FailureAction.RETRY), 1),
        outcome(sent("retried", 10, 2), 2),
        # Sent, then a stage's late expiry of the same turn: still sent.
        outcome(sent("late", 11, 3), 3),
        outcome(expired("late", "deadline passed during generation"), 4),
        outcome(sent("plain", 12, 5, bot_id="b2"), 5, bot_id="b2"),
        outcome(dropped("lost"), 6, bot_id="b2"),
    )

    assert [f["turn_id"] for f in await every_page(api, 50)] == ["lost"]
    assert await turn_ids(api, outcome="failed") == []
    assert await turn_ids(api, outcome="expired") == []
    refused = await api.viewer.get("/turn-failures", params={"outcome": "sent"})
    assert refused.status_code == 422 and refused.json()["code"] == "invalid"


# ---------------------------------------------------------------- pages and filters


async def test_pages_follow_each_other_without_gaps_or_repeats_while_failures_arrive(
    api: Api,
) -> None:
    # Ten failures, three of them in the same microsecond: the turn id breaks the tie.
    times = [1, 2, 3, 3, 3, 4, 5, 6, 7, 8]
    await record(api, *(outcome(expired(f"t{i:02d}"), s) for i, s in enumerate(times)))
    expected = sorted(((at(s), f"t{i:02d}") for i, s in enumerate(times)), reverse=True)

    for limit in (1, 3, 4, 10, 11):
        listed = [
            (datetime.fromisoformat(f["at"]), f["turn_id"]) for f in await every_page(api, limit)
        ]
        assert listed == expected, limit

    first = (await api.viewer.get("/turn-failures", params={"limit": 4})).json()
    # Newer failures arrive between two pages: the next page goes on where this one ended.
    await record(api, outcome(dropped("newer"), 60), outcome(dropped("older"), 0))
    rest = (
        await api.viewer.get("/turn-failures", params={"limit": 50, "after": first["next"]})
    ).json()
    assert [f["turn_id"] for f in first["items"] + rest["items"]] == [
        *(turn for _, turn in expected),
        "older",
    ]
    assert rest["next"] is None


async def test_filters_by_chat_bot_and_outcome_combine(api: Api) -> None:
    await record(
        api,
        outcome(failed("f-c1-b1"), 1),
        outcome(failed("f-c2-b1"), 2, chat_id="c2"),
        outcome(failed("f-c1-b2", "b2"), 3, bot_id="b2"),
        outcome(expired("e-c1-b1"), 4),
        outcome(dropped("d-c2-b2"), 5, chat_id="c2", bot_id="b2"),
        outcome(dropped("d-c1-nobot"), 6, bot_id=None),
    )

    async def turns(**filters: str) -> list[str]:
        return [f["turn_id"] for f in await every_page(api, 2, **filters)]

    assert await turns(chat_id="c1") == ["d-c1-nobot", "e-c1-b1", "f-c1-b2", "f-c1-b1"]
    assert await turns(bot_id="b1") == ["e-c1-b1", "f-c2-b1", "f-c1-b1"]
    assert await turns(outcome="failed") == ["f-c1-b2", "f-c2-b1", "f-c1-b1"]
    assert await turns(outcome="dropped") == ["d-c1-nobot", "d-c2-b2"]
    assert await turns(chat_id="c1", bot_id="b1") == ["e-c1-b1", "f-c1-b1"]
    assert await turns(chat_id="c1", bot_id="b1", outcome="failed") == ["f-c1-b1"]
    assert await turns(chat_id="c3") == []
    bad = await api.viewer.get("/turn-failures", params={"chat_id": "no spaces"})
    assert bad.status_code == 422 and bad.json()["details"][0]["field"] == "chat_id"


async def test_a_cursor_is_read_as_the_place_it_names(api: Api) -> None:
    await record(api, *(outcome(expired(f"t{i}"), i) for i in range(3)))
    first = (await api.viewer.get("/turn-failures", params={"limit": 1})).json()
    t2_micros = (at(2) - EPOCH) // timedelta(microseconds=1)

    assert first["next"] == f"{t2_micros}_t2"  # the page's last row: its time and its turn
    assert await turn_ids(api, after=f"{t2_micros}_t2") == ["t1", "t0"]
    assert await turn_ids(api, after=f"{t2_micros}_t3") == ["t2", "t1", "t0"]  # t2 < t3
    # Beyond any time Python can hold, either way: every failure is older, or none is.
    assert await turn_ids(api, after="999999999999999999_x") == ["t2", "t1", "t0"]
    assert await turn_ids(api, after="-999999999999999999_x") == []
    for refused in ("t1", "12_", "_t1", "1.5_t1", "12_t 1", "1" * 19 + "_t1"):
        answer = await api.viewer.get("/turn-failures", params={"after": refused})
        assert answer.status_code == 422, refused
        assert answer.json()["details"][0]["field"] == "after"


# ---------------------------------------------------------------- secrets


async def test_a_secret_in_telegrams_text_or_a_reason_is_masked(api: Api) -> None:
    key = "sk-proj-" + "A1b2C3d4E5" * 4
    await record(
        api,
        outcome(failed("t1", code=404, description=f"Not Found: /bot{BOT_TOKEN}/sendMessage"), 1),
        outcome(dropped("t2", f"every provider failed: openai: invalid key {key}"), 2),
    )

    body = (await api.viewer.get("/turn-failures")).text

    assert BOT_TOKEN not in body and key not in body
    items = json.loads(body)["items"]
    assert items[0]["reason"] == "every provider failed: openai: invalid key [REDACTED]"
    assert items[1]["detail"] == "404 Not Found: /bot[REDACTED]/sendMessage"


# ---------------------------------------------------------------- the index


def _plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _plan_nodes(child)


def _literal(value: Any) -> str:
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


async def _plans(conn: asyncpg.Connection, sql: str, args: str) -> dict[str, list[dict[str, Any]]]:
    """The statement's plan nodes, top down, as prepared once (custom) and when generic.

    asyncpg prepares each statement; after a few runs PostgreSQL may plan it without
    its parameters' values, and the partial index must still be provably usable then.
    """
    plans = {}
    await conn.execute(f"PREPARE page AS {sql}")
    try:
        for mode in ("force_custom_plan", "force_generic_plan"):
            await conn.execute(f"SET plan_cache_mode = {mode}")
            explained = await conn.fetchval(f"EXPLAIN (FORMAT JSON) EXECUTE page({args})")
            plans[mode] = list(_plan_nodes(json.loads(explained)[0]["Plan"]))
    finally:
        await conn.execute("DEALLOCATE page; RESET plan_cache_mode")
    return plans


async def test_every_page_is_one_statement_over_the_failures_index(api: Api) -> None:
    # A fleet's worth of outcomes, nearly all of them sent, as in a real one: written
    # straight into the table, since the planner looks only at the rows and statistics.
    conn = await asyncpg.connect(asyncpg_dsn(api.settings.database_url))
    try:
        await conn.execute(
            "INSERT INTO turn_outcomes (turn_id, chat_id, bot_id, outcome, stage, at,"
            " event_id, stream_sequence)"
            " SELECT 'turn' || i, 'c' || (i % 40), 'b' || (i % 200),"
            "  CASE i % 25 WHEN 0 THEN 'failed' WHEN 1 THEN 'expired' WHEN 2 THEN 'dropped'"
            "  ELSE 'sent' END,"
            "  'dispatcher', now() - i * interval '1 second', 'e' || i, i"
            " FROM generate_series(1, 50000) AS i"
        )
        await conn.execute("ANALYZE turn_outcomes")
        values = {
            "chat_id": "c0",
            "bot_id": "b0",
            "outcome": "failed",
            "limit": 51,
            "at": datetime.now(UTC) - timedelta(hours=3),
            "turn_id": "turn10800",
        }
        for filters in ((), ("outcome",), ("bot_id",), ("chat_id",), ("bot_id", "outcome")):
            for after in (False, True):
                build = partial(failures_query, filters, after=after)
                sql, names = api.pg.compiled(("explain", filters, after), build)
                plans = await _plans(conn, sql, ", ".join(_literal(values[n]) for n in names))
                for mode, nodes in plans.items():
                    where = (filters, after, mode, [n["Node Type"] for n in nodes])
                    assert "Seq Scan" not in where[3], where
                    scan = next(n for n in nodes if n.get("Index Name") == INDEX)
                    if after:  # the scan starts at the cursor instead of reading up to it
                        assert scan["Index Cond"].startswith("(ROW(at, turn_id) < ROW("), where
                    if filters in ((), ("outcome",)):  # what the dashboard asks
                        assert where[3] == ["Limit", "Index Scan"], where
                        assert scan["Scan Direction"] == "Forward", where  # no sort: in order
    finally:
        await conn.close()
