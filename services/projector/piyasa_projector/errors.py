"""The projector's errors. Every one of them restarts a stream's loop from the
position stored in Postgres; none of them loses or repeats an event.

ProjectorError
 ├── StoreError           Postgres refused a statement or the connection dropped
 ├── PositionMoved        the stored position is not where this loop left it
 │                        (a rebuild reset it, or a second replica moved it)
 ├── DeliveryGap          the ephemeral consumer skipped a message (a slow-consumer drop)
 ├── NewerVersionPending  the next event is of a schema version this projector does not know
 └── RebuildBlocked       a rebuild met such an event and cannot reach the end of the stream
"""

from __future__ import annotations


class ProjectorError(Exception):
    """Base of every error raised by piyasa_projector."""


class StoreError(ProjectorError):
    """A Postgres failure, translated at the store's boundary (chained with `from`)."""

    def __init__(self, operation: str, cause: BaseException, *, connection: bool) -> None:
        self.operation = operation
        self.connection = connection
        """True when Postgres could not be reached (as opposed to a refused statement)."""
        super().__init__(f"{operation}: {type(cause).__name__}: {cause}")


class PositionMoved(ProjectorError):
    def __init__(self, stream: str, expected: int, stored: int) -> None:
        self.stream = stream
        self.expected = expected
        self.stored = stored
        super().__init__(f"{stream}: position is {stored}, this loop expected {expected}")


class DeliveryGap(ProjectorError):
    def __init__(self, stream: str, expected: int, got: int) -> None:
        self.stream = stream
        super().__init__(f"{stream}: consumer sequence {got} delivered, expected {expected}")


class NewerVersionPending(ProjectorError):
    def __init__(self, stream: str, sequence: int, event_type: str, version: int) -> None:
        self.stream = stream
        self.sequence = sequence
        self.event_type = event_type
        self.version = version
        super().__init__(
            f"{stream}:{sequence} is {event_type} v{version}, newer than this projector knows"
        )


class RebuildBlocked(ProjectorError):
    def __init__(self, pending: NewerVersionPending) -> None:
        self.pending = pending
        super().__init__(f"rebuild stopped before the end of the log: {pending}")
