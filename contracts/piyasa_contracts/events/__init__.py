"""Typed payloads of every event, grouped by the stream they live in."""
