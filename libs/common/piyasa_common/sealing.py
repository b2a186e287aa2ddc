"""Sealing people's data with a per-person key, so that erasing a person erases their data.

Humans' names and messages travel in the log sealed (`SealedText`) with a
Fernet key of their own, kept in the `datakeys` KV bucket under the person's
opaque id. The log stays immutable; erasing a person (KVKK/GDPR) purges the
key, and every copy of their text in every stream and projection becomes
unreadable at once.

    keys = DataKeys(js, topology)
    sealed = await keys.seal(person_id, "merhaba")   # creates the key on first use
    text = await keys.open(sealed)                    # None once the person is erased
    await keys.erase(person_id)

Replicas cache keys (bounded, least recently used). A replica that did not
erase the person itself must `forget(person_id)` when it sees `person.erased`
in CONFIG; until then its cache could still open the text.

A person written to after an erasure gets a new key: what was sealed with the
old one stays unreadable (`open` answers None on a key that does not fit).
"""

from __future__ import annotations

from collections import OrderedDict

from cryptography.fernet import Fernet, InvalidToken
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from piyasa_contracts import Bucket, Topology
from piyasa_contracts.events._common import SealedText

__all__ = ["DataKeys"]

DEFAULT_CACHE_SIZE = 10_000


class DataKeys:
    """Per-person Fernet keys in the `datakeys` bucket: seal, open, erase."""

    def __init__(
        self, js: JetStreamContext, topology: Topology, *, cache_size: int = DEFAULT_CACHE_SIZE
    ) -> None:
        if cache_size < 0:
            raise ValueError("cache_size must not be negative")
        self._js = js
        self._bucket = topology.bucket(Bucket.DATAKEYS)
        self._kv: KeyValue | None = None
        self._cache: OrderedDict[str, Fernet] = OrderedDict()
        self._cache_size = cache_size

    async def seal(self, person_id: str, text: str) -> SealedText:
        """`text` encrypted with the person's key, which is created on first use."""
        fernet = await self._key(person_id, create=True)
        assert fernet is not None
        return SealedText(key_id=person_id, ciphertext=fernet.encrypt(text.encode()).decode())

    async def open(self, sealed: SealedText) -> str | None:
        """The text, or None when the person's key is gone (erased) or does not fit."""
        fernet = await self._key(sealed.key_id, create=False)
        if fernet is None:
            return None
        try:
            return fernet.decrypt(sealed.ciphertext.encode()).decode()
        except InvalidToken:
            return None

    async def exists(self, person_id: str) -> bool:
        return await self._key(person_id, create=False) is not None

    async def erase(self, person_id: str) -> None:
        """Purge the person's key (every revision of it); idempotent."""
        self.forget(person_id)
        kv = await self._bucket_kv()
        await kv.purge(person_id)

    def forget(self, person_id: str) -> None:
        """Drop a cached key: call it when `person.erased` arrives from another replica."""
        self._cache.pop(person_id, None)

    async def _key(self, person_id: str, *, create: bool) -> Fernet | None:
        cached = self._cache.get(person_id)
        if cached is not None:
            self._cache.move_to_end(person_id)
            return cached
        kv = await self._bucket_kv()
        raw: bytes | None
        try:
            entry = await kv.get(person_id)
            raw = entry.value or None
        except KeyNotFoundError:  # KeyDeletedError (erased) is a KeyNotFoundError too
            raw = None
        if raw is None:
            if not create:
                return None
            raw = Fernet.generate_key()
            try:
                await kv.create(person_id, raw)
            except KeyWrongLastSequenceError:
                # Another replica created it first: use theirs.
                raw = (await kv.get(person_id)).value or b""
        fernet = Fernet(raw)
        self._remember(person_id, fernet)
        return fernet

    def _remember(self, person_id: str, fernet: Fernet) -> None:
        if self._cache_size == 0:
            return
        self._cache[person_id] = fernet
        self._cache.move_to_end(person_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def _bucket_kv(self) -> KeyValue:
        if self._kv is None:
            self._kv = await self._js.key_value(self._bucket)
        return self._kv
