"""The real Bot API only on explicit request; `piyasa up` points the dispatcher at the sandbox."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from piyasa_cli.services import telegram_env
from piyasa_dispatcher.settings import SANDBOX_API_BASE, DispatcherSettings


def test_the_default_telegram_is_the_local_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TELEGRAM_API_BASE", raising=False)
    assert DispatcherSettings().telegram_api_base == SANDBOX_API_BASE


def test_the_real_bot_api_needs_the_live_switch() -> None:
    with pytest.raises(ValidationError, match="PIYASA_TELEGRAM_LIVE"):
        DispatcherSettings(telegram_api_base="https://api.telegram.org")

    live = DispatcherSettings(telegram_api_base="https://api.telegram.org", telegram_live=True)
    assert live.telegram_live


def test_webhooks_need_a_secret() -> None:
    with pytest.raises(ValidationError, match="WEBHOOK_SECRET"):
        DispatcherSettings(dispatcher_webhook_url="https://d.example")


def test_piyasa_up_points_at_the_sandbox_unless_live() -> None:
    sandbox = telegram_env(
        live=False, sandbox_port=8081, configured_base="https://api.telegram.org"
    )
    assert sandbox == {
        "TELEGRAM_API_BASE": "http://127.0.0.1:8081",
        "PIYASA_TELEGRAM_LIVE": "false",
        "TELEGRAM_SANDBOX_ADMIN": "http://127.0.0.1:8081/sandbox/api",
    }
    live = telegram_env(live=True, sandbox_port=None, configured_base=None)
    assert live["TELEGRAM_API_BASE"] == "https://api.telegram.org"
    assert live["PIYASA_TELEGRAM_LIVE"] == "true" and live["TELEGRAM_SANDBOX_ADMIN"] == ""
