"""The config service's errors; `api/errors.py` maps each to one HTTP answer.

ConfigError (PiyasaError)
 ├── Invalid              a value the API refuses (422), naming the field
 ├── BadRequest           a request it cannot read (400): a bad cursor, a bad If-Match
 ├── NotFound             no such resource (404), or it was deleted
 ├── ConflictError        the resource is not in the state the write expects (409)
 │    ├── VersionConflict  a stale write: `current` is the resource's version now
 │    ├── AlreadyExists    the id, the Telegram chat id or the bot token is taken
 │    └── CooldownActive   a stance flip before its cooldown_until
 ├── Unauthenticated      no or bad credentials (401)
 ├── Forbidden            the operator's role does not allow it (403)
 ├── RateLimited          too many writes or logins (429)
 └── Unavailable          a dependency is down or unconfigured (503)
"""

from __future__ import annotations

from datetime import datetime

from piyasa_common.errors import PiyasaError


class ConfigError(PiyasaError):
    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.message = message
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class Invalid(ConfigError):
    code = "invalid"


class BadRequest(ConfigError):
    code = "bad_request"


class NotFound(ConfigError):
    code = "not_found"


class ConflictError(ConfigError):
    code = "conflict"


class VersionConflict(ConflictError):
    code = "version_conflict"

    def __init__(self, resource: str, expected: int | None, current: int | None) -> None:
        self.expected = expected
        self.current = current
        super().__init__(
            f"{resource} changed: you wrote against version {expected}, it is at {current}"
        )


class AlreadyExists(ConflictError):
    code = "already_exists"

    def __init__(self, message: str, *, field: str | None = None, holder: str | None = None):
        self.holder = holder
        super().__init__(message, field=field)


class CooldownActive(ConflictError):
    code = "stance_cooldown"

    def __init__(self, until: datetime) -> None:
        self.until = until
        super().__init__(
            f"the stance cannot flip before its cooldown ends at {until.isoformat()}; "
            "an admin may force it with ?force=true",
            field="position",
        )


class Unauthenticated(ConfigError):
    code = "unauthenticated"


class Forbidden(ConfigError):
    code = "forbidden"


class RateLimited(ConfigError):
    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: int) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message)


class Unavailable(ConfigError):
    code = "unavailable"
