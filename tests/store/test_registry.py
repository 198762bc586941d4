"""The model store: one commit point, derived files, verified bytes, rollback, import, repair."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import signal
import sqlite3
import time

import numpy as np
import pytest

from tests.registry_helpers import Clock, deploy, tiny_model
from trading_engine.errors import (
    AlreadyInProduction,
    AlreadyRunning,
    CorruptModel,
    InvalidVersionId,
    NothingToRollBack,
    ProductionChanged,
    VersionNotFound,
)
from trading_engine.records import RunRecord
from trading_engine.store import ModelRegistry, pack
from trading_engine.training.model import decode_model


@pytest.fixture
def repairs():
    return []


@pytest.fixture
def registry(tmp_path, repairs):
    return ModelRegistry(tmp_path / "models", retention=3, clock=Clock(), on_repair=repairs.append)


def reopen(registry, repairs=None):
    """A second registry on the same folder, as another process would open it."""
    sink = repairs.append if repairs is not None else (lambda repair: None)
    return ModelRegistry(registry.models_dir, retention=3, clock=Clock(), on_repair=sink)


def test_deploy_writes_the_seeds_layout_derived_from_the_store(registry):
    first = deploy(registry, 0)
    second = deploy(registry, 1, f1=0.75)
    names = {p.name for p in registry.models_dir.iterdir()}
    assert {"prod_model.bin", "backup_model.bin", "training_metrics.json"} <= names
    assert {f"prod_model_{first}.bin", f"prod_model_{second}.bin", "registry.sqlite"} <= names
    assert re.fullmatch(r"20250119_0205\d\d", first)  # from the injected clock
    record = json.loads(registry.metrics_path.read_text())
    assert record["f1_score"] == 0.75 and record["version"] == second  # `jq .f1_score` works
    assert [d["to_version"] for d in record["deployments"]] == [first, second]
    assert [run["version"] for run in record["history"]] == [first, second]
    assert decode_model(registry.backup_path.read_bytes(), "backup").version == first
    assert decode_model(registry.prod_path.read_bytes(), "prod").version == second
    assert registry.pointers() == {"production": second, "backup": first}
    with sqlite3.connect(registry.db.path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_model_file_is_lightgbm_text_plus_json_never_pickle(registry):
    deploy(registry)
    data = registry.prod_path.read_bytes()
    assert data.startswith(b"trading-engine model v1\n")
    metadata = json.loads(data.split(b"\n")[1])
    assert {"version", "sha256", "feature_names", "train_start", "train_end", "params"} <= set(
        metadata
    )
    assert {"metrics", "libraries", "horizon"} <= set(metadata)
    assert b"\ntree\n" in data and b"pickle" not in data
    model = decode_model(data, "prod").model
    X = np.zeros((2, 3), dtype=np.float32)
    np.testing.assert_allclose(model.predict_proba(X), tiny_model().predict_proba(X))


def test_checksum_is_verified_on_load(registry):
    deploy(registry)
    data = bytearray(registry.prod_path.read_bytes())
    data[-50] ^= 0xFF
    with pytest.raises(CorruptModel, match="checksum mismatch"):
        decode_model(bytes(data), "prod")


def test_a_healthy_production_file_is_served_as_it_is_with_no_problem(registry):
    # Negative control for the test below: a spurious problem here is an alert on every deploy.
    first, second = deploy(registry, 0), deploy(registry, 1)
    served, problems = registry.production_bytes()
    assert (served.version, served.source, problems) == (second, registry.prod_path, [])
    assert first != second


def test_one_version_is_described_as_the_list_describes_it(registry):
    deploy(registry, 0), deploy(registry, 1)
    listed = registry.versions()
    assert [registry.version_info(info.version) for info in listed] == listed
    assert registry.version_info("20200101_000000") is None


def test_a_corrupt_production_file_is_served_around_then_quarantined_and_restored(
    registry, repairs
):
    first, second = deploy(registry, 0), deploy(registry, 1)
    good = registry.prod_path.read_bytes()
    registry.prod_path.write_bytes(b"garbage")
    served, problems = registry.production_bytes()
    assert served.version == second and served.source.name == f"prod_model_{second}.bin"
    assert "does not hold production version" in problems[0]
    registry.repair()
    assert registry.prod_path.read_bytes() == good
    assert [p.read_bytes() for p in registry.quarantine_dir.iterdir()] == [b"garbage"]
    assert any(r.alert and "prod_model.bin was corrupt" in r.message for r in repairs)
    assert registry.pointers() == {"production": second, "backup": first}


def test_with_prod_and_backup_unreadable_the_newest_intact_version_is_served(registry):
    first, second, third = deploy(registry, 0), deploy(registry, 1), deploy(registry, 2)
    for path in (
        registry.prod_path,
        registry.backup_path,
        registry.version_path(third),
        registry.version_path(second),
    ):
        path.write_bytes(b"x")
    served, problems = registry.production_bytes()
    assert served.version == first
    assert any("serving the newest intact version" in p for p in problems)
    assert [v.verified for v in registry.versions()] == [False, False, True]


def test_a_corrupt_production_file_never_becomes_the_backup(registry):
    first, second = deploy(registry, 0), deploy(registry, 1)
    registry.prod_path.write_bytes(b"garbage")
    registry.version_path(second).write_bytes(b"garbage too")  # no intact copy of production
    third = deploy(registry, 2)
    assert registry.pointers() == {"production": third, "backup": first}
    assert decode_model(registry.backup_path.read_bytes(), "backup").version == first


def test_rollback_to_backup_and_to_a_named_version(registry):
    first, second, third = deploy(registry, 0), deploy(registry, 1), deploy(registry, 2)
    with registry.writing() as session:
        assert registry.rollback(session).version == second
        assert registry.pointers()["backup"] == third  # roll forward again possible
        assert registry.rollback(session, first).previous_version == second
        with pytest.raises(VersionNotFound, match="version 20990101_000000 not found"):
            registry.rollback(session, "20990101_000000")
        with pytest.raises(InvalidVersionId, match="not a version id"):
            registry.rollback(session, "../../etc/passwd")
        with pytest.raises(AlreadyInProduction, match="already in production"):
            registry.rollback(session, first)
        with pytest.raises(ProductionChanged, match=f"production is {first}"):
            registry.rollback(session, expected_version=third)
    deployments = registry.deployments()
    assert [(d.kind, d.from_version, d.to_version) for d in deployments[-2:]] == [
        ("rollback", third, second),
        ("rollback", second, first),
    ]


def test_nothing_to_roll_back_before_a_second_deploy(registry):
    deploy(registry)
    with registry.writing() as session, pytest.raises(NothingToRollBack):
        registry.rollback(session)


def test_retention_keeps_the_newest_and_never_prod_or_backup(registry):
    versions = [deploy(registry, seed) for seed in range(5)]
    assert sorted(v.version for v in registry.versions()) == versions[-3:]
    assert sorted(p.name for p in registry.models_dir.glob("prod_model_*.bin")) == [
        f"prod_model_{v}.bin" for v in versions[-3:]
    ]
    with registry.writing() as session:
        registry.rollback(session, versions[3])  # prod = v3, backup = v4
    deploy(registry, 9)
    roles = {v.version: v.role for v in registry.versions()}
    assert roles[versions[3]] == "backup"


def test_which_model_was_in_production_on_a_date(registry):
    first = deploy(registry, 0)
    assert registry.production_on("2025-01-19") == first
    assert registry.production_on("2025-01-18") is None


def test_one_writer_at_a_time_and_status_probes_without_taking_the_lock(registry):
    assert not registry.busy()
    held = registry.acquire()
    try:
        assert registry.busy()
        with pytest.raises(AlreadyRunning, match="already running"):
            reopen(registry).acquire()
    finally:
        held.release()
    assert not registry.busy()
    reopen(registry).acquire().release()


def test_deleting_the_lock_file_does_not_let_a_second_writer_in(registry):
    held = registry.acquire()
    try:
        (registry.models_dir / ".lock").unlink()
        with pytest.raises(AlreadyRunning):
            reopen(registry).acquire()  # the lease in the store still says "taken"
    finally:
        held.release()
    reopen(registry).acquire().release()


def test_a_run_left_running_by_a_dead_process_becomes_interrupted(registry):
    registry.ensure()
    dead = RunRecord(run_id="run_dead", started_at="2025-01-19T02:00:00+00:00")
    with registry.db.transaction() as connection:
        registry.db.put_run(connection, dead, "999999999:0")
    registry.repair()
    total, runs = registry.history()
    assert total == 1 and runs[0].outcome == "interrupted" and runs[0].finished_at


def write_old_release_folder(models, versions=3):
    """A models/ folder exactly as the first release wrote it (files only, no database)."""
    models.mkdir(parents=True)
    ids = [f"2025010{day}_020000" for day in range(1, versions + 1)]
    history, deployments = [], []
    for index, version in enumerate(ids):
        data = tiny_model(index).to_bytes({"version": version, "created_at": f"{version}"})
        if index > 0:  # retention had deleted the first version file
            (models / f"prod_model_{version}.bin").write_bytes(data)
        history.append(
            {
                "job_id": None,
                "trigger": "manual",
                "full": False,
                "forced": False,
                "started_at": f"2025-01-0{index + 1}T02:00:00+00:00",
                "version": version,
                "outcome": "deployed",
                "reason": "manual retrain passed every gate",
                "metrics": {"f1_score": 0.7, "accuracy": 0.72},
                "gates": {"passed": True, "forced": False, "gates": []},
            }
        )
        deployments.append(
            {
                "kind": "deploy",
                "from_version": ids[index - 1] if index else None,
                "to_version": version,
                "at": f"2025-01-0{index + 1}T02:00:00+00:00",
                "reason": "r",
                "forced": False,
            }
        )
        if index == 0:
            (models / "backup_model.bin").write_bytes(data)
        if index == versions - 1:
            (models / "prod_model.bin").write_bytes(data)
    history.append({"started_at": "2025-01-04T02:00:00+00:00", "outcome": "failed", "reason": "x"})
    (models / "training_metrics.json").write_text(
        json.dumps({"f1_score": 0.7, "history": history, "deployments": deployments})
    )
    (models / "jobs.json").write_text(
        json.dumps({"retrain_1": {"job_id": "retrain_1", "status": "succeeded", "created_at": "t"}})
    )
    return ids


def test_an_old_release_folder_is_imported_with_nothing_lost(tmp_path, repairs):
    ids = write_old_release_folder(tmp_path / "models")
    registry = ModelRegistry(tmp_path / "models", clock=Clock(), on_repair=repairs.append)
    assert registry.pointers() == {"production": ids[-1], "backup": ids[0]}
    assert sorted(v.version for v in registry.versions()) == ids
    assert (tmp_path / "models" / f"prod_model_{ids[0]}.bin").exists()  # restored from backup
    total, runs = registry.history(limit=10)
    assert total == 4 and [r.outcome for r in runs] == [
        "failed",
        "deployed",
        "deployed",
        "deployed",
    ]
    assert [d.to_version for d in registry.deployments()] == ids
    assert registry.job("retrain_1").status == "succeeded"
    assert any("imported 3 version(s), 4 run(s), 3 deployment(s)" in r.message for r in repairs)
    # A second opening imports nothing twice.
    assert reopen(registry).history(limit=10)[0] == 4


def test_a_corrupt_database_is_quarantined_and_rebuilt_from_the_files(registry, repairs):
    first, second = deploy(registry, 0), deploy(registry, 1)
    for suffix in ("-wal", "-shm"):
        (registry.models_dir / f"registry.sqlite{suffix}").unlink(missing_ok=True)
    registry.db.path.write_bytes(b"this is not a database" * 100)
    rebuilt = reopen(registry, repairs)
    assert rebuilt.pointers() == {"production": second, "backup": first}
    assert rebuilt.history()[0] == 2
    assert any("registry.sqlite" in p.name for p in rebuilt.quarantine_dir.iterdir())
    assert any(r.alert and "unreadable" in r.message for r in repairs)


@pytest.mark.parametrize("content", [b"garbage{", b"[]", b"\xff\xfe\x00bad", b""])
def test_a_corrupt_record_file_is_quarantined_and_rebuilt(registry, repairs, content):
    version = deploy(registry)
    registry.metrics_path.write_bytes(content)
    registry.repair()
    assert json.loads(registry.metrics_path.read_text())["version"] == version
    assert any(r.alert and "training_metrics.json" in r.message for r in repairs)


def test_an_orphan_version_file_from_an_uncommitted_deploy_is_removed(registry):
    version = deploy(registry)
    orphan = registry.models_dir / "prod_model_20990101_000000.bin"
    orphan.write_bytes(tiny_model(5).to_bytes({"version": "20990101_000000"}))
    (registry.models_dir / ".prod_model.bin.abc.tmp").write_bytes(b"torn")
    registry.repair()
    assert not orphan.exists() and not list(registry.models_dir.glob(".*.tmp"))
    assert [v.version for v in registry.versions()] == [version]


def test_the_store_never_stores_bytes_that_would_not_load(registry):
    with registry.writing() as session, pytest.raises(CorruptModel):
        run = RunRecord(run_id="r", started_at="t", outcome="deployed")
        registry.deploy(session, "20250101_000000", b"not a model", run=run, reason="x")
    assert registry.pointers() == {}
    assert pack({"version": "v"}, b"payload").startswith(b"trading-engine model v1\n")


def deploy_forever(models_dir, ready):
    registry = ModelRegistry(models_dir, retention=5)
    models = [tiny_model(seed) for seed in range(3)]
    ready.send(True)
    i = 0
    while True:
        deploy(registry, model=models[i % 3])
        i += 1


@pytest.mark.slow
def test_sigkill_during_deploy_always_leaves_a_consistent_store(tmp_path):
    models = tmp_path / "models"
    deploy(ModelRegistry(models))
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
        registry = ModelRegistry(models, retention=5)
        registry.repair()
        pointers = registry.pointers()
        prod = decode_model(registry.prod_path.read_bytes(), "prod")
        assert prod.version == pointers["production"], f"attempt {attempt}"
        assert prod.model.predict_proba(np.zeros((1, 3))).shape == (1,)
        if "backup" in pointers:
            backup = decode_model(registry.backup_path.read_bytes(), "backup")
            assert backup.version == pointers["backup"] != prod.version
        record = json.loads(registry.metrics_path.read_text())
        assert record["version"] == prod.version
        assert not any(run.outcome == "running" for run in registry.history(limit=500)[1])
    assert torn_writes > 0, "no kill landed inside a write; the test proved nothing"
