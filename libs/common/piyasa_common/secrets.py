"""Reading bot tokens from the secrets bucket (the dispatcher's side of the vault).

The config service encrypts each token with `MultiFernet` (keys from
`PIYASA_FERNET_KEYS`, comma-separated, newest first, or one per line in
`PIYASA_FERNET_KEYS_FILE`) and stores the ciphertext under a reference
(`token_ref`) that events carry. Only the config service and the dispatcher
may read the bucket (NATS permissions). This module only reads: it never
stores, rotates or deletes, and it registers every token it opens with the
log redactor, so a token that slips into a message is masked.

    reader = TokenReader(js, topology, load_fernet_keys(value, path))
    token = await reader.reveal(bot.token_ref)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from piyasa_common.errors import PiyasaError
from piyasa_common.logs import register_secret
from piyasa_contracts import Bucket, Topology

__all__ = ["SecretUnavailable", "TokenReader", "load_fernet_keys"]


class SecretUnavailable(PiyasaError):
    """The token cannot be read: no key configured, no such reference, or no key opens it.

    The message names the reference, never the ciphertext or the token.
    """


def load_fernet_keys(value: str | None, path: Path | None = None) -> list[str]:
    """Fernet keys from a comma-separated value and/or a file (one per line), newest first.

    Blank lines and `#` comments are skipped; every key is registered with the log redactor.
    """
    keys: list[str] = []
    if value:
        keys += [k.strip() for k in value.split(",")]
    if path is not None:
        keys += [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    keys = [k for k in keys if k and not k.startswith("#")]
    for key in keys:
        register_secret(key)
    return keys


class TokenReader:
    """Opens encrypted bot tokens by reference; read-only."""

    def __init__(self, js: JetStreamContext, topology: Topology, keys: Sequence[str]) -> None:
        try:
            self._fernet = MultiFernet([Fernet(k) for k in keys]) if keys else None
        except (ValueError, TypeError) as exc:
            raise ValueError("a configured Fernet key is not 32 url-safe base64 bytes") from exc
        self._js = js
        self._bucket = topology.bucket(Bucket.SECRETS)
        self._kv: KeyValue | None = None

    @property
    def configured(self) -> bool:
        return self._fernet is not None

    async def reveal(self, ref: str) -> str:
        """The plaintext token stored under `ref`; raises SecretUnavailable."""
        if self._fernet is None:
            raise SecretUnavailable(
                "no Fernet key is configured (PIYASA_FERNET_KEYS or PIYASA_FERNET_KEYS_FILE)"
            )
        if self._kv is None:
            self._kv = await self._js.key_value(self._bucket)
        try:
            entry = await self._kv.get(ref)
        except KeyNotFoundError:
            raise SecretUnavailable(f"no secret under {ref!r}") from None
        try:
            token = self._fernet.decrypt(entry.value or b"").decode()
        except InvalidToken:
            raise SecretUnavailable(f"no configured key opens the secret {ref!r}") from None
        register_secret(token)
        return token
