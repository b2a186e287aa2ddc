"""The event log is the truth: lost acks, rebuilt projections, export and import, the wizard."""

from __future__ import annotations

from typing import Any

import nats.errors
import pytest
import yaml

from piyasa_common.acks import JetStreamAcks, acks_for
from piyasa_common.publisher import Publisher
from piyasa_config.domain.wizard import example_fleet
from piyasa_contracts import StreamRole
from piyasa_projector import rebuild
from tests.integration.config.conftest import (
    BOT_TOKEN,
    api_with_projector,
    config_settings,
)
from tests.support.backbone import stream_events

pytestmark = pytest.mark.integration


class LosesTheFirstAck:
    """Acked publishes whose first is stored but answered by a timeout."""

    def __init__(self, acks: JetStreamAcks) -> None:
        self._acks = acks
        self.lost = 0

    async def publish(self, *args: Any, **kwargs: Any) -> Any:
        ack = await self._acks.publish(*args, **kwargs)
        if self.lost == 0:
            self.lost += 1
            raise nats.errors.TimeoutError
        return ack


async def test_a_write_retried_after_a_lost_ack_succeeds_once_and_is_not_a_conflict(api):
    created = (await api.operator.post("/bots", json={"name": "A"})).json()
    flaky = LosesTheFirstAck(acks_for(api.js))
    api.state.events._publisher = Publisher(api.js, api.topology, acks=flaky)  # type: ignore[arg-type]

    answer = await api.operator.patch(
        f"/bots/{created['id']}", json={"name": "B"}, headers={"If-Match": str(created["version"])}
    )

    assert flaky.lost == 1
    assert answer.status_code == 200, answer.text
    events = await stream_events(
        api.js, api.topology, StreamRole.CONFIG, api.topology.config_subject("bot", created["id"])
    )
    assert [e.payload["name"] for e in events] == ["A", "B"]
    assert answer.json()["version"] == created["version"] + 1


async def populate(api) -> dict[str, Any]:
    """A small fleet through the API: the wizard, plus edits and deletions."""
    wizard = await api.operator.post(
        "/wizard/demo", json={"telegram_chat_id": -100777, "title": "Demo"}
    )
    assert wizard.status_code == 200, wizard.text
    extra = (await api.operator.post("/bots", json={"name": "Extra", "token": BOT_TOKEN})).json()
    gone = (await api.operator.post("/bots", json={"name": "Gone"})).json()
    await api.operator.delete(f"/bots/{gone['id']}")
    await api.operator.patch(f"/bots/{extra['id']}", json={"hourly_limit": 9})
    stances = (await api.viewer.get("/stances", params={"limit": 200})).json()["items"]
    await api.admin.patch(
        f"/stances/{stances[0]['id']}?force=true", json={"position": "bearish", "strength": 0.2}
    )
    await api.operator.patch("/settings", json={"values": {"min_gap_s": 45}})
    await api.operator.post(f"/control/chats/{wizard.json()['chat_id']}/pause")
    last = await api.operator.post("/control/fleet/start?wait=projected")
    assert last.status_code == 200
    return wizard.json()


READS = [
    "/bots?limit=200",
    "/chats?limit=200",
    "/stances?limit=200",
    "/holdings?limit=200",
    "/settings",
    "/control?limit=200",
    "/deaf-chats",
]


async def answers(api, paths: list[str]) -> dict[str, Any]:
    return {path: (await api.viewer.get(path)).json() for path in paths}


async def test_a_rebuilt_projection_gives_the_same_api_answers(api):
    wizard = await populate(api)
    paths = [*READS, *(f"/bots/{b}" for b in wizard["bot_ids"]), f"/chats/{wizard['chat_id']}"]
    paths += [f"/bots/{b}/state" for b in wizard["bot_ids"]]
    before = await answers(api, paths)

    report = await rebuild(api.settings, api.settings.database_url)
    assert report.total_events > 0
    await api.state.reader.wait_projected(
        api.stream(StreamRole.CONFIG), report.positions[api.stream(StreamRole.CONFIG)], 10
    )

    assert await answers(api, paths) == before


