"""The web page: each chat as a member sees it, live, with a box to post as a human.

Plain HTML, CSS and JavaScript served from this folder (no build step). The
page reads `/sandbox/api/chats` and `/sandbox/api/chats/{id}`, listens to
`/sandbox/api/events` (server-sent events) and posts with
`POST /sandbox/api/chats/{id}/messages`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from importlib import resources
from typing import Final

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from ..core import Sandbox

__all__ = ["page_routes"]

_FILES: Final = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}


def _read(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


async def index(request: Request) -> Response:
    return Response(_read("index.html"), media_type="text/html; charset=utf-8")


async def asset(request: Request) -> Response:
    name = request.path_params["name"]
    media_type = _FILES.get(name)
    if media_type is None:
        return Response("Not Found", status_code=404, media_type="text/plain")
    return Response(_read(name), media_type=media_type, headers={"Cache-Control": "no-cache"})


async def events(request: Request) -> Response:
    """Server-sent events: one `data:` line of JSON per change; comments keep it open."""
    sandbox: Sandbox = request.app.state.sandbox

    async def stream() -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        async for event in sandbox.world.events.subscribe():
            if event is None:
                yield ": keep-alive\n\n"
            else:
                yield f"data: {json.dumps(event, ensure_ascii=False)}\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def page_routes() -> list[BaseRoute]:
    return [
        Route("/", index, methods=["GET"]),
        Route("/sandbox/page/{name}", asset, methods=["GET"]),
        Route("/sandbox/api/events", events, methods=["GET"]),
    ]
