"""Users and bots: create, list, change privacy mode, revoke tokens, peek at updates."""

from __future__ import annotations

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from ..records import BotRecord
from ..views import bot_view, user_view
from ._common import Body, ok, read_body, ref, sandbox_of


class NewUser(Body):
    first_name: str = Field(min_length=1, max_length=64)
    last_name: str | None = Field(None, max_length=64)
    username: str | None = None
    language_code: str | None = None


class NewBot(Body):
    username: str
    first_name: str | None = Field(None, max_length=64)
    token: str | None = None
    privacy_mode: bool | None = None
    can_read_all_group_messages: bool | None = Field(
        None, description="True means privacy mode off (getMe's field)."
    )
    can_join_groups: bool = True


class BotChange(Body):
    privacy_mode: bool | None = None
    can_read_all_group_messages: bool | None = None


async def list_users(request: Request) -> Response:
    world = sandbox_of(request).world
    return ok([user_view(u) for u in world.state.users.values()])


async def create_user(request: Request) -> Response:
    body = await read_body(request, NewUser)
    user = sandbox_of(request).world.create_user(
        body.first_name,
        last_name=body.last_name,
        username=body.username,
        language_code=body.language_code,
    )
    return ok(user_view(user), 201)


def _privacy(privacy_mode: bool | None, can_read_all: bool | None) -> bool | None:
    if privacy_mode is not None:
        return privacy_mode
    return None if can_read_all is None else not can_read_all


async def list_bots(request: Request) -> Response:
    world = sandbox_of(request).world
    return ok([bot_view(world, bot) for bot in world.state.bots.values()])


async def create_bot(request: Request) -> Response:
    body = await read_body(request, NewBot)
    world = sandbox_of(request).world
    privacy = _privacy(body.privacy_mode, body.can_read_all_group_messages)
    bot = world.create_bot(
        body.username,
        first_name=body.first_name,
        token=body.token,
        privacy_mode=True if privacy is None else privacy,
        can_join_groups=body.can_join_groups,
    )
    return ok({**bot_view(world, bot), "token": bot.token}, 201)


def _bot(request: Request) -> BotRecord:
    return sandbox_of(request).world.find_bot(ref(request.path_params["bot"]))


async def get_bot(request: Request) -> Response:
    return ok(bot_view(sandbox_of(request).world, _bot(request)))


async def change_bot(request: Request) -> Response:
    body = await read_body(request, BotChange)
    bot = _bot(request)
    privacy = _privacy(body.privacy_mode, body.can_read_all_group_messages)
    if privacy is not None:
        sandbox_of(request).world.set_privacy(bot, privacy)
    return ok(bot_view(sandbox_of(request).world, bot))


async def revoke_bot(request: Request) -> Response:
    bot = _bot(request)
    token = sandbox_of(request).world.revoke(bot)
    return ok({**bot_view(sandbox_of(request).world, bot), "token": token})


async def bot_updates(request: Request) -> Response:
    """The bot's pending updates, without confirming any."""
    return ok([u.payload for u in _bot(request).pending])
