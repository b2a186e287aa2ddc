# ruff: noqa: RUF001  (Turkish text on purpose)
"""The operators' dashboard: its files and headers, the API calls its script makes, the
views written for it, and (opt-in) a real browser signing in and watching a chat."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pyotp
import pytest

from piyasa_common.clock import SystemClock
from piyasa_common.heartbeat import HeartbeatWriter
from piyasa_common.http import HealthServer
from piyasa_common.publisher import Publisher
from piyasa_common.sealing import DataKeys
from piyasa_config.auth.roles import Role
from piyasa_config.dashboard import CONTENT_SECURITY_POLICY
from piyasa_config.main import Fallback
from piyasa_contracts import EventKeys, make_event
from piyasa_contracts.events.config import BotStatusChanged, TokenCheck
from piyasa_contracts.events.conversation import (
    DispatchFailed,
    FailureAction,
    IncomingMessage,
    Sent,
    TurnDropped,
    TurnStage,
)
from tests.integration.config.conftest import Api

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/lib/chromium/chromium")
SCREENSHOT = Path(__file__).resolve().parents[3] / "docs" / "img" / "dashboard.png"
PASSWORD = "dashboard horse battery"


# ---------------------------------------------------------------- helpers


class _Page(HTMLParser):
    """What a strict CSP cares about in the HTML: scripts, inline code and styles, links."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.stylesheets: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script":
            self.scripts.append(named)
            self._in_script = True
        if tag == "style":
            self.inline.append("<style>")
        if tag == "link" and named.get("rel") == "stylesheet":
            self.stylesheets.append(named.get("href") or "")
        for name, _ in attrs:
            if name == "style" or name.startswith("on"):
                self.inline.append(f"{tag} {name}=")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append("script body")


_CALL = re.compile(r"""\bapi\(\s*"([A-Z]+)",\s*(?:"([^"]*)"|`([^`]*)`)""")


def script_calls(script: str) -> set[tuple[str, str]]:
    """Every `api("METHOD", path)` in the script, as (method, path with `{}` for each
    interpolated segment, query dropped)."""
    calls = set()
    for method, plain, template in _CALL.findall(script):
        path = re.sub(r"\$\{[^}]*\}", "{}", plain or template).split("?")[0]
        path = re.sub(r"\{\}(\{\})+", "{}", path)  # `${a}${b}` in one segment is one value
        calls.add((method, path))
    return calls


def documented(openapi: dict[str, Any], method: str, path: str) -> str | None:
    """The OpenAPI path template this call lands on, if any."""
    parts = path.strip("/").split("/")
    for template, operations in openapi["paths"].items():
        if method.lower() not in operations:
            continue
        segments = template.strip("/").split("/")
        if len(segments) == len(parts) and all(
            p == s or (p == "{}" and s.startswith("{"))
            for p, s in zip(parts, segments, strict=True)
        ):
            return str(template)
    return None


async def publish(
    api: Api, *payloads: Any, chat_id: str | None = None, bot_id: str | None = None
) -> None:
    """Store events as the dispatcher would, and wait until the projection has them."""
    publisher = Publisher(api.js, api.topology)
    sequences: dict[str, int] = {}
    for payload in payloads:
        event = make_event(
            payload,
            occurred_at=datetime.now(UTC),
            keys=EventKeys(chat_id=chat_id, bot_id=bot_id),
            actor="dispatcher",
        )
        ack = await publisher.publish(event)
        sequences[ack.stream] = ack.seq
    for stream, seq in sequences.items():
        assert await api.state.reader.wait_projected(stream, seq, 10)


