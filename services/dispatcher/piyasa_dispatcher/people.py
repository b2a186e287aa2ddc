"""People a bot mentions: their Telegram ids, opened from the sealed ids the log carries."""

from __future__ import annotations

import logging

from piyasa_common.sealing import DataKeys
from piyasa_contracts.events.work import Approved
from piyasa_dispatcher import compose
from piyasa_dispatcher.state import Conversation
from piyasa_dispatcher.telegram import MessageEntity

log = logging.getLogger(__name__)


async def mention_entities(
    approved: Approved, conversation: Conversation, datakeys: DataKeys
) -> list[MessageEntity]:
    """`text_mention` entities for the people the message names without an @username.

    A person's Telegram id comes from their sealed id in `message.received`; once the
    person is erased (their key gone) the name stays plain text.
    """
    people = compose.person_mentions(approved.mentions, approved.text)
    if not people:
        return []
    ids: dict[str, int] = {}
    for mention in people:
        sealed = conversation.person(mention.member_id)
        if sealed is None or mention.member_id in ids:
            continue
        try:
            plain = await datakeys.open(sealed)
        except Exception:  # the key store is away: mention by name only
            log.warning("could not open a person's id", exc_info=True)
            plain = None
        if plain is not None and plain.lstrip("-").isdigit():
            ids[mention.member_id] = int(plain)
    return compose.mention_entities(approved.mentions, approved.text, ids)
