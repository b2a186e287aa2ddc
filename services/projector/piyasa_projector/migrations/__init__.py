"""Alembic migrations of the projection schema (run by `piyasa_projector.schema.migrate`)."""
