"""piyasa projector: follows the log into Postgres projections, and rebuilds them.

schema      the tables (SQLAlchemy Core) and `migrate()` (Alembic, in code)
rows        what each event does to the tables: pure functions
batch       one fetched batch planned: rows, dead letters, where the line stops
store       rows and positions, one Postgres transaction per batch
stream      one stream's loop: ephemeral consumer from the stored position
projector   the loops of CONFIG, CONVERSATION and DEADLETTER together
rebuild     empty the tables and replay the log into them
main        the composition root
"""

from piyasa_projector.rebuild import RebuildReport, rebuild
from piyasa_projector.schema import POSITIONS, PROJECTION_TABLES, migrate
from piyasa_projector.settings import ProjectorSettings

__all__ = [
    "POSITIONS",
    "PROJECTION_TABLES",
    "ProjectorSettings",
    "RebuildReport",
    "migrate",
    "rebuild",
]
