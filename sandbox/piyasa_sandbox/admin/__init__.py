"""The sandbox's own API under `/sandbox/api/`: set up the world, act as humans, read back.

JSON in, JSON out; a refused call answers `{"error": "..."}` with a 4xx.
Users, bots and chats are named by id, and users and bots also by
`username` or `@username`. Tokens are shown only when a bot is created or
its token is revoked.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..errors import AdminError
from ._accounts import (
    bot_updates,
    change_bot,
    create_bot,
    create_user,
    get_bot,
    list_bots,
    list_users,
    revoke_bot,
)
from ._chats import (
    create_chat,
    edit_message,
    get_chat,
    get_member,
    list_chats,
    list_messages,
    migrate,
    post_message,
    react,
    remove_member,
    set_member,
    typing_events,
)
from ._controls import (
    add_fault,
    clear_faults,
    get_limits,
    get_state,
    list_faults,
    reset,
    set_limits,
)

__all__ = ["PREFIX", "admin_routes"]

PREFIX = "/sandbox/api"


Endpoint = Callable[[Request], Awaitable[Response]]


def _guarded(endpoint: Endpoint) -> Endpoint:
    async def run(request: Request) -> Response:
        try:
            return await endpoint(request)
        except AdminError as exc:
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        except json.JSONDecodeError:
            return JSONResponse({"error": "body is not JSON"}, status_code=400)

    return run


_TABLE: list[tuple[str, Endpoint, list[str]]] = [
    ("/state", get_state, ["GET"]),
    ("/reset", reset, ["POST"]),
    ("/users", list_users, ["GET"]),
    ("/users", create_user, ["POST"]),
    ("/bots", list_bots, ["GET"]),
    ("/bots", create_bot, ["POST"]),
    ("/bots/{bot}", get_bot, ["GET"]),
    ("/bots/{bot}", change_bot, ["PATCH"]),
    ("/bots/{bot}/revoke", revoke_bot, ["POST"]),
    ("/bots/{bot}/updates", bot_updates, ["GET"]),
    ("/chats", list_chats, ["GET"]),
    ("/chats", create_chat, ["POST"]),
    ("/chats/{chat_id}", get_chat, ["GET"]),
    ("/chats/{chat_id}/members", set_member, ["POST"]),
    ("/chats/{chat_id}/members/{user}", get_member, ["GET"]),
    ("/chats/{chat_id}/members/{user}", remove_member, ["DELETE"]),
    ("/chats/{chat_id}/messages", list_messages, ["GET"]),
    ("/chats/{chat_id}/messages", post_message, ["POST"]),
    ("/chats/{chat_id}/messages/{message_id:int}/edit", edit_message, ["POST"]),
    ("/chats/{chat_id}/messages/{message_id:int}/reactions", react, ["POST"]),
    ("/chats/{chat_id}/migrate", migrate, ["POST"]),
    ("/chats/{chat_id}/typing", typing_events, ["GET"]),
    ("/faults", list_faults, ["GET"]),
    ("/faults", add_fault, ["POST"]),
    ("/faults", clear_faults, ["DELETE"]),
    ("/limits", get_limits, ["GET"]),
    ("/limits", set_limits, ["PUT", "PATCH"]),
]


def admin_routes() -> list[BaseRoute]:
    return [
        Route(f"{PREFIX}{path}", _guarded(endpoint), methods=methods)
        for path, endpoint, methods in _TABLE
    ]
