"""Roles, ordered: each includes the ones below it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    """Reads everything an operator can see; writes nothing."""
    OPERATOR = "operator"
    """Configures and steers the fleet: bots, chats, stances, holdings, settings, control."""
    ADMIN = "admin"
    """Also: operators and keys, fleet import, forced stance flips, dead-letter replay and
    purge, erasure of a person's data."""

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_RANKS = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: an operator, through one API key or one login session."""

    operator_id: str
    username: str
    role: Role
    credential_id: str
    """The API key's id, or `session:<operator id>`: the rate limiter's key."""

    @property
    def actor(self) -> str:
        """What events carry as their `actor`: the audit trail is the event log."""
        return f"operator:{self.operator_id}"
