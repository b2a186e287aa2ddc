"""Composition root of the projector: settings, schema, store, one loop per stream."""

from __future__ import annotations

from piyasa_common.logs import register_secret
from piyasa_common.service import Service, ServiceContext, Setup
from piyasa_projector.projector import Projector, stream_projections
from piyasa_projector.schema import migrate
from piyasa_projector.settings import ProjectorSettings, database_password
from piyasa_projector.store import ProjectionStore
from piyasa_projector.stream import LoopOptions


def projector_setup(settings: ProjectorSettings) -> Setup:
    async def setup(ctx: ServiceContext) -> None:
        await migrate(settings.database_url)
        store = await ProjectionStore.open(
            settings.database_url, pool_size=settings.db_pool_size, timeout_s=settings.db_timeout_s
        )
        options = LoopOptions(
            batch_size=settings.batch_size,
            fetch_timeout_s=settings.fetch_timeout_s,
            inactive_s=settings.consumer_inactive_s,
            retry_delay_s=settings.retry_delay_s,
            newer_version_delay_s=settings.newer_version_delay_s,
        )
        projections = stream_projections(
            js=ctx.js,
            store=store,
            topology=ctx.topology,
            clock=ctx.clock,
            options=options,
            publisher=ctx.publisher,
        )
        projector = Projector(projections, store, probe_interval_s=settings.db_probe_interval_s)
        ctx.health.add_check("postgres", lambda: store.healthy)
        for projection in projections:
            ctx.catch_up(projection.stream, projection.caught_up)
        projector.start()

        async def stop() -> None:
            await projector.stop(settings.drain_grace_s)
            await store.close()

        ctx.on_stop.append(stop)

    return setup


def main() -> None:
    settings = ProjectorSettings()
    password = database_password(settings.database_url)
    if password:
        register_secret(password)
    Service("projector", settings, projector_setup(settings)).main()


if __name__ == "__main__":
    main()
