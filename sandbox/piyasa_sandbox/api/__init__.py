"""The Bot API: `GET|POST /bot<token>/<method>`, answered exactly as Telegram answers.

A call is checked in Telegram's order: the path's shape (404 `Not Found`),
the token (401 `Unauthorized`), the method (404 `Not Found: method not
found`, names case-insensitive), then an injected fault if one is armed,
then the method itself. Every answer is `{"ok":true,"result":..}` or the
error envelope with the HTTP status equal to `error_code`; a 429 also has a
`Retry-After` header.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from .. import errors
from ..core import Sandbox
from ..params import read_params
from ..world import TOKEN_SHAPE
from ._call import Answer, Call, Handler
from ._chats import CHAT_METHODS
from ._messages import MESSAGE_METHODS
from ._updates import UPDATE_METHODS

__all__ = ["METHODS", "bot_api_routes", "envelope_response"]

_log = logging.getLogger(__name__)

METHODS: dict[str, Handler] = {
    name.lower(): handler
    for name, handler in {**CHAT_METHODS, **MESSAGE_METHODS, **UPDATE_METHODS}.items()
}


def envelope_response(body: dict[str, Any], status: int = 200) -> Response:
    """Compact UTF-8 JSON, as the reference server writes it."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    response = Response(text, status_code=status, media_type="application/json")
    retry_after = body.get("parameters", {}).get("retry_after") if not body["ok"] else None
    if status == 429 and retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def error_response(error: errors.TelegramError) -> Response:
    return envelope_response(error.envelope(), error.status)


async def _bot_api(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    token = request.path_params["token"]
    method = request.path_params["method"]
    try:
        answer = await call_method(sandbox, token, method, request)
    except errors.TelegramError as error:
        return error_response(error)
    except Exception:
        _log.exception("bot api call failed", extra={"method": method})
        return error_response(errors.internal())
    body: dict[str, Any] = {"ok": True, "result": answer.result}
    if answer.description is not None:
        body["description"] = answer.description
    return envelope_response(body)


async def call_method(sandbox: Sandbox, token: str, method: str, request: Request) -> Answer:
    """Authenticate, find the method, apply an armed fault, run it; raises TelegramError."""
    if not TOKEN_SHAPE.match(token):
        raise errors.not_found()
    bot = sandbox.world.bot_by_token(token)
    if bot is None:
        raise errors.unauthorized()
    handler = METHODS.get(method.lower())
    if handler is None:
        raise errors.method_not_found()
    fault = sandbox.faults.take(bot.user_id, method)
    if fault is not None:
        if fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        raise fault.error()
    params = await read_params(request)
    user = sandbox.world.user(bot.user_id)
    assert user is not None
    return await handler(Call(sandbox=sandbox, bot=bot, user=user, params=params))


async def _not_found(request: Request) -> Response:
    return error_response(errors.not_found())


def bot_api_routes() -> list[BaseRoute]:
    return [Route("/bot{token}/{method}", _bot_api, methods=["GET", "POST"])]


def not_found_route() -> BaseRoute:
    """Last route: any other path answers Telegram's JSON 404."""
    return Route("/{path:path}", _not_found, methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
