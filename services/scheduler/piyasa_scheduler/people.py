"""Opening humans' sealed names and texts.

Humans' names, texts and Telegram ids reach the log sealed with a per-person
data key (`piyasa_common.sealing`); erasing the person purges the key. Folding
is synchronous and key lookups are not, so opening takes two steps:

- at fold time an `Unsealer` opens what it can at once (the simulation's
  texts); the service's `OpenLater` opens nothing, and the line waits in
  `ChatState.sealed` with empty text;
- the owner of the chat's partition opens its waiting lines with the
  `KeyStore` (the `datakeys` bucket) before each tick, so a human's words
  are read before anyone answers them.

Without the key (the person was erased) the text stays withheld: the line
keeps its place in the history, empty and anonymous, and the person is
mentionable only by @username.
"""

from __future__ import annotations

from typing import Protocol

from piyasa_contracts.events._common import SealedText


class Unsealer(Protocol):
    def open(self, sealed: SealedText) -> str | None:
        """The plain text now, or None to leave it to the key store (or withheld)."""
        ...


class KeyStore(Protocol):
    """What the scheduler uses of `piyasa_common.sealing.DataKeys`."""

    async def open(self, sealed: SealedText) -> str | None: ...

    def forget(self, person_id: str) -> None: ...


class OpenLater:
    """Opens nothing at fold time: the partition's owner opens lines with the key store."""

    def open(self, sealed: SealedText) -> str | None:
        del sealed
        return None


__all__ = ["KeyStore", "OpenLater", "Unsealer"]
