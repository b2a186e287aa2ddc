"""JSON Schemas (draft 2020-12) of the envelope and of every current event.

An event's schema is the envelope with `type` and `version` pinned and
`payload` replaced by that event's payload model, i.e. exactly what travels on
the wire.
"""

from __future__ import annotations

from typing import Any

from piyasa_contracts.envelope import Envelope, Payload

DIALECT = "https://json-schema.org/draft/2020-12/schema"

JsonSchema = dict[str, Any]


def schema_file_name(event: type[Payload]) -> str:
    return f"{event.event_type}.v{event.version}.json"


def envelope_schema() -> JsonSchema:
    """The envelope with an untyped payload: what every reader can parse."""
    return {"$schema": DIALECT, **Envelope.model_json_schema()}


def event_schema(event: type[Payload]) -> JsonSchema:
    schema = Envelope.model_json_schema()
    properties = schema["properties"]
    properties["type"] = {"const": event.event_type, "title": "Type", "type": "string"}
    properties["version"] = {"const": event.version, "title": "Version", "type": "integer"}

    payload = event.model_json_schema()
    defs: dict[str, JsonSchema] = schema.setdefault("$defs", {})
    payload_defs: dict[str, JsonSchema] = payload.pop("$defs", {})
    # Both sides use `#/$defs/<Model>` refs, so merging works only without clashes.
    for name, definition in [*payload_defs.items(), (event.__name__, payload)]:
        if name in defs and defs[name] != definition:
            raise ValueError(f"{event.event_type}: model name {name!r} clashes with the envelope")
        defs[name] = definition
    properties["payload"] = {"$ref": f"#/$defs/{event.__name__}"}

    schema["title"] = f"{event.event_type} v{event.version}"
    schema["description"] = (
        f"Envelope of a `{event.event_type}` event, schema version {event.version}, "
        f"on the {event.stream.value} stream."
    )
    return {"$schema": DIALECT, **schema}
