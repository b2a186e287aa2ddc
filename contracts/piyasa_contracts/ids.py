"""Event ids and partitions.

Ids of events born at an edge (an API write, a Telegram update, a scheduler
tick) are random. Ids of events emitted in reaction to another event are
derived from the cause, so a handler that crashes after publishing and before
acking re-emits the same id on redelivery and JetStream drops the duplicate.
"""

from __future__ import annotations

import hashlib
import uuid

# Fixed namespace: changing it would change every derived id ever emitted.
_DERIVED_NAMESPACE = uuid.UUID("6f1d2c1e-3b0a-5c6e-9d4f-70697961736a")


def new_event_id() -> str:
    """A fresh id for an event born at an edge of the system."""
    return uuid.uuid4().hex


def derive_event_id(causing_id: str, emitted_type: str, attempt: int = 0) -> str:
    """The id of the event of `emitted_type` emitted in reaction to `causing_id`.

    `attempt` separates legitimate repeats (a regeneration after a rejection)
    from redeliveries of the same cause, which must collide.
    """
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    return uuid.uuid5(_DERIVED_NAMESPACE, f"{causing_id}\x1f{emitted_type}\x1f{attempt}").hex


def new_opaque_id() -> str:
    """An opaque aggregate id, safe as a NATS subject token."""
    return uuid.uuid4().hex


def partition_of(key: str, partitions: int) -> int:
    """Stable partition of a key; the same on every replica and every release."""
    if partitions < 1:
        raise ValueError("partitions must be >= 1")
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % partitions
