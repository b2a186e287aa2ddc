"""/dead-letters: what consumers parked; list and inspect (operators), replay and purge
(admins). Read from the DEADLETTER stream itself, which replay and purge change."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from piyasa_common import deadletters as dl
from piyasa_config.api.deps import Admin, OperatorRead, State
from piyasa_config.api.errors import ERRORS
from piyasa_config.errors import ConflictError, NotFound

router = APIRouter(prefix="/dead-letters", tags=["dead letters"], responses=ERRORS)

Seq = Annotated[int, Path(ge=1, le=2**53, description="The dead letter's stream sequence")]


class DeadLetter(BaseModel):
    seq: int
    consumer: str | None
    reason: str | None
    error: str | None
    original_type: str | None
    original_id: str | None
    original_subject: str | None
    deliveries: int | None
    parked_at: datetime | None
    problem: str | None = Field(None, description="Why the record itself is unreadable")


class DeadLetterDetail(DeadLetter):
    headers: dict[str, str]
    body: Any = Field(description="The parked message: JSON if it parses, else text")


class DeadLetterPage(BaseModel):
    items: list[DeadLetter]
    next: int | None = Field(None, description="Pass as `after` for the next page")


class Replayed(BaseModel):
    seq: int
    subject: str
    stream_seq: int
    duplicate: bool


class Purged(BaseModel):
    purged: int


def _view(record: dl.DeadLetterRecord) -> dict[str, Any]:
    parked = record.dead_letter
    return {
        "seq": record.seq,
        "consumer": parked.consumer if parked else None,
        "reason": parked.reason if parked else None,
        "error": parked.error if parked else None,
        "original_type": parked.original_type if parked else None,
        "original_id": parked.original_id if parked else None,
        "original_subject": parked.subject if parked else None,
        "deliveries": parked.deliveries if parked else None,
        "parked_at": record.parked_at,
        "problem": record.problem,
    }


@router.get("", response_model=DeadLetterPage, summary="Dead letters, oldest first")
async def list_dead_letters(
    state: State,
    _: OperatorRead,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    after: Annotated[int, Query(ge=0, le=2**53)] = 0,
) -> DeadLetterPage:
    records = await dl.list_dead_letters(state.js, state.topology, limit=limit + 1, after_seq=after)
    more = len(records) > limit
    records = records[:limit]
    return DeadLetterPage(
        items=[DeadLetter(**_view(r)) for r in records], next=records[-1].seq if more else None
    )


@router.get("/{seq}", response_model=DeadLetterDetail, summary="One dead letter, with its body")
async def get_dead_letter(state: State, _: OperatorRead, seq: Seq) -> DeadLetterDetail:
    try:
        record = await dl.get_dead_letter(state.js, state.topology, seq)
    except dl.DeadLetterNotFound as exc:
        raise NotFound(str(exc)) from exc
    body: Any = None
    headers: dict[str, str] = {}
    if record.dead_letter is not None:
        headers = dict(record.dead_letter.headers)
        try:
            raw = record.original_data()
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", errors="replace")
        except dl.NotADeadLetter:
            body = None
    return DeadLetterDetail(**_view(record), headers=headers, body=body)


@router.post("/{seq}/replay", response_model=Replayed, summary="Re-publish where it came from")
async def replay_dead_letter(state: State, _: Admin, seq: Seq) -> Replayed:
    try:
        result = await dl.replay(state.js, state.topology, seq)
    except dl.DeadLetterNotFound as exc:
        raise NotFound(str(exc)) from exc
    except dl.NotADeadLetter as exc:
        raise ConflictError(str(exc)) from exc
    return Replayed(
        seq=seq, subject=result.subject, stream_seq=result.stream_seq, duplicate=result.duplicate
    )


@router.delete("/{seq}", response_model=Purged, summary="Purge one dead letter")
async def purge_dead_letter(state: State, _: Admin, seq: Seq) -> Purged:
    try:
        count = await dl.purge(state.js, state.topology, seq)
    except dl.DeadLetterNotFound as exc:
        raise NotFound(str(exc)) from exc
    return Purged(purged=count)


@router.delete("", response_model=Purged, summary="Purge every dead letter parked so far")
async def purge_all(state: State, _: Admin) -> Purged:
    return Purged(purged=await dl.purge(state.js, state.topology, None))