async def run_wizard(api: Api, wizard_id: str, telegram_chat_id: int) -> dict[str, Any]:
    answer = await api.operator.post(
        f"/wizard/{wizard_id}?wait=projected",
        json={"telegram_chat_id": telegram_chat_id, "title": "Borsa Sohbet"},
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def sent(bot_id: str, telegram_chat_id: int, message_id: int, text: str, at: datetime) -> Sent:
    return Sent(
        turn_id=f"turn{message_id}",
        bot_id=bot_id,
        telegram_chat_id=telegram_chat_id,
        telegram_message_id=message_id,
        text=text,
        sent_at=at,
    )


# ---------------------------------------------------------------- the files


async def test_the_page_and_its_assets_are_served_with_their_types_and_a_strict_policy(
    shared_api: Api,
) -> None:
    anonymous = shared_api.client()
    root = await anonymous.get("/")
    assert root.status_code == 302 and root.headers["location"] == "/dashboard/"
    bare = await anonymous.get("/dashboard")
    assert bare.status_code == 302 and bare.headers["location"] == "/dashboard/"

    page = await anonymous.get("/dashboard/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    policy = dict(
        (d.split()[0], d.split()[1:]) for d in page.headers["content-security-policy"].split("; ")
    )
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"] and policy["frame-ancestors"] == ["'none'"]
    assert page.headers["x-content-type-options"] == "nosniff"

    parsed = _Page()
    parsed.feed(page.text)
    assert parsed.inline == [], "inline code or style would need 'unsafe-inline'"
    assert [s.get("src") for s in parsed.scripts] == ["/dashboard/app.js"]
    assert parsed.stylesheets == ["/dashboard/style.css"]
    assert "http://" not in page.text and "https://" not in page.text

    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        asset = await anonymous.get(f"/dashboard/{name}")
        assert asset.status_code == 200
        assert asset.headers["content-type"] == f"{kind}; charset=utf-8"
        assert asset.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert asset.headers["x-content-type-options"] == "nosniff"

    missing = await anonymous.get("/dashboard/secrets.txt")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert (await anonymous.get("/dashboard/index.html")).status_code == 404


async def test_the_script_writes_no_html_and_talks_only_to_this_origin(shared_api: Api) -> None:
    script = (await shared_api.client().get("/dashboard/app.js")).text
    for risky in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert risky not in script, risky
    assert "new Function" not in script
    urls = set(re.findall(r"https?://[^\s\"'`]+", script))
    assert urls == {"http://www.w3.org/2000/svg"}  # a namespace name, never fetched
    assert script.count("fetch(") == 1, "every request goes through api()"
    assert "localStorage" not in script, "the session token lives only as long as the tab"


async def test_every_api_call_in_the_script_is_in_the_openapi_document(shared_api: Api) -> None:
    script = (await shared_api.client().get("/dashboard/app.js")).text
    openapi = shared_api.app.openapi()
    calls = script_calls(script)
    assert {
        ("POST", "/auth/login"),
        ("POST", "/auth/logout"),
        ("GET", "/auth/me"),
        ("GET", "/bot-states"),
        ("GET", "/chat-states"),
        ("GET", "/chats/{}/messages"),
        ("GET", "/control/fleet"),
        ("POST", "/control/fleet/{}"),
        ("POST", "/control/chats/{}/{}"),
        ("POST", "/control/bots/{}/{}"),
        ("POST", "/wizard/{}"),
        ("GET", "/system/heartbeats"),
        ("GET", "/system/queues"),
        ("GET", "/deaf-chats"),
        ("GET", "/dead-letters"),
        ("GET", "/turn-failures"),
    } <= calls
    undocumented = {c for c in calls if documented(openapi, *c) is None}
    assert undocumented == set()


# ---------------------------------------------------------------- roles


async def test_a_viewer_reads_what_the_dashboard_shows_but_none_of_its_controls_succeed(
    api: Api,
) -> None:
    fleet = await run_wizard(api, "roles", -100321)
    script = (await api.client().get("/dashboard/app.js")).text
    openapi = api.app.openapi()
    values = {
        "chat_id": fleet["chat_id"],
        "bot_id": fleet["bot_ids"][0],
        "action": "stop",
        "wizard_id": "viewer-try",
    }
    bodies = {"/wizard/{wizard_id}": {"telegram_chat_id": -100322}}
    operator_reads = {"/dead-letters"}  # the page hides them from viewers

    tried_writes = []
    for method, path in sorted(script_calls(script)):
        template = documented(openapi, method, path)
        assert template is not None
        url = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)
        if template in ("/auth/login", "/auth/logout"):
            continue  # the way in and out, open to every role
        answer = await api.viewer.request(method, url, json=bodies.get(template))
        if method == "GET":
            expected = 403 if template in operator_reads else 200
            assert answer.status_code == expected, (url, answer.text)
        else:
            assert answer.status_code == 403, (url, answer.text)
            assert answer.json()["code"] == "forbidden"
            tried_writes.append((method, url, bodies.get(template)))

    assert len(tried_writes) >= 4
    assert (await api.viewer.get("/control/fleet")).json()["state"] == "running"
    state = (await api.viewer.get(f"/bots/{fleet['bot_ids'][0]}/state")).json()
    assert state["control"] == "running"
    assert (await api.viewer.get("/chats")).json()["items"][0]["id"] == fleet["chat_id"]

    for method, url, body in tried_writes:  # the same calls work for an operator
        answer = await api.operator.request(method, url, json=body)
        assert answer.status_code == 200, (url, answer.text)


# ---------------------------------------------------------------- the views it reads


