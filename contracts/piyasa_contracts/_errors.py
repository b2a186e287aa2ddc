"""Errors raised while reading or writing events.

ContractError
 ├── MalformedEvent      the bytes are not a valid event of a known type (dead-letter it)
 ├── UnknownEventType    no model is registered for the type (dead-letter it)
 └── NewerVersion        written by a newer producer than this reader (nak it with a delay)
"""

from __future__ import annotations


class ContractError(Exception):
    """Base of every error raised by piyasa_contracts."""


class MalformedEvent(ContractError):
    """An event whose envelope or payload does not validate.

    The message names the event type and the first offending field so that a
    dead letter says exactly what was wrong with it.
    """

    def __init__(self, event_type: str, field: str, reason: str) -> None:
        self.event_type = event_type
        self.field = field
        self.reason = reason
        super().__init__(f"malformed {event_type} event: field '{field}': {reason}")


class UnknownEventType(ContractError):
    def __init__(self, event_type: str) -> None:
        self.event_type = event_type
        super().__init__(f"unknown event type '{event_type}'")


class NewerVersion(ContractError):
    """The event's schema version is newer than this reader knows.

    During a rolling update consumers roll out before producers, so this is a
    transient condition: the message is nak'd with a delay, never dead-lettered.
    """

    def __init__(self, event_type: str, version: int, known: int) -> None:
        self.event_type = event_type
        self.version = version
        self.known = known
        super().__init__(f"{event_type} v{version} is newer than this reader's v{known}")