def _comparable(value: Any) -> Any:
    """An API answer without what differs between two installations by design."""
    if isinstance(value, dict):
        return {
            k: _comparable(v)
            for k, v in value.items()
            if k not in ("version", "updated_at", "has_token")
        }
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return value


async def test_export_then_import_into_empty_infrastructure_gives_the_same_answers(
    api, nats_url, database_url
):
    from piyasa_cli.embedded.postgres import create_database, drop_database

    await populate(api)
    exported = await api.viewer.get("/fleet/export")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/yaml")
    document = yaml.safe_load(exported.text)
    assert len(document["bots"]) == 5 and len(document["chats"]) == 1
    assert "token" not in exported.text and "token_ref" not in exported.text
    before = await answers(api, READS[:5])

    url = await create_database(database_url, "test_fleet_import_target")
    try:
        settings = config_settings(nats_url, "timportedfleet", url)
        async with api_with_projector(settings) as other:
            imported = await other.admin.post(
                "/fleet/import?wait=projected",
                content=exported.text.encode(),
                headers={"Content-Type": "application/yaml"},
            )
            assert imported.status_code == 200, imported.text
            assert imported.json()["created"]["bot"] == 5
            after = await answers(other, READS[:5])
            again = await other.admin.post(
                "/fleet/import",
                content=exported.text.encode(),
                headers={"Content-Type": "application/yaml"},
            )
            assert again.json()["created"] == {} and again.json()["updated"] == {}
    finally:
        await drop_database(database_url, "test_fleet_import_target")
    assert _comparable(after) == _comparable(before)


async def test_an_invalid_import_names_the_field(api):
    answer = await api.admin.post(
        "/fleet/import",
        content=b"piyasa_fleet: 1\nbots:\n  - id: b1\n    name: x\n    hourly_limit: -3\n",
        headers={"Content-Type": "application/yaml"},
    )
    assert answer.status_code == 422
    assert answer.json()["details"][0]["field"] == "bots.0.hourly_limit"
    not_yaml = await api.admin.post("/fleet/import", content=b"{{{")
    assert not_yaml.status_code == 422


async def test_the_wizard_completes_a_partial_run_and_creates_nothing_twice(api):
    fleet = example_fleet(
        "w1", telegram_chat_id=-4242, title="Demo", language="tr", now=api.state.clock.now()
    )
    # A first run that stopped after the bots and some stances.
    partial = type(fleet)(fleet.bots, fleet.stances[:3], [], fleet.chat)
    half = partial.in_order()[:-1]
    for state in half:
        from piyasa_config.domain.ids import wizard_event_id

        await api.state.writer.create(state, actor="test", event_id=wizard_event_id("w1", state.id))

    answer = await api.operator.post(
        "/wizard/w1?wait=projected", json={"telegram_chat_id": -4242, "title": "Demo"}
    )
    again = await api.operator.post("/wizard/w1", json={"telegram_chat_id": -4242, "title": "Demo"})

    assert answer.status_code == 200, answer.text
    total = len(fleet.in_order())
    assert sum(answer.json()["unchanged"].values()) == len(half)
    assert sum(answer.json()["created"].values()) == total - len(half)
    assert sum(again.json()["unchanged"].values()) == total
    events = await stream_events(api.js, api.topology, StreamRole.CONFIG)
    assert len(events) == total
    bots = (await api.viewer.get("/bots")).json()["items"]
    assert len({b["persona"]["tone"] for b in bots}) == 4
    chat = (await api.viewer.get(f"/chats/{answer.json()['chat_id']}")).json()
    assert chat["bot_ids"] == answer.json()["bot_ids"]
    other_chat = await api.operator.post("/chats", json={"telegram_chat_id": -4242, "title": "x"})
    assert other_chat.status_code == 409