async def test_bot_states_give_each_bots_state_with_its_strongest_stances(api: Api) -> None:
    fleet = await run_wizard(api, "states", -100400)
    first, second = fleet["bot_ids"][:2]
    await publish(
        api,
        BotStatusChanged(
            id=first,
            token_check=TokenCheck.VERIFIED,
            telegram_user_id=7012345678,
            telegram_username="kemal_bot",
            can_read_all_group_messages=True,
            checked_at=datetime.now(UTC),
        ),
        bot_id=first,
    )
    paused = await api.operator.post(f"/control/bots/{second}/pause?wait=projected")
    assert paused.status_code == 200, paused.text

    items, after = [], None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"after": after} if after else {})}
        page = (await api.viewer.get("/bot-states", params=params)).json()
        items += page["items"]
        after = page["next"]
        if after is None:
            break
    assert sorted(i["bot"]["id"] for i in items) == sorted(fleet["bot_ids"])

    for item in items:
        one = (await api.viewer.get(f"/bots/{item['bot']['id']}/state")).json()
        top = item.pop("top_stances")
        assert item == one
        assert 0 < len(top) <= min(3, one["stances"])
        strengths = [s["strength"] for s in top]
        assert strengths == sorted(strengths, reverse=True)
        stances = (await api.viewer.get("/stances", params={"bot_id": one["bot"]["id"]})).json()
        assert max(s["strength"] for s in stances["items"]) == strengths[0]

    by_id = {i["bot"]["id"]: i for i in items}
    assert by_id[first]["can_hear_humans"] is True
    assert by_id[first]["telegram"]["token_check"] == "verified"
    assert by_id[second]["control"] == "paused"


