"""LightGBM comes in through ``training._lightgbm``: no scikit-learn or pandas, a short spin."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers import SOURCE, modules_loaded_by

TRAIN = """
import os, sys
import numpy as np
from trading_engine.training.trainer import lgb
X = np.random.default_rng(0).normal(size=(300, 3))
y = (X[:, 0] > 0).astype(float)
booster = lgb.train(
    {"objective": "binary", "verbosity": -1, "num_threads": 2}, lgb.Dataset(X, y), 5
)
booster = lgb.Booster(model_str=booster.model_to_string())
assert booster.predict(X[:3]).shape == (3,)
hidden = ("sklearn", "pandas", "dask", "distributed")
print(sorted(m for m in sys.modules if m.split(".")[0] in hidden))
import sklearn, pandas  # hidden only while LightGBM was imported: still there for whoever asks
"""


def run(script: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "GOMP_"))}
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**environment, "PYTHONPATH": str(SOURCE), "OMP_DISPLAY_ENV": "VERBOSE", **env},
        timeout=120,
    )


def test_training_imports_neither_scikit_learn_nor_pandas_and_spins_briefly():
    result = run(TRAIN)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"
    # libgomp prints what it read when lib_lightgbm.so loaded it: its threads spin 1,000 times
    # at a barrier before they sleep, not 300,000 (its default, see the control below).
    assert "GOMP_SPINCOUNT = '1000'" in result.stderr


def test_a_wait_policy_or_spin_count_the_user_chose_is_kept():
    result = run("from trading_engine.training import trainer", OMP_WAIT_POLICY="PASSIVE")
    assert result.returncode == 0, result.stderr
    assert "OMP_WAIT_POLICY = 'PASSIVE'" in result.stderr
    assert "GOMP_SPINCOUNT = '0'" in result.stderr
    result = run("from trading_engine.training import trainer", GOMP_SPINCOUNT="20000")
    assert result.returncode == 0, result.stderr
    assert "GOMP_SPINCOUNT = '20000'" in result.stderr


def test_the_check_sees_libgomps_default_spin():
    # Negative control: LightGBM imported directly keeps libgomp's default spin.
    result = run("import lightgbm")
    assert result.returncode == 0, result.stderr
    assert "GOMP_SPINCOUNT = '300000'" in result.stderr


def test_the_check_sees_scikit_learn():
    # Negative control: a bare `import lightgbm` loads scikit-learn when it is installed (it is,
    # for the tests), and the same check then finds it.
    assert "sklearn" in modules_loaded_by("import lightgbm")
