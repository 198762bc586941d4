"""Writes only from this machine's own origin, capped bodies, valid tickers, JSON errors."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from starlette.responses import PlainTextResponse

from tests.api.conftest import small_settings
from tests.registry_helpers import deploy
from trading_engine.api.guard import BodyLimit
from trading_engine.config import load_settings
from trading_engine.errors import ConfigError
from trading_engine.model_retraining import ModelRetrainingService
from trading_engine.server import create_app

ROLLBACK = "/api/ml/retraining/rollback"
TOKEN = "a-token-of-20-chars!"
EVIL = "http://evil.example"
TEN_MB = 10_000_000


def plant_two_versions(service):
    """Production and a backup, without training: a rollback has something to do."""
    for seed in (0, 1):
        deploy(service.registry, seed)
    return service.registry.production_version()


def test_a_cross_site_simple_post_rolls_nothing_back(client):
    service = client.app.state.service
    production = plant_two_versions(service)
    attack = {"Origin": EVIL, "Content-Type": "text/plain"}  # no CORS preflight for this
    refused = client.post(ROLLBACK, content=b"", headers=attack)
    assert refused.status_code == 403
    assert refused.json() == {
        "error": "forbidden",
        "message": "Origin 'http://evil.example' is not this server's origin: writes are "
        "refused from other sites (a client that sends no Origin, like curl, is fine)",
    }
    assert service.registry.production_version() == production
    # Negative control: the very same request without the browser's Origin does roll back.
    accepted = client.post(ROLLBACK, content=b"", headers={"Content-Type": "text/plain"})
    assert accepted.status_code == 200 and accepted.json()["previous_version"] == production
    assert service.registry.production_version() != production


def test_a_cross_site_trigger_starts_no_job(client):
    refused = client.post("/api/ml/retraining/trigger?force=true", headers={"Origin": EVIL})
    assert refused.status_code == 403
    assert client.get("/api/ml/retraining/status").json()["retraining"] is False
    assert client.get("/api/ml/retraining/history").json()["total"] == 0


# One row per request: its headers, and what must answer. 409 ("no backup model") means the
# guard let the rollback through to the service. The client addresses http://127.0.0.1:8000.
WRITES = [
    ({}, 409, None),
    ({"Origin": "http://127.0.0.1:8000"}, 409, None),
    ({"Origin": "http://localhost:8000"}, 409, None),
    ({"Origin": "http://[::1]:8000"}, 409, None),
    ({"Origin": "http://127.0.0.1:8000", "Sec-Fetch-Site": "same-origin"}, 409, None),
    ({"Host": "localhost:8000"}, 409, None),
    ({"Host": "[::1]:8000"}, 409, None),
    ({"Host": "127.0.0.2:8000"}, 409, None),
    ({"Origin": EVIL}, 403, "Origin 'http://evil.example'"),
    ({"Origin": "null"}, 403, "Origin 'null'"),  # sandboxed frames and file: pages
    ({"Origin": "http://127.0.0.1:8001"}, 403, "Origin 'http://127.0.0.1:8001'"),
    ({"Origin": "http://127.0.0.1.evil.example:8000"}, 403, "is not this server's origin"),
    ({"Sec-Fetch-Site": "cross-site"}, 403, "Sec-Fetch-Site 'cross-site'"),
    ({"Host": "evil.example:8000"}, 403, "Host 'evil.example:8000' is not a loopback name"),
    ({"Host": "127.0.0.1.nip.io"}, 403, "Host '127.0.0.1.nip.io'"),
    ({"Host": "user@127.0.0.1:8000"}, 403, "Host 'user@127.0.0.1:8000'"),
    # DNS rebinding: the attacker's page is same-origin with its own name, now 127.0.0.1.
    ({"Host": "evil.example:8000", "Origin": "http://evil.example:8000"}, 403, "Host 'evil"),
]


@pytest.mark.parametrize(("headers", "status", "message"), WRITES)
def test_who_may_write_without_a_token(client, headers, status, message):
    response = client.post(ROLLBACK, headers=headers)
    assert response.status_code == status
    if message:
        assert response.json()["error"] == "forbidden"
        assert message in response.json()["message"]
    else:
        assert response.json()["message"] == "no backup model to roll back to"


def test_reads_stay_open_to_any_host_and_origin(client):
    foreign = {"Host": "evil.example", "Origin": EVIL, "Sec-Fetch-Site": "cross-site"}
    assert client.get("/api/ml/retraining/status", headers=foreign).status_code == 200
    assert client.get("/health", headers=foreign).status_code == 200


def test_with_a_token_the_host_is_free_but_a_foreign_origin_is_not(make_client):
    client = make_client(api_token=TOKEN)
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    lan = client.post(ROLLBACK, headers={**bearer, "Host": "trading.lan:8000"})
    assert lan.status_code == 409  # through the guard and the token check
    same_origin = {**bearer, "Host": "trading.lan:8000", "Origin": "http://trading.lan:8000"}
    assert client.post(ROLLBACK, headers=same_origin).status_code == 409
    cross = client.post(ROLLBACK, headers={**bearer, "Origin": EVIL})
    assert cross.status_code == 403 and "Origin 'http://evil.example'" in cross.json()["message"]
    assert client.post(ROLLBACK, headers={"Host": "trading.lan"}).status_code == 401


def test_allowed_hosts_admits_a_named_host(make_client):
    client = make_client(allowed_hosts=["localhost", "127.0.0.0/8", "::1", "Dashboard.LAN"])
    assert client.post(ROLLBACK, headers={"Host": "dashboard.lan:8000"}).status_code == 409
    assert client.post(ROLLBACK, headers={"Host": "other.lan:8000"}).status_code == 403
    with pytest.raises(ConfigError, match=r"setting 'server.allowed_hosts'.*'10.0.0.0/33'"):
        load_settings(server={"allowed_hosts": ["10.0.0.0/33"]})


def test_a_body_over_the_limit_is_413_declared_or_chunked(client):
    declared = client.post(
        "/api/ml/predict", content=b" " * TEN_MB, headers={"Content-Type": "application/json"}
    )
    assert declared.status_code == 413
    assert declared.json() == {
        "error": "payload_too_large",
        "message": "request body of 10000000 bytes is over the limit of 1000000 bytes "
        "(setting server.max_body_bytes)",
    }

    def chunks():
        for _ in range(TEN_MB // 65536):
            yield b" " * 65536

    chunked = client.post(
        "/api/ml/predict", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in chunked.request.headers
    assert chunked.status_code == 413
    assert chunked.json()["message"].startswith("request body of more than 1000000 bytes")


def test_the_limit_is_the_setting(make_client):
    client = make_client(max_body_bytes=64)
    body = b'{"tickers": ["AAPL"]}'.ljust(64)
    json = {"Content-Type": "application/json"}
    assert client.post("/api/ml/predict", content=body, headers=json).status_code == 404  # no model
    assert client.post("/api/ml/predict", content=body + b" ", headers=json).status_code == 413


def test_the_limit_answers_itself_when_the_app_lets_the_error_through():
    async def count_body(scope, receive, send):  # a bare ASGI app: no exception handlers
        size, more = 0, True
        while more:
            message = await receive()
            size, more = size + len(message.get("body", b"")), message.get("more_body", False)
        await PlainTextResponse(str(size))(scope, receive, send)

    client = TestClient(BodyLimit(count_body, max_bytes=10))
    assert client.post("/", content=b"x" * 10).text == "10"
    chunked = client.post("/", content=iter([b"x" * 11]))
    assert chunked.status_code == 413 and chunked.json()["error"] == "payload_too_large"


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
        (client.post(ROLLBACK, headers={"Origin": EVIL}), 403, "forbidden", "Origin"),
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
    assert "setting 'server.api_token'" in message
    assert f"at least 16 characters, got {len(token.strip())} after stripping" in message
    assert "xxxxx" not in message and "short" not in message  # the token is never echoed


def test_a_token_from_the_environment_is_checked_and_stripped(settings, monkeypatch):
    monkeypatch.setenv("TRADING_ENGINE_SERVER__API_TOKEN", " ")
    with pytest.raises(ConfigError, match=r"setting 'server\.api_token'"):
        load_settings()
    monkeypatch.setenv("TRADING_ENGINE_SERVER__API_TOKEN", f" {TOKEN}\n")
    assert load_settings().server.api_token.get_secret_value() == TOKEN


@pytest.fixture
def live_server(tmp_path):
    """The app under a real uvicorn on 127.0.0.1, on a free port chosen by the kernel."""
    app = create_app(ModelRetrainingService(small_settings(tmp_path)), start_scheduler=False)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def test_a_real_server_refuses_foreign_writes_only(live_server):
    port = int(live_server.rsplit(":", 1)[1])
    with httpx.Client(base_url=live_server, timeout=30) as http:
        assert http.post(ROLLBACK).status_code == 409  # no Origin, like curl
        for own in (live_server, f"http://localhost:{port}", f"http://[::1]:{port}"):
            assert http.post(ROLLBACK, headers={"Origin": own}).status_code == 409, own
        cross = http.post(ROLLBACK, headers={"Origin": EVIL, "Content-Type": "text/plain"})
        assert cross.status_code == 403 and cross.json()["error"] == "forbidden"
        other_port = http.post(ROLLBACK, headers={"Origin": f"http://127.0.0.1:{port + 1}"})
        assert other_port.status_code == 403
        rebound = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
        refused = http.post(ROLLBACK, headers=rebound)
        assert refused.status_code == 403
        assert f"Host 'evil.example:{port}' is not a loopback name" in refused.json()["message"]
        assert http.get("/health", headers=rebound).status_code == 200  # reads stay open

        def chunks():
            for _ in range(TEN_MB // 65536):
                yield b" " * 65536

        chunked = http.post(
            "/api/ml/predict", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert chunked.request.headers["transfer-encoding"] == "chunked"
        assert chunked.status_code == 413 and chunked.json()["error"] == "payload_too_large"
        assert http.get("/health").status_code == 200  # and the server still serves
