"""The one way this package imports LightGBM.

Two things must happen before ``import lightgbm``, so every module goes through
``import_lightgbm()``:

* OpenMP's wait policy. By default libgomp's threads spin 300,000 times (a few ms) at every
  barrier before they sleep, and LightGBM meets thousands of barriers per training: on a
  shared machine the spinning threads take the cores the working ones need (two retrains at
  once took 4.6x the time of one after the other). Sleeping at once (``OMP_WAIT_POLICY=
  PASSIVE``) is no better on virtual machines, where waking a sleeping thread is slow: a lone
  50-ticker retrain took 6 s instead of 2.2 s. A short spin, about the gap between two of
  LightGBM's parallel regions, keeps both: ``GOMP_SPINCOUNT=1000`` (tens of microseconds)
  measured 2.3 s alone and 1.0x for two at once, where 100 was as slow as passive and 3,000
  already took 1.9x (bench/startup.py measures it). libgomp reads its settings once, when
  ``lib_lightgbm.so`` loads it, so the spin is set here unless the user chose a policy or a
  spin count.
* Optional integrations we do not use. When scikit-learn (a test-only dependency) is
  installed, ``lightgbm.compat`` imports it to offer its scikit-learn estimators, which takes
  seconds; it imports pandas (0.2 s) to recognise data frames, which this package never
  passes (it trains on numpy arrays); older LightGBM releases do the same with dask. Unless
  the process already imported them itself, they are hidden during the import
  (``_imports.import_hiding``): ``lgb.train``, ``lgb.Dataset`` and ``lgb.Booster`` do not
  depend on them. So is charset_normalizer: LightGBM needs scipy.sparse, whose array-API
  layer touches every numpy submodule, numpy.f2py included, which imports it (if installed)
  to guess the encoding of Fortran sources.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType

from .._imports import import_hiding

HIDDEN = ("sklearn", "pandas", "dask", "distributed", "charset_normalizer")
SPIN_COUNT = "1000"  # libgomp spins this many times at a barrier before it sleeps


def import_lightgbm() -> ModuleType:
    """``lightgbm``, imported with a short OpenMP spin and without scikit-learn or pandas."""
    user_chose = "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ
    if "lightgbm" not in sys.modules and not user_chose:
        os.environ["GOMP_SPINCOUNT"] = SPIN_COUNT
    return import_hiding("lightgbm", HIDDEN)
