"""Composition root of the scheduler service.

The service's domain logic arrives with its own issue; today it connects,
provisions the topology and reports ready, which is what the supervisor and
the health probes rely on.
"""

from __future__ import annotations

from piyasa_common.service import Service, ServiceContext
from piyasa_common.settings import BackboneSettings


async def setup(ctx: ServiceContext) -> None:
    del ctx  # no handlers yet


def main() -> None:
    Service("scheduler", BackboneSettings(), setup).main()


if __name__ == "__main__":
    main()
