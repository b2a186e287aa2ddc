"""A local Telegram Bot API server with a web page: the fake Telegram of `piyasa up` and tests.

    server = SandboxServer(SandboxSettings(port=0))
    await server.start()
    bot = Bot(token, base_url=f"{server.url}/bot")   # any Bot API client, unchanged
    ...
    await server.stop()

The admin API under `/sandbox/api/` sets up bots, chats and members, posts as
humans and reads everything back; the page at `/` shows the chats live.
"""

from .core import Sandbox
from .errors import AdminError, SandboxError, TelegramError
from .server import SandboxServer, create_app, main
from .settings import LimitSettings, SandboxSettings

__all__ = [
    "AdminError",
    "LimitSettings",
    "Sandbox",
    "SandboxError",
    "SandboxServer",
    "SandboxSettings",
    "TelegramError",
    "create_app",
    "main",
]
