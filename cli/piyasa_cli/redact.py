"""Connection URLs without their secrets, for every message a person may read."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def redact_url(url: str) -> str:
    """`url` with its user info's password (or a bare token) replaced by `***`.

    `postgresql://piyasa:s3cret@db:5432/piyasa` -> `postgresql://piyasa:***@db:5432/piyasa`;
    `nats://ops:s3cret@nats:4222` -> `nats://ops:***@nats:4222`; `nats://tok@nats` (a token) ->
    `nats://***@nats`. Query strings are dropped: libpq takes `password=` there too.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<unparsable URL>"
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    if parts.username is not None or "@" in parts.netloc:
        user = parts.username or ""
        netloc = (f"{user}:***@" if parts.password is not None else "***@") + netloc
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def scrub(text: str, *secrets: str | None) -> str:
    """`text` with every occurrence of each non-empty secret replaced by `***`."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
