"""Every file of the store broken in every way, a read-only folder, a full disk.

Through the real entry points (the CLI's ``run`` and the app with its start-up): no traceback,
no 500, nothing deployed while reporting failure, a server that starts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import TODAY
from trading_engine.config import get_settings
from trading_engine.model_retraining import ModelRetrainingService
from trading_engine.server import create_app

SETTINGS_ENV = {
    "TRADING_ENGINE_MARKET__DEFAULT_STOCKS": "AAPL,MSFT,NVDA,AMZN,META",
    "TRADING_ENGINE_DATA__DEMO_DAYS": "700",
    "TRADING_ENGINE_DATA__DEMO_END": str(TODAY),
    "TRADING_ENGINE_RETRAINING__BOOTSTRAP_SAMPLES": "100",
    "TRADING_ENGINE_RETRAINING__LIGHTGBM__NUM_THREADS": "1",
}
READS = ("status", "history", "models", "info")
API_READS = (
    "/health",
    "/api/ml/retraining/status",
    "/api/ml/retraining/history",
    "/api/ml/models",
    "/api/ml/model/info",
)


@pytest.fixture
def trading_engine(cli_run, tmp_path):
    """The CLI's real entry, in this process, on ``workdir``'s models: (exit code, out, err)."""
    settings = {name.removeprefix("TRADING_ENGINE_"): value for name, value in SETTINGS_ENV.items()}

    def run(workdir: Path, *args: str) -> tuple[int, str, str]:
        models, logs = str(workdir / "models"), str(tmp_path / "logs")
        return cli_run(*args, **settings, PATHS__MODELS_DIR=models, PATHS__LOGS_DIR=logs)

    return run


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """Production, a backup and tuned parameters, made by the real service."""
    from trading_engine.config import load_settings

    workdir = tmp_path_factory.mktemp("template")
    settings = load_settings(
        market={"default_stocks": SETTINGS_ENV["TRADING_ENGINE_MARKET__DEFAULT_STOCKS"].split(",")},
        data={"demo_days": 700, "demo_end": str(TODAY)},
        retraining={"bootstrap_samples": 100, "lightgbm": {"num_threads": 1}},
        paths={"models_dir": workdir / "models", "logs_dir": workdir / "logs"},
    )
    service = ModelRetrainingService(settings)
    for _ in range(2):
        assert service.retrain_model(force=True)
    (workdir / "models" / "tuned_params.json").write_text(
        json.dumps({"tuned_at": "x", "params": {"num_leaves": 15}})
    )
    return workdir


def status_of(run, workdir: Path) -> dict:
    code, out, _ = run(workdir, "status", "--json")
    assert code == 0
    return json.loads(out)


def check_server_starts_and_answers_json(workdir: Path) -> None:
    get_settings.cache_clear()
    service = ModelRetrainingService(get_settings())
    app = create_app(service, start_scheduler=False)
    with TestClient(app, base_url="http://127.0.0.1:8000", raise_server_exceptions=False) as client:
        for path in API_READS:
            response = client.get(path)
            assert response.status_code < 500, (path, response.text)
            assert response.headers["content-type"].startswith("application/json"), path


def break_file(path: Path, how: str) -> None:
    if how == "deleted":
        path.unlink()
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 2)])
    else:
        path.write_bytes(
            {"garbage": b"garbage{", "[]": b"[]", "non-utf8": b"\xff\xfe\x00\x9c"}[how]
        )


FILES = (
    "prod_model.bin",
    "backup_model.bin",
    "production version file",
    "training_metrics.json",
    "registry.sqlite",
    "tuned_params.json",
)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["truncated", "garbage", "[]", "non-utf8", "deleted"])
@pytest.mark.parametrize("name", FILES)
def test_a_broken_store_file_never_gives_a_traceback_or_a_lie(
    template, tmp_path, trading_engine, name, how
):
    workdir = tmp_path / "case"
    shutil.copytree(template, workdir)
    before = status_of(trading_engine, workdir)
    production = before["production_version"]
    models = workdir / "models"
    target = models / (f"prod_model_{production}.bin" if name.startswith("production") else name)
    break_file(target, how)

    for command in READS:
        code, _, err = trading_engine(workdir, command, "--json")
        assert code == 0, f"{command}: {err}"
    check_server_starts_and_answers_json(workdir)
    status = status_of(trading_engine, workdir)
    assert status["production_version"] == production  # nothing lost, nothing invented

    code, out, err = trading_engine(workdir, "retrain", "--force", "--json")
    after = status_of(trading_engine, workdir)
    if code == 0:
        run = json.loads(out)
        assert run["outcome"] == "deployed" and after["production_version"] == run["version"]
        assert after["backup_version"] == production  # intact: every file had another copy
    else:
        assert after["production_version"] == production, err  # failed, so nothing deployed
    code, _, err = trading_engine(workdir, "rollback", "--json")
    assert code == 0, err
    info = json.loads(trading_engine(workdir, "info", "--json")[1])
    assert info["version"] == status_of(trading_engine, workdir)["production_version"]


def open_files_under(folder: str) -> list[str]:
    found = []
    for descriptor in os.listdir("/proc/self/fd"):
        with suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{descriptor}")
            if target.startswith(folder):
                found.append(target)
    return found


@contextmanager
def mounted(*args: str):
    """A mount for the test's body; afterwards nothing of ours may still hold a file there."""
    try:
        subprocess.run(["mount", *args], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"cannot mount here ({error}); needs root")
    try:
        yield
        assert not open_files_under(args[-1]), "files left open (a leaked connection?)"
    finally:
        subprocess.run(["umount", "-l", args[-1]], check=False, capture_output=True)


