# ruff: noqa: RUF001 -- Turkish text: the dotless i is a letter, not a look-alike
from __future__ import annotations

import pytest

from tests.integration.dispatcher.rig import Rig

pytestmark = pytest.mark.integration


async def test_an_approved_message_is_posted_once_and_reported_sent(rig: Rig) -> None:
    bot = await rig.bot("ayse")
    chat = await rig.chat([bot])
    await rig.start()

    approved = await rig.approve(bot, chat, "altın yükselir bence")

    sent = await rig.wait_events("message.sent", 1)
    posted = await rig.posted(chat)
    assert [m["text"] for m in posted] == ["altın yükselir bence"]
    assert sent[0].keys.turn_id == approved.keys.turn_id
    assert sent[0].payload["telegram_message_id"] == posted[0]["message_id"]
