"""The backbone's errors, and what a handler raises to steer its message.

PiyasaError
 ├── BackboneError        NATS unreachable, provisioning refused, publish failed
 │    └── PublishFailed
 ├── Conflict             optimistic concurrency: expected sequence did not match
 ├── LeaseLost            this replica no longer owns the partition it acts for
 └── HandlerSignal        raised by handlers; the consumer runner maps each to ack/nak
      ├── Retry           nak with a delay (work that must wait is never held)
      └── Poison          dead-letter now: redelivery cannot help
"""

from __future__ import annotations


class PiyasaError(Exception):
    pass


class BackboneError(PiyasaError):
    pass


class PublishFailed(BackboneError):
    pass


class Conflict(PiyasaError):
    def __init__(self, subject: str, expected: int | None, current: int | None = None) -> None:
        self.subject = subject
        self.expected = expected
        self.current = current
        super().__init__(f"{subject}: expected last sequence {expected}, stream has {current}")


class LeaseLost(PiyasaError):
    pass


class HandlerSignal(PiyasaError):
    pass


class Retry(HandlerSignal):
    """Nak the message with this delay; counts as a delivery."""

    def __init__(self, delay_s: float, reason: str = "") -> None:
        self.delay_s = delay_s
        self.reason = reason
        super().__init__(f"retry in {delay_s:.1f}s: {reason}")


class Poison(HandlerSignal):
    """The message can never be handled: park it in the dead-letter stream."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)
