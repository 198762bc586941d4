"""Threads are sized by the cores this process may use, not by the machine's."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers import SOURCE

PINNED = """
import os
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # as `taskset -c N` or a cpuset does
from trading_engine.config import load_settings
from trading_engine.cores import available_cores
from trading_engine.training.trainer import fold_workers, lightgbm_params
settings = load_settings().retraining
print(available_cores(), lightgbm_params(settings)["num_threads"], fold_workers({}, 5, settings)[0])
"""


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this OS")
def test_a_process_pinned_to_one_core_trains_with_one_thread():
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TRADING_ENGINE_")}
    result = subprocess.run(
        [sys.executable, "-c", PINNED],
        capture_output=True,
        text=True,
        env={**environment, "PYTHONPATH": str(SOURCE)},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "1", "1"]  # cores, LightGBM threads, folds at once
