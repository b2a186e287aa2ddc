"""/wizard and /fleet: a ready example fleet in one call; the fleet as one YAML document."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from piyasa_config.api.deps import Admin, Operator, State, Viewer, Wait
from piyasa_config.api.errors import ERRORS
from piyasa_config.api.models import ID_PATTERN
from piyasa_config.domain.fleet import from_yaml, to_yaml
from piyasa_config.domain.wizard import example_fleet
from piyasa_config.errors import Invalid
from piyasa_config.store.fleet import FleetReport

router = APIRouter(tags=["fleet"], responses=ERRORS)

YAML = "application/yaml"
_MAX_IMPORT_BYTES = 64 * 1024 * 1024


class WizardRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    telegram_chat_id: int = Field(ge=-(10**15), le=10**15, description="The group to talk in")
    title: str = Field("Piyasa Sohbet", min_length=1, max_length=255)
    language: str = Field("tr", pattern=r"^[a-z]{2}$")


class Report(BaseModel):
    created: dict[str, int]
    updated: dict[str, int]
    unchanged: dict[str, int]
    version: int = Field(description="The highest version written or found")

    @classmethod
    def of(cls, report: FleetReport) -> Report:
        return cls(
            created=dict(report.created),
            updated=dict(report.updated),
            unchanged=dict(report.unchanged),
            version=report.last_version,
        )


class WizardResult(Report):
    chat_id: str
    bot_ids: list[str]


@router.post(
    "/wizard/{wizard_id}",
    response_model=WizardResult,
    summary="Create a ready example fleet: four bots with personas, stances, holdings, one chat",
    description="Idempotent by wizard id: calling again (after a failure half-way, or twice) "
    "completes the same fleet and creates nothing twice.",
)
async def run_wizard(
    state: State,
    principal: Operator,
    wizard_id: Annotated[str, Path(pattern=ID_PATTERN)],
    body: WizardRequest,
    response: Response,
    wait: Wait = "stored",
) -> WizardResult:
    fleet = example_fleet(
        wizard_id,
        telegram_chat_id=body.telegram_chat_id,
        title=body.title,
        language=body.language,
        now=state.clock.now(),
    )
    report = await state.fleet.run_wizard(wizard_id, fleet, actor=principal.actor)
    await _settle(state, report, wait, response)
    return WizardResult(
        **Report.of(report).model_dump(), chat_id=fleet.chat.id, bot_ids=[b.id for b in fleet.bots]
    )


@router.get(
    "/fleet/export",
    summary="The fleet as one YAML document (bots without tokens)",
    responses={
        200: {
            "content": {YAML: {"schema": {"type": "object"}}},
            "description": "The fleet document (YAML)",
        }
    },
    response_class=Response,
)
async def export_fleet(state: State, _: Viewer) -> Response:
    document = await state.fleet.export()
    return Response(to_yaml(document), media_type=YAML)


@router.post(
    "/fleet/import",
    response_model=Report,
    summary="Create or update everything a fleet document names (YAML body)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {YAML: {"schema": {"type": "string"}}},
            "description": "A document as GET /fleet/export writes it",
        }
    },
)
async def import_fleet(
    state: State, principal: Admin, request: Request, response: Response, wait: Wait = "stored"
) -> Report:
    body = await request.body()
    if len(body) > _MAX_IMPORT_BYTES:
        raise Invalid("the document is too large", field="body")
    document = from_yaml(body)  # JSON is YAML too
    report = await state.fleet.import_(document, actor=principal.actor)
    await _settle(state, report, wait, response)
    return Report.of(report)


async def _settle(state: State, report: FleetReport, wait: Any, response: Response) -> None:
    if wait == "projected" and report.last_version:
        done = await state.reader.wait_projected(
            state.config_stream, report.last_version, state.settings.wait_projected_timeout_s
        )
        response.headers["Piyasa-Projected"] = "true" if done else "false"
