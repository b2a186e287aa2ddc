"""Where `piyasa up` keeps its data when not told."""

from __future__ import annotations

from pathlib import Path

import pytest

from piyasa_cli.settings import ROOT_STATE_DIR, CliSettings, default_state_dir


def test_configured_directory_wins_for_everyone(tmp_path: Path) -> None:
    assert default_state_dir(configured=tmp_path, as_root=True) == tmp_path
    assert default_state_dir(configured=tmp_path, as_root=False) == tmp_path


def test_root_defaults_to_var_lib_never_under_root_home() -> None:
    chosen = default_state_dir(as_root=True)
    assert chosen == ROOT_STATE_DIR == Path("/var/lib/piyasa")
    assert not chosen.is_relative_to("/root")


def test_a_user_gets_the_platform_user_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_state_dir(as_root=False) == tmp_path / ".local/share/piyasa"


def test_xdg_data_home_is_honoured_for_a_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_state_dir(as_root=False) == tmp_path / "data/piyasa"


def test_environment_is_read_once_into_settings_and_empty_means_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIYASA_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("NATS_URL", "nats://example:4222")
    monkeypatch.setenv("DATABASE_URL", "")
    settings = CliSettings()
    assert settings.state_dir == tmp_path
    assert settings.nats_url == "nats://example:4222"
    assert settings.database_url is None
    assert default_state_dir(configured=settings.state_dir) == tmp_path
