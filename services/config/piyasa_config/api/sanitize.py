"""Refuse request bodies whose text could never be stored (see `domain.text`)."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from piyasa_config.api.errors import error_response
from piyasa_config.domain.text import check_text
from piyasa_config.errors import Invalid

MAX_BODY_BYTES = 64 * 1024 * 1024


class StorableText:
    """Pure ASGI middleware: reads a JSON body once, checks it, and replays it downstream."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                await error_response(Invalid("the body is too large", field="body"))(
                    scope, receive, send
                )
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        problem = _problem(body)
        if problem is not None:
            await error_response(problem)(scope, receive, send)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _problem(body: bytes) -> Invalid | None:
    if b"\x00" in body:
        return Invalid("text may not contain NUL characters", field="body")
    if b"\\u" not in body:
        return None  # no escapes: nothing JSON could smuggle in
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None  # not JSON: the route's own parsing answers
    try:
        check_text(data)
    except Invalid as exc:
        return exc
    return None
