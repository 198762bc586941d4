"""The one way this package imports LightGBM.

Two things must happen before ``import lightgbm``, so every module goes through
``import_lightgbm()``:

* OpenMP's wait policy. By default libgomp's threads spin (300,000 times, a few ms) at every
  barrier before they sleep, and LightGBM meets thousands of barriers per training: on a
  shared machine the spinning threads take the cores the working ones need, and a retrain
  runs many times slower. ``PASSIVE`` makes them sleep at once. libgomp reads
  ``OMP_WAIT_POLICY`` once, when ``lib_lightgbm.so`` loads it, so it is set here unless the
  user chose a policy.
* Optional integrations we do not use. When scikit-learn (a test-only dependency) is
  installed, ``lightgbm.compat`` imports it to offer its scikit-learn estimators, which takes
  seconds; older LightGBM releases do the same with dask. Unless the process already imported
  them itself, they are hidden during the import, which LightGBM treats as "not installed"
  (``SKLEARN_INSTALLED = False``): ``lgb.train``, ``lgb.Dataset`` and ``lgb.Booster`` do not
  depend on them.
"""

from __future__ import annotations

import os
import sys
import threading
from types import ModuleType

HIDDEN = ("sklearn", "dask", "distributed")

_lock = threading.Lock()


def import_lightgbm() -> ModuleType:
    """``lightgbm``, imported with a passive OpenMP wait policy and without scikit-learn."""
    with _lock:
        if "lightgbm" in sys.modules:
            return sys.modules["lightgbm"]
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        # A None entry makes `import sklearn` raise ImportError, as if it were not installed.
        hidden = [name for name in HIDDEN if name not in sys.modules]
        for name in hidden:
            sys.modules[name] = None  # type: ignore[assignment]
        try:
            import lightgbm
        finally:
            for name in hidden:
                if sys.modules.get(name, ...) is None:
                    del sys.modules[name]
        return lightgbm
