"""The whole world, injected faults and flood limits."""

from __future__ import annotations

import json

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from ..errors import AdminError
from ..faults import Fault
from ..settings import LimitSettings
from ..views import bot_view, chat_summary, user_view
from ._common import Body, first_error, ok, read_body, sandbox_of


class LimitsChange(Body):
    enabled: bool | None = None
    chat_per_s: float | None = None
    chat_burst: int | None = None
    group_per_min: int | None = None
    bot_per_s: int | None = None
    set_webhook_interval_s: float | None = None


async def get_state(request: Request) -> Response:
    world = sandbox_of(request).world
    return ok(
        {
            "bots": [bot_view(world, bot) for bot in world.state.bots.values()],
            "users": [user_view(u) for u in world.state.users.values() if not u.is_bot],
            "chats": [chat_summary(world, chat) for chat in world.state.chats.values()],
        }
    )


async def reset(request: Request) -> Response:
    sandbox_of(request).reset()
    return ok({"reset": True})


async def list_faults(request: Request) -> Response:
    return ok([f.model_dump() for f in sandbox_of(request).faults.listing()])


async def add_fault(request: Request) -> Response:
    raw = await request.body()
    data = json.loads(raw or b"{}") if raw else {}
    sandbox = sandbox_of(request)
    if isinstance(data, dict) and "bot" in data:
        data["bot_id"] = sandbox.world.find_bot(data.pop("bot")).user_id
    try:
        fault = Fault.model_validate(data)
    except ValidationError as exc:
        raise AdminError(400, first_error(exc)) from exc
    sandbox.faults.add(fault)
    return ok(fault.model_dump(), 201)


async def clear_faults(request: Request) -> Response:
    sandbox_of(request).faults.clear()
    return ok([])


async def get_limits(request: Request) -> Response:
    return ok(sandbox_of(request).limits.settings.model_dump())


async def set_limits(request: Request) -> Response:
    body = await read_body(request, LimitsChange)
    limits = sandbox_of(request).limits
    merged = {**limits.settings.model_dump(), **body.model_dump(exclude_none=True)}
    try:
        limits.configure(LimitSettings.model_validate(merged))
    except ValidationError as exc:
        raise AdminError(400, first_error(exc)) from exc
    return ok(limits.settings.model_dump())
