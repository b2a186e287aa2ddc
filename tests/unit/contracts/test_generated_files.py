"""The committed JSON Schemas and AsyncAPI document are what the models generate."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from piyasa_contracts import ALL_EVENTS, CONSUMERS, STREAMS, Topology, generate
from piyasa_contracts.asyncapi import SCHEMAS_DIR, channel_address, channel_id, schema_id
from piyasa_contracts.generate import ASYNCAPI_FILE, CONTRACTS_ROOT
from piyasa_contracts.json_schemas import DIALECT, schema_file_name
from piyasa_contracts.producers import producers_of
from piyasa_contracts.subscriptions import subject_template


def test_committed_files_do_not_drift_from_the_models() -> None:
    assert generate.drift() == [], "run `python -m piyasa_contracts.generate` and commit"
    assert generate.main(["--check"]) == 0


def test_generation_is_byte_for_byte_deterministic() -> None:
    assert generate.render() == generate.render()


def test_check_names_changed_missing_and_stale_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert generate.main(["--root", str(tmp_path)]) == 0
    assert generate.main(["--check", "--root", str(tmp_path)]) == 0

    (tmp_path / ASYNCAPI_FILE).write_text("asyncapi: 0.0.0\n")
    (tmp_path / SCHEMAS_DIR / "chat.changed.v1.json").unlink()
    (tmp_path / SCHEMAS_DIR / "bot.changed.v1.json").write_text("{}\n")
    capsys.readouterr()

    assert generate.main(["--check", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    for path in (ASYNCAPI_FILE, "schemas/chat.changed.v1.json", "schemas/bot.changed.v1.json"):
        assert path in err

    generate.main(["--root", str(tmp_path)])
    assert generate.drift(tmp_path) == []
    assert not (tmp_path / SCHEMAS_DIR / "bot.changed.v1.json").exists()


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: e.event_type)
def test_event_schema_pins_type_and_version_and_types_the_payload(event: Any) -> None:
    schema = json.loads((CONTRACTS_ROOT / SCHEMAS_DIR / schema_file_name(event)).read_text())
    assert schema["$schema"] == DIALECT
    assert schema["properties"]["type"]["const"] == event.event_type
    assert schema["properties"]["version"]["const"] == event.version
    payload_ref = schema["properties"]["payload"]["$ref"]
    assert _resolve(schema, payload_ref)["title"] == event.__name__


def _asyncapi() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((CONTRACTS_ROOT / ASYNCAPI_FILE).read_text())
    return doc


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_every_asyncapi_reference_resolves() -> None:
    doc = _asyncapi()
    assert doc["asyncapi"] == "3.0.0"
    for ref in _refs(doc):
        if ref.startswith("#/"):
            _resolve(doc, ref)
        else:
            assert (CONTRACTS_ROOT / ref).is_file(), ref


def test_every_event_is_a_message_on_its_streams_channel_with_a_producer() -> None:
    doc = _asyncapi()
    for event in ALL_EVENTS:
        channel = doc["channels"][channel_id(event.stream)]
        assert event.event_type in channel["messages"]
        message = doc["components"]["messages"][event.event_type]
        assert message["payload"]["$ref"] == f"#/components/schemas/{schema_id(event)}"
        assert producers_of(event), f"nobody sends {event.event_type}"
        assert message["x-producers"] == [s.value for s in producers_of(event)]


def test_channel_addresses_cover_the_subjects_events_are_published_on() -> None:
    for event in ALL_EVENTS:
        stream = next(s for s in STREAMS if s.role is event.stream)
        # Any parameter of the address may stand for any one token.
        pattern = re.escape(channel_address(stream)).replace(r"\{", "{").replace(r"\}", "}")
        pattern = re.sub(r"\{\w+\}", r"[^.]+", pattern)
        assert re.fullmatch(pattern, subject_template(event)), event.event_type


def test_streams_retention_and_durable_consumers_are_documented() -> None:
    doc = _asyncapi()
    for stream in STREAMS:
        assert doc["channels"][channel_id(stream.role)]["x-stream"]["max_age_s"] == stream.max_age_s
    defaults = Topology()
    for spec in CONSUMERS:
        operation = doc["operations"][f"{spec.name}.receive"]
        assert operation["action"] == "receive"
        assert operation["channel"]["$ref"] == f"#/channels/{channel_id(spec.stream)}"
        assert operation["messages"], f"{spec.name} receives nothing"
        consumer = operation["x-consumer"]
        assert consumer["partitioned"] is spec.partitioned
        assert consumer["durable_example"] == defaults.durable_name(
            spec, 7 if spec.partitioned else None
        )


def test_operation_messages_belong_to_their_channel() -> None:
    doc = _asyncapi()
    for op_id, operation in doc["operations"].items():
        channel_ref = operation["channel"]["$ref"]
        for message in operation["messages"]:
            assert message["$ref"].startswith(f"{channel_ref}/messages/"), op_id