async def test_chat_states_count_messages_per_minute_from_the_projection(api: Api) -> None:
    fleet = await run_wizard(api, "activity", -100500)
    chat, bot = fleet["chat_id"], fleet["bot_ids"][0]
    now = datetime.now(UTC)
    keys = DataKeys(api.js, api.topology)
    human = IncomingMessage(
        person_id="p1",
        via_bot_id=bot,
        telegram_chat_id=-100500,
        telegram_message_id=3,
        update_id=1,
        sender_name=await keys.seal("p1", "Ayşe"),
        text=await keys.seal("p1", "dolar ne olur?"),
        date=now - timedelta(minutes=10),
    )
    at = [now, now, now - timedelta(minutes=5), now - timedelta(hours=2)]
    await publish(
        api,
        human,
        *(sent(bot, -100500, 10 + i, f"mesaj {i}", t) for i, t in enumerate(at)),
        chat_id=chat,
    )

    page = (await api.viewer.get("/chat-states", params={"minutes": 60})).json()
    (item,) = page["items"]
    activity = item["activity"]
    since = datetime.fromisoformat(activity["since"])
    assert activity["bucket_s"] == 60
    assert len(activity["bot"]) == len(activity["human"]) == 60
    assert (since.second, since.microsecond) == (0, 0)
    assert now - timedelta(minutes=60) < since <= datetime.now(UTC) - timedelta(minutes=59)

    def minute(t: datetime) -> int:
        return int((t - since).total_seconds() // 60)

    expected_bot = [0] * 60
    for t in at[:3]:  # the one two hours ago is outside the window
        expected_bot[minute(t)] += 1
    expected_human = [0] * 60
    expected_human[minute(human.date)] = 1
    assert activity["bot"] == expected_bot
    assert activity["human"] == expected_human
    assert item["chat"] == (await api.viewer.get(f"/chats/{chat}")).json()
    assert item["control"] == "running"

    assert (
        await api.operator.post(f"/control/chats/{chat}/stop?wait=projected")
    ).status_code == 200
    (item,) = (await api.viewer.get("/chat-states")).json()["items"]
    assert item["control"] == "stopped"
    assert (await api.viewer.get("/chat-states", params={"minutes": 4})).status_code == 422
    narrow = (await api.viewer.get("/chat-states", params={"minutes": 5})).json()
    assert sum(narrow["items"][0]["activity"]["bot"]) == 2  # five minutes ago is just outside


async def test_the_fleet_control_reads_running_until_an_operator_sets_it(api: Api) -> None:
    never = (await api.viewer.get("/control/fleet")).json()
    assert (never["state"], never["version"]) == ("running", 0)
    assert (await api.operator.post("/control/fleet/pause?wait=projected")).status_code == 200
    paused = (await api.viewer.get("/control/fleet")).json()
    assert paused["state"] == "paused" and paused["version"] > 0


# ---------------------------------------------------------------- a real browser


@asynccontextmanager
async def served(api: Api) -> AsyncIterator[str]:
    """The API on a real socket, mounted as the service's main mounts it."""
    server = HealthServer("config-dashboard-test")
    server.add_route(Fallback(api.app))
    await server.start("127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        await server.stop()


@pytest.mark.skipif(
    os.environ.get("PIYASA_BROWSER_TESTS") != "1" or not CHROMIUM.exists(),
    reason="needs PIYASA_BROWSER_TESTS=1, Debian's chromium and the playwright package",
)
async def test_an_operator_signs_in_runs_the_wizard_and_watches_the_chat(api: Api) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    created = await api.state.auth.create_operator(
        "ayse", Role.OPERATOR, PASSWORD, now=api.state.clock.now()
    )
    assert created.totp_uri is not None
    totp = pyotp.parse_uri(created.totp_uri)

    async with served(api) as base, playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = await browser.new_page(viewport={"width": 1360, "height": 900})
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))

            await page.goto(base + "/")
            await page.fill("#username", "ayse")
            await page.fill("#password", PASSWORD)
            await page.fill("#otp", totp.now())
            await page.click("#sign-in")
            await page.wait_for_selector("#me >> text=ayse · operator")

            await page.click("#open-wizard")
            await page.fill("#wizard-chat", "-1001234567890")
            await page.click("#wizard-run")
            await page.wait_for_selector("#bots >> text=Kemal Bey")
            assert await page.locator("#bots tr").count() == 4

            chat = (await api.viewer.get("/chats")).json()["items"][0]
            bots = (await api.viewer.get("/bot-states")).json()["items"]
            now = datetime.now(UTC)
            keys = DataKeys(api.js, api.topology)
            human = IncomingMessage(
                person_id="p1",
                via_bot_id=bots[0]["bot"]["id"],
                telegram_chat_id=chat["telegram_chat_id"],
                telegram_message_id=1,
                update_id=1,
                sender_name=await keys.seal("p1", "Mehmet"),
                text=await keys.seal("p1", "Altın bu hafta ne yapar sizce?"),
                date=now - timedelta(minutes=14),
            )
            lines = [
                "Faiz kararı öncesi temkinli olmak lazım...",
                "BTC zincir üstü verilere göre birikim var 🚀",
                "Altında uzun vadeli düşünüyorum, acele yok.",
                "Endeks 10.000 direncini zorlar mı, izliyorum.",
            ]
            talk = [
                sent(
                    bots[i % len(bots)]["bot"]["id"],
                    chat["telegram_chat_id"],
                    10 + i,
                    lines[i % len(lines)],
                    now - timedelta(minutes=13 - i * 1.5),
                )
                for i in range(9)
            ]
            await publish(api, human, *talk, chat_id=chat["id"])
            too_long = DispatchFailed(
                turn_id="turn-long",
                bot_id=bots[1]["bot"]["id"],
                action=FailureAction.DROP,
                error_code=400,
                description="Bad Request: message is too long",
            )
            await publish(api, too_long, chat_id=chat["id"], bot_id=bots[1]["bot"]["id"])
            repeated = TurnDropped(
                turn_id="turn-dup",
                stage=TurnStage.GUARD,
                reason="rejected at attempt 2: near_duplicate",
            )
            await publish(api, repeated, chat_id=chat["id"], bot_id=bots[2]["bot"]["id"])
            for service in ("scheduler", "generator", "guard", "dispatcher", "projector"):
                await HeartbeatWriter(
                    api.js,
                    api.topology,
                    service=service,
                    instance=f"{service}-0",
                    version="0.1.0",
                    clock=SystemClock(),
                    interval_s=5,
                    status=lambda: (True, 0),
                ).beat()

            await page.wait_for_selector("#messages >> text=Altın bu hafta ne yapar sizce?")
            await page.wait_for_selector(f"#messages >> text={lines[0]}")
            await page.wait_for_selector("#chart rect.bar.human")
            await page.wait_for_selector("#heartbeats >> text=dispatcher-0")
            failure = page.locator("#failures tr", has_text="message is too long")
            await failure.wait_for()
            assert chat["title"] in await failure.inner_text()  # named, not shown by id
            assert bots[1]["bot"]["name"] in await failure.inner_text()
            await page.wait_for_selector("#failures >> text=rejected at attempt 2: near_duplicate")

            await page.click("#bots tr:nth-child(2) .ctl-pause")
            await page.wait_for_selector("#bots tr:nth-child(2) .state.paused")
            assert problems == []  # a CSP violation would be a console error
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SCREENSHOT), full_page=True)

            viewer = await browser.new_page()
            await viewer.goto(base + "/dashboard/")
            await viewer.click("#tab-key")
            await viewer.fill("#api-key", api.keys[Role.VIEWER])
            await viewer.click("#sign-in")
            await viewer.wait_for_selector("#bots >> text=Kemal Bey")
            assert not await viewer.locator("#open-wizard").is_visible()
            assert await viewer.locator(".ctl").count() == 0
            assert await viewer.locator("#dead-letters-note").is_visible()
        finally:
            await browser.close()
