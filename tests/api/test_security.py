"""API tokens: long enough, never echoed."""

from __future__ import annotations

import pytest

from trading_engine.config import load_settings
from trading_engine.errors import ConfigError

TOKEN = "a-token-of-20-chars!"


@pytest.mark.parametrize("token", ["short", " ", "x" * 15, " " * 20 + "x" * 15 + "\n"])
def test_a_short_api_token_is_refused_at_start_up(settings, token):
    with pytest.raises(ConfigError) as caught:
        load_settings(server={"api_token": token})
    message = str(caught.value)
    assert message.startswith("setting 'server.api_token'")
    assert f"at least 16 characters, got {len(token.strip())} after stripping" in message
    assert "xxxxx" not in message and "short" not in message  # the token is never echoed


def test_a_token_from_the_environment_is_checked_and_stripped(settings, monkeypatch):
    monkeypatch.setenv("TRADING_ENGINE_SERVER__API_TOKEN", " ")
    with pytest.raises(ConfigError, match=r"setting 'server\.api_token'"):
        load_settings()
    monkeypatch.setenv("TRADING_ENGINE_SERVER__API_TOKEN", f" {TOKEN}\n")
    assert load_settings().server.api_token.get_secret_value() == TOKEN
