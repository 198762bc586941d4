"""Valid tickers, JSON errors of one shape, API tokens long enough and never echoed."""

from __future__ import annotations

import pytest

from trading_engine.config import load_settings
from trading_engine.errors import ConfigError

TOKEN = "a-token-of-20-chars!"


def test_bad_tickers_are_422_echoing_the_value_cut_short(client):
    long = client.post("/api/ml/predict", json={"tickers": ["AAPL", "X" * 40]})
    assert long.status_code == 422
    assert long.json()["error"] == "invalid_request"
    assert long.json()["message"] == (
        "body.tickers.1: 'XXXXXXXXXXXXXXXXXXXX…' is not a ticker: "
        "expected 1-15 characters of A-Z a-z 0-9 . - ^ = _"
    )
    for bad in ("", "A" * 16, "AAPL MSFT", "AAPL\n", "<script>", "AAPL;rm"):
        response = client.post("/api/ml/predict", json={"tickers": [bad]})
        assert response.status_code == 422, bad
        assert "is not a ticker" in response.json()["message"]
    for good in ("BRK-B", "BRK.B", "^GSPC", "EURUSD=X", "A" * 15, "msft_1"):
        response = client.post("/api/ml/predict", json={"tickers": [good]})
        assert response.status_code == 404, good  # valid; no production model yet


def test_every_error_is_json_of_one_shape(client):
    cases = [
        (client.get("/api/nowhere"), 404, "not_found", "nothing at /api/nowhere"),
        (client.delete("/api/ml/predict"), 405, "method_not_allowed", "DELETE is not allowed"),
        (
            client.post(
                "/api/ml/predict",
                content=b'{"tickers": [',
                headers={"Content-Type": "application/json"},
            ),
            400,
            "bad_request",
            "request body is not valid JSON",
        ),
        (client.post("/api/ml/predict", json={}), 422, "invalid_request", "body.tickers"),
    ]
    for response, status, error, message in cases:
        assert response.status_code == status
        body = response.json()
        assert body["error"] == error and message in body["message"], body
        assert set(body) <= {"error", "message", "detail"}
    assert cases[1][0].headers["allow"] == "POST"


def test_an_unexpected_exception_is_a_json_500_and_a_logged_traceback(make_client, caplog):
    client = make_client(raise_server_exceptions=False)

    def broken():
        raise RuntimeError("disk on fire")

    client.app.state.service.get_status = broken
    response = client.get("/api/ml/retraining/status")
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal_error",
        "message": "internal error; the server log has the details",
    }
    record = next(r for r in caplog.records if r.getMessage().startswith("unhandled error"))
    assert record.getMessage() == "unhandled error on GET /api/ml/retraining/status"
    assert record.exc_info and "disk on fire" in str(record.exc_info[1])


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
