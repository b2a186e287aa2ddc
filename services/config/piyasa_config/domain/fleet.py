"""The fleet as one YAML document: bots (without tokens), chats, stances, holdings, settings.

Export writes every live aggregate's state as the log holds it; import writes
each one back (creating, updating, or leaving alone what is already equal),
so exporting and importing into empty infrastructure gives the same fleet,
ids included. Tokens are never exported: they are set again per bot.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from piyasa_config.domain.text import check_text
from piyasa_config.errors import Invalid
from piyasa_contracts.events.config import BotChanged, ChatChanged, HoldingChanged, StanceChanged
from piyasa_contracts.fleet_settings import FleetSettings

FORMAT_VERSION = 1

_EXCLUDED = {"deleted"}
_BOT_EXCLUDED = {"deleted", "token_ref"}


class FleetDocument(BaseModel):
    """What `GET /fleet/export` returns and `POST /fleet/import` accepts."""

    model_config = ConfigDict(extra="forbid")

    piyasa_fleet: int = Field(FORMAT_VERSION, ge=1, le=FORMAT_VERSION)
    bots: list[BotChanged] = Field(default_factory=list, max_length=100_000)
    chats: list[ChatChanged] = Field(default_factory=list, max_length=100_000)
    stances: list[StanceChanged] = Field(default_factory=list, max_length=1_000_000)
    holdings: list[HoldingChanged] = Field(default_factory=list, max_length=1_000_000)
    settings: FleetSettings | None = None


def to_yaml(document: FleetDocument) -> str:
    data: dict[str, Any] = {
        "piyasa_fleet": document.piyasa_fleet,
        "bots": [b.model_dump(mode="json", exclude=_BOT_EXCLUDED) for b in document.bots],
        "chats": [c.model_dump(mode="json", exclude=_EXCLUDED) for c in document.chats],
        "stances": [s.model_dump(mode="json", exclude=_EXCLUDED) for s in document.stances],
        "holdings": [h.model_dump(mode="json", exclude=_EXCLUDED) for h in document.holdings],
    }
    if document.settings is not None:
        data["settings"] = document.settings.model_dump(mode="json")
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


def from_yaml(text: str | bytes) -> FleetDocument:
    """Parse and validate; errors name the field (`bots.3.persona.verbosity`)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise Invalid(f"not YAML: {exc}", field="body") from exc
    return from_data(data)


def from_data(data: Any) -> FleetDocument:
    if not isinstance(data, dict):
        raise Invalid("expected a mapping with bots, chats, stances, holdings", field="body")
    check_text(data)
    try:
        document = FleetDocument.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise Invalid(first["msg"], field=field) from exc
    # Tokens never travel in the document, whatever a hand-edited file says.
    document.bots[:] = [b.model_copy(update={"token_ref": None}) for b in document.bots]
    return document
