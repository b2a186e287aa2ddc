"""Composition root of the config service.

The API is mounted into the service runner's HTTP server, beside
`/health/live`, `/health/ready` and `/metrics`: one port (`PIYASA_HTTP_PORT`,
8080 by default for this service), one uvicorn, and probes that hit the same
process and socket as operators do. The API routes appear once NATS is
connected and the database migrated; until then they answer 404 and
`/health/ready` answers 503.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from piyasa_common.logs import register_secret
from piyasa_common.service import Service, ServiceContext, Setup
from piyasa_config.api.app import create_app
from piyasa_config.bootstrap import build_state, database_engine, open_postgres
from piyasa_config.schema import migrate
from piyasa_config.settings import ConfigSettings, database_password


class Fallback(BaseRoute):
    """Hands every request the health routes did not take to the API.

    Unlike `Mount("/")`, whose pattern stops at a newline, it takes every
    path, so even a path with `%0A` in it gets the API's error shape.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        return (Match.FULL, {}) if scope["type"] == "http" else (Match.NONE, {})

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def config_setup(settings: ConfigSettings) -> Setup:
    async def setup(ctx: ServiceContext) -> None:
        await migrate(settings.database_url)
        engine = database_engine(settings)
        pg = await open_postgres(settings)
        state = build_state(
            settings, js=ctx.js, publisher=ctx.publisher, engine=engine, pg=pg, clock=ctx.clock
        )
        ctx.health.add_route(Fallback(create_app(state)))

        async def stop() -> None:
            await pg.close()
            await engine.dispose()

        ctx.on_stop.append(stop)

    return setup


def main() -> None:
    settings = ConfigSettings()
    password = database_password(settings.database_url)
    if password:
        register_secret(password)
    Service("config", settings, config_setup(settings)).main()


if __name__ == "__main__":
    main()
