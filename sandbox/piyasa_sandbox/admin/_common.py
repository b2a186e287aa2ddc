"""What every admin endpoint shares: body parsing, lookups by path, JSON answers."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..core import Sandbox
from ..errors import AdminError
from ..records import ChatRecord

Ref = int | str
M = TypeVar("M", bound=BaseModel)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


async def read_body(request: Request, model: type[M]) -> M:
    raw = await request.body()
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise AdminError(400, first_error(exc)) from exc


def first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return f"{where}: {first['msg']}"


def sandbox_of(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


def chat_of(request: Request) -> ChatRecord:
    raw = request.path_params["chat_id"]
    try:
        chat_id = int(raw)
    except ValueError as exc:
        raise AdminError(404, f"no chat {raw!r}") from exc
    return sandbox_of(request).world.find_chat(chat_id)


def ref(raw: str) -> Ref:
    return int(raw) if raw.lstrip("-").isdigit() else raw


def ok(data: Any, status: int = 200) -> Response:
    return JSONResponse(data, status_code=status)


def int_query(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return max(0, int(raw))
    except ValueError as exc:
        raise AdminError(400, f"{name} must be an integer") from exc
