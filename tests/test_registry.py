"""The model store: versions, prod/backup, checksums, rollback, retention, crash safety."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tests.registry_helpers import tiny_model
from trading_engine.errors import AlreadyRunning, RegistryError
from trading_engine.registry import ModelRegistry, decode_model


class Clock:
    def __init__(self, start=datetime(2025, 1, 19, 2, 5, 34, tzinfo=UTC)):
        self.now = start

    def __call__(self):
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def registry(tmp_path):
    return ModelRegistry(tmp_path / "models", retention=3, clock=Clock())


def deploy(registry, seed=0, f1=0.7):
    return registry.deploy(tiny_model(seed, f1), gate_report={"passed": True}, reason="test")


def test_deploy_writes_the_seeds_layout(registry):
    first = deploy(registry, 0)
    second = deploy(registry, 1, f1=0.75)
    names = {p.name for p in registry.models_dir.iterdir()}
    assert {"prod_model.bin", "backup_model.bin", "training_metrics.json"} <= names
    assert {f"prod_model_{first}.bin", f"prod_model_{second}.bin"} <= names
    assert first == "20250119_020535"
    record = json.loads(registry.metrics_path.read_text())
    assert record["f1_score"] == 0.75 and record["version"] == second  # `jq .f1_score` works
    assert [d["to_version"] for d in record["deployments"]] == [first, second]
    assert registry.load(registry.backup_path).version == first
    assert registry.load(registry.prod_path).version == second


def test_model_file_is_lightgbm_text_plus_json_never_pickle(registry):
    deploy(registry)
    data = registry.prod_path.read_bytes()
    assert data.startswith(b"trading-engine model v1\n")
    metadata = json.loads(data.split(b"\n")[1])
    assert {
        "version",
        "sha256",
        "feature_names",
        "train_start",
        "train_end",
        "params",
        "metrics",
        "libraries",
        "gate_report",
        "horizon",
    } <= set(metadata)
    assert b"\ntree\n" in data and b"pickle" not in data
    model = decode_model(data, "prod").model
    X = np.zeros((2, 3), dtype=np.float32)
    np.testing.assert_allclose(model.predict_proba(X), tiny_model().predict_proba(X))


def test_checksum_is_verified_on_load(registry):
    deploy(registry)
    data = bytearray(registry.prod_path.read_bytes())
    data[-50] ^= 0xFF
    registry.prod_path.write_bytes(bytes(data))
    with pytest.raises(RegistryError, match="checksum mismatch"):
        registry.load(registry.prod_path)


def test_corrupt_or_missing_prod_falls_back_to_backup(registry):
    first, second = deploy(registry, 0), deploy(registry, 1)
    registry.prod_path.write_bytes(b"garbage")
    stored, problem = registry.load_production()
    assert stored.version == first and "serving the backup model" in problem
    registry.prod_path.unlink()
    stored, problem = registry.load_production()
    assert stored.version == first and "missing" in problem
    assert second


def test_rollback_to_backup_and_to_a_named_version(registry):
    first, second, third = deploy(registry, 0), deploy(registry, 1), deploy(registry, 2)
    assert registry.rollback() == second
    assert registry.load(registry.backup_path).version == third  # roll forward again possible
    assert registry.rollback(first) == first
    deployments = registry.read_record()["deployments"]
    assert [(d["kind"], d["from_version"], d["to_version"]) for d in deployments[-2:]] == [
        ("rollback", third, second),
        ("rollback", second, first),
    ]
    with pytest.raises(RegistryError, match="version 20990101_000000 not found"):
        registry.rollback("20990101_000000")
    with pytest.raises(RegistryError, match="not a version id"):
        registry.rollback("../../etc/passwd")
    with pytest.raises(RegistryError, match="already in production"):
        registry.rollback(first)


def test_retention_keeps_the_newest_and_never_prod_or_backup(registry):
    versions = [deploy(registry, seed) for seed in range(5)]
    kept = sorted(v["version"] for v in registry.versions())
    assert kept == versions[-3:]
    registry.rollback(versions[3])  # prod = v3, backup = v4
    deploy(registry, 9)
    roles = {v["version"]: v["role"] for v in registry.versions()}
    assert roles[versions[3]] == "backup"


def test_which_model_was_in_production_on_a_date(registry):
    first = deploy(registry, 0)
    assert registry.production_on("2025-01-19") == first
    assert registry.production_on("2025-01-18") is None


def test_one_writer_at_a_time(registry):
    held = registry.acquire()
    try:
        with pytest.raises(AlreadyRunning, match="already running"):
            registry.acquire()
    finally:
        held.release()
    registry.acquire().release()


def deploy_forever(models_dir, ready):
    registry = ModelRegistry(models_dir, retention=5)
    models = [tiny_model(seed) for seed in range(3)]
    ready.send(True)
    i = 0
    while True:
        registry.deploy(models[i % 3], gate_report={}, reason="loop")
        i += 1


@pytest.mark.slow
def test_sigkill_during_deploy_always_leaves_a_loadable_verified_prod(tmp_path):
    models = tmp_path / "models"
    seed_registry = ModelRegistry(models)
    seed_registry.deploy(tiny_model(0), gate_report={}, reason="initial")
    rng = np.random.default_rng(0)
    # Forked from this process (imports done), so 50 real kills take seconds, not minutes.
    context = multiprocessing.get_context("fork")
    torn_writes = 0
    for attempt in range(50):
        receive, send = context.Pipe(duplex=False)
        child = context.Process(target=deploy_forever, args=(models, send))
        child.start()
        assert receive.recv() is True
        time.sleep(rng.uniform(0.0, 0.08))
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        assert child.exitcode == -signal.SIGKILL
        torn_writes += any(models.glob(".*.tmp"))  # killed mid-write: a temp file is left
        stored, problem = ModelRegistry(models).load_production()
        assert problem is None, f"attempt {attempt}: {problem}"
        assert stored.model.predict_proba(np.zeros((1, 3))).shape == (1,)
        json.loads((models / "training_metrics.json").read_text())  # never half-written
    assert torn_writes > 0, "no kill landed inside a write; the test proved nothing"
