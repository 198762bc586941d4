"""Serving: POST /api/ml/predict latency and throughput under a bounded load.

The server is `trading-engine serve` (uvicorn, one worker) on 127.0.0.1 with a model deployed
on the demo market; the load comes from a second process, one request at a time over a
keep-alive connection (bounded: --requests per scenario). GET /health is measured in the same
run as the reference: the floor of the framework itself.

Run: .venv/bin/python bench/serve.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, save

TARGET_P99_MS = 10.0
ENTRY_POINT = Path(sys.executable).with_name("trading-engine")


def client(url: str, method: str, body: str, requests: int) -> dict:
    """Runs in the second process: sequential requests, latency of each."""
    import httpx

    latencies = []
    payload = json.loads(body) if body else None
    with httpx.Client(timeout=10) as http:
        for _ in range(min(50, requests)):  # warm-up, not measured
            http.request(method, url, json=payload).raise_for_status()
        start = time.perf_counter()
        for _ in range(requests):
            sent = time.perf_counter()
            http.request(method, url, json=payload).raise_for_status()
            latencies.append(time.perf_counter() - sent)
        elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "requests": requests,
        "requests_per_s": requests / elapsed,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99) - 1],
        "max_ms": 1000 * latencies[-1],
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--client", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        url, method, body, count = args.client
        print(json.dumps(client(url, method, body, int(count))))
        return
    facts = machine()
    print(
        f"serve bench: uvicorn, 1 worker, 127.0.0.1, load from a second process, "
        f"{args.requests} sequential requests per scenario, {facts['cores']} cores, "
        f"{facts['versions']}"
    )
    import httpx

    from trading_engine.config import DEFAULT_STOCKS

    with tempfile.TemporaryDirectory() as workdir:
        env = {**os.environ, "TRADING_ENGINE_DATA__DEMO_END": "2026-11-24"}
        subprocess.run(
            [str(ENTRY_POINT), "retrain", "--force", "--json"],
            cwd=workdir,
            env=env,
            check=True,
            capture_output=True,
        )
        port = free_port()
        server = subprocess.Popen(
            [str(ENTRY_POINT), "serve", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    httpx.get(f"{base}/health", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            scenarios = [
                ("GET /health (reference)", "GET", "/health", ""),
                (
                    "POST /api/ml/predict, 1 ticker",
                    "POST",
                    "/api/ml/predict",
                    json.dumps({"tickers": ["AAPL"]}),
                ),
                (
                    "POST /api/ml/predict, 50 tickers",
                    "POST",
                    "/api/ml/predict",
                    json.dumps({"tickers": list(DEFAULT_STOCKS)}),
                ),
            ]
            results = []
            for name, method, path, body in scenarios:
                output = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--client",
                        base + path,
                        method,
                        body,
                        str(args.requests),
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                result = {"scenario": name, **json.loads(output.stdout)}
                results.append(result)
                print(
                    f"  {name:<34} {result['requests_per_s']:8.0f} req/s   "
                    f"p50 {result['p50_ms']:6.2f} ms   p99 {result['p99_ms']:6.2f} ms   "
                    f"max {result['max_ms']:6.1f} ms"
                )
        finally:
            server.terminate()
            server.wait(timeout=30)
    one = results[1]
    verdict = "met" if one["p99_ms"] < TARGET_P99_MS else "MISSED"
    print(
        f"  target p99 < {TARGET_P99_MS:.0f} ms for one ticker: {verdict} ({one['p99_ms']:.2f} ms)"
    )
    print(f"figures written to {save('serve', {'results': results})}")


if __name__ == "__main__":
    main()
