"""The operators' web dashboard: static HTML, one JavaScript module and CSS from this folder.

Served by the API's own app (same origin: no CORS) at `/dashboard/`, with `/`
redirecting there. The page holds no data and no secret: it signs in with
`POST /auth/login` (or takes an API key), then reads the API's views and calls
its control routes like any other client, so the API's roles apply to it.

Every answer carries a Content-Security-Policy that allows only this origin's
script, style and API (no inline script or style, no other host), and is never
framed.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Annotated, Final

from fastapi import APIRouter, Path
from fastapi.responses import RedirectResponse, Response

from piyasa_config.errors import NotFound

__all__ = ["CONTENT_SECURITY_POLICY", "router"]

CONTENT_SECURITY_POLICY: Final = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)

_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

_ASSETS: Final = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}

router = APIRouter(include_in_schema=False)


@cache
def _read(name: str) -> bytes:
    return resources.files(__package__).joinpath(name).read_bytes()


def _file(name: str, media_type: str) -> Response:
    return Response(_read(name), media_type=media_type, headers=_HEADERS)


@router.get("/")
async def root() -> RedirectResponse:
    return RedirectResponse("/dashboard/", status_code=302)


@router.get("/dashboard")
async def without_slash() -> RedirectResponse:
    return RedirectResponse("/dashboard/", status_code=302)


@router.get("/dashboard/")
async def page() -> Response:
    return _file("index.html", "text/html; charset=utf-8")


@router.get("/dashboard/{name}")
async def asset(name: Annotated[str, Path(max_length=64)]) -> Response:
    media_type = _ASSETS.get(name)
    if media_type is None:
        raise NotFound(f"no dashboard file {name}")
    return _file(name, media_type)