@pytest.mark.slow
def test_a_read_only_models_folder_reads_fine_and_refuses_writes_in_one_line(
    template, tmp_path, trading_engine
):
    workdir = tmp_path / "case"
    shutil.copytree(template, workdir)
    production = status_of(trading_engine, workdir)["production_version"]
    models = workdir / "models"
    with mounted("--bind", str(models), str(models)):
        subprocess.run(["mount", "-o", "remount,bind,ro", str(models)], check=True)
        for command in READS:
            code, _, err = trading_engine(workdir, command, "--json")
            assert code == 0, f"{command}: {err}"
        for command in (("retrain", "--force"), ("rollback",)):
            code, _, err = trading_engine(workdir, *command)
            assert code == 1 and "read-only" in err and len(err.strip().splitlines()) == 1, err
        check_server_starts_and_answers_json(workdir)
        get_settings.cache_clear()
        service = ModelRetrainingService(get_settings())
        with TestClient(
            create_app(service, start_scheduler=False), base_url="http://127.0.0.1:8000"
        ) as client:
            response = client.post("/api/ml/retraining/rollback")
            assert response.status_code == 503 and response.json()["error"] == "unavailable"
            assert client.post("/api/ml/retraining/trigger").status_code == 503
    assert status_of(trading_engine, workdir)["production_version"] == production


@pytest.mark.slow
def test_a_full_disk_fails_the_run_in_one_line_and_deploys_nothing(
    template, tmp_path, trading_engine
):
    workdir = tmp_path / "case"
    workdir.mkdir()
    models = workdir / "models"
    models.mkdir()
    with mounted("-t", "tmpfs", "-o", "size=4m", "tmpfs", str(models)):
        shutil.copytree(template / "models", models, dirs_exist_ok=True)
        production = status_of(trading_engine, workdir)["production_version"]
        filler = models / "filler"
        with filler.open("wb") as handle:  # fill the disk to the last byte
            try:
                while True:
                    handle.write(b"\0" * 65536)
                    handle.flush()
            except OSError:
                pass
        code, out, err = trading_engine(workdir, "retrain", "--force")
        assert code == 1 and "disk is full" in out + err, out + err
        assert status_of(trading_engine, workdir)["production_version"] == production
        filler.unlink()
        code, _, err = trading_engine(workdir, "retrain", "--force")
        assert code == 0, err
        assert status_of(trading_engine, workdir)["production_version"] != production
