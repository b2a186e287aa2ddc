"""getMe and getChatMember."""

from __future__ import annotations

from .. import errors, render
from ..models import dump
from ._call import Answer, Call, Handler

__all__ = ["CHAT_METHODS"]


async def get_me(call: Call) -> Answer:
    return Answer(dump(render.me(call.bot, call.user)))


async def get_chat_member(call: Call) -> Answer:
    chat = call.chat()
    user = call.world.user(call.params.integer("user_id"))
    if user is None:
        raise errors.bad_request(errors.USER_NOT_FOUND)
    return Answer(dump(render.member(chat, user, chat.members.get(user.id))))


CHAT_METHODS: dict[str, Handler] = {
    "getMe": get_me,
    "getChatMember": get_chat_member,
}
