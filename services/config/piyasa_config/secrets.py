"""Bot tokens: validated, encrypted with Fernet, kept in the secrets KV bucket.

Events carry a `token_ref` (the bucket key), never the token nor its
ciphertext. Only the config service and the dispatcher may read the bucket
(NATS permissions). Keys come from `PIYASA_FERNET_KEYS` (comma-separated,
newest first) or from a mounted file (`PIYASA_FERNET_KEYS_FILE`, one per
line, newest first). `MultiFernet` encrypts with the first key and decrypts
with any, so rotation is: put a new key first, run `piyasa secrets rotate`
(which re-encrypts every stored token with the newest key), then drop the
old key.

Each stored token gets a fresh reference (`bot-<bot id>-<nonce>`): a new
token for a bot is stored beside the old one, the event switches the
reference, and only then is the old one deleted, so a reader following the
log always finds the secret its event names.
"""

from __future__ import annotations

import re
import secrets as _random
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from piyasa_common.kvread import kv_keys
from piyasa_common.logs import register_secret
from piyasa_config.errors import Invalid, Unavailable
from piyasa_config.settings import ConfigSettings
from piyasa_contracts import Bucket, Topology

TOKEN_PATTERN = r"^[0-9]{5,16}:[A-Za-z0-9_-]{30,64}$"  # noqa: S105  (a shape, not a secret)
"""A Telegram bot token: `<bot's user id>:<secret>` as BotFather issues them."""
_TOKEN = re.compile(TOKEN_PATTERN)


def validate_token(token: str) -> str:
    if not _TOKEN.match(token):
        # The message never repeats the value: it may be a real token in a wrong shape.
        raise Invalid(
            "not a Telegram bot token (expected <digits>:<30-64 characters>)", field="token"
        )
    return token


def load_keys(settings: ConfigSettings) -> list[str]:
    """The configured Fernet keys, newest first; registered with the log redactor."""
    keys: list[str] = []
    if settings.fernet_keys is not None:
        keys += [k.strip() for k in settings.fernet_keys.get_secret_value().split(",")]
    if settings.fernet_keys_file is not None:
        text = settings.fernet_keys_file.read_text(encoding="utf-8")
        keys += [line.strip() for line in text.splitlines()]
    keys = [k for k in keys if k and not k.startswith("#")]
    for key in keys:
        register_secret(key)
    return keys


def multi_fernet(keys: Sequence[str]) -> MultiFernet | None:
    """None when no key is configured: token writes then answer 503."""
    if not keys:
        return None
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except (ValueError, TypeError) as exc:
        raise ValueError("a configured Fernet key is not 32 url-safe base64 bytes") from exc


@dataclass(frozen=True, slots=True)
class RotationReport:
    rotated: int
    failed: list[str]
    """References whose ciphertext no configured key opens (left as they are)."""


class TokenVault:
    """Encrypted bot tokens in the secrets bucket."""

    def __init__(self, js: JetStreamContext, topology: Topology, fernet: MultiFernet | None):
        self._js = js
        self._bucket = topology.bucket(Bucket.SECRETS)
        self._fernet = fernet
        self._kv: KeyValue | None = None

    @property
    def configured(self) -> bool:
        return self._fernet is not None

    async def store(self, bot_id: str, token: str) -> str:
        """Encrypt and store `token`; returns its new reference."""
        fernet = self._require()
        ref = f"bot-{bot_id}-{_random.token_hex(4)}"
        kv = await self._bucket_kv()
        await kv.create(ref, fernet.encrypt(token.encode()))
        return ref

    async def reveal(self, ref: str) -> str:
        """The plaintext token (the dispatcher's side; tests use it too)."""
        fernet = self._require()
        kv = await self._bucket_kv()
        entry = await kv.get(ref)
        return fernet.decrypt(entry.value or b"").decode()

    async def delete(self, ref: str | None) -> None:
        if ref is None:
            return
        kv = await self._bucket_kv()
        await kv.purge(ref)

    async def rotate(self) -> RotationReport:
        """Re-encrypt every stored token with the newest key."""
        fernet = self._require()
        kv = await self._bucket_kv()
        refs = await kv_keys(self._js, self._bucket)
        rotated, failed = 0, []
        for ref in sorted(refs):
            try:
                entry = await kv.get(ref)
            except KeyNotFoundError:
                continue  # deleted meanwhile
            try:
                fresh = fernet.rotate(entry.value or b"")
            except InvalidToken:
                failed.append(ref)
                continue
            try:
                await kv.update(ref, fresh, last=entry.revision)
            except KeyWrongLastSequenceError:
                continue  # replaced meanwhile, by a write that used the newest key
            rotated += 1
        return RotationReport(rotated, failed)

    def _require(self) -> MultiFernet:
        if self._fernet is None:
            raise Unavailable(
                "no Fernet key is configured (PIYASA_FERNET_KEYS or PIYASA_FERNET_KEYS_FILE): "
                "bot tokens cannot be stored"
            )
        return self._fernet

    async def _bucket_kv(self) -> KeyValue:
        if self._kv is None:
            self._kv = await self._js.key_value(self._bucket)
        return self._kv
