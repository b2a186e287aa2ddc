"""/people/{id}/erase: erase a human's data on request (KVKK/GDPR), admins only.

The person's data key is purged first, so everything sealed with it (in
every stream and projection) is unreadable from that moment; then a
`person.erased` event records who erased whom and when (no personal data in
it), so that services holding the person's text in memory drop it and the
API shows their messages as erased.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from piyasa_config.api.deps import Admin, State, Wait, settle
from piyasa_config.api.errors import ERRORS
from piyasa_config.api.models import ID_PATTERN
from piyasa_contracts.events.config import PersonErased

router = APIRouter(prefix="/people", tags=["people"], responses=ERRORS)


class EraseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field("", max_length=200, description="A ticket reference; no personal data")


class Erased(BaseModel):
    person_id: str
    erased_at: datetime
    version: int


@router.post("/{person_id}/erase", response_model=Erased, summary="Erase a person's data")
async def erase_person(
    state: State,
    principal: Admin,
    person_id: Annotated[str, Path(pattern=ID_PATTERN)],
    body: EraseRequest,
    response: Response,
    wait: Wait = "stored",
) -> Erased:
    await state.datakeys.erase(person_id)
    now = state.clock.now()
    current = await state.events.current(PersonErased, person_id)
    payload = PersonErased(id=person_id, erased_at=now, reason=body.reason)
    stored = await state.writer.save(payload, current.version, actor=principal.actor)
    await settle(state, stored, wait, response)
    return Erased(person_id=person_id, erased_at=now, version=stored.version)
