"""Import a library without the optional integrations it would import for nothing.

Several libraries import every package they could work with when it happens to be
installed: LightGBM imports scikit-learn (seconds) and pandas, TA-Lib imports pandas and
polars, only to recognise their types. This package hands them numpy arrays, so those imports
are pure start-up cost. ``import_hiding`` hides them while the library is imported: a
``None`` entry in ``sys.modules`` makes ``import pandas`` raise ``ModuleNotFoundError``, which
the libraries treat as "not installed". A package the process already imported is left
visible, and every hidden one is importable again as soon as the library is loaded.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Sequence
from types import ModuleType

_lock = threading.Lock()


def import_hiding(name: str, hidden: Sequence[str]) -> ModuleType:
    """Module ``name``, imported (once) while the packages ``hidden`` look not installed."""
    with _lock:
        if name in sys.modules:
            return sys.modules[name]
        hiding = [package for package in hidden if package not in sys.modules]
        for package in hiding:
            sys.modules[package] = None  # type: ignore[assignment]
        try:
            return importlib.import_module(name)
        finally:
            for package in hiding:
                if sys.modules.get(package, ...) is None:
                    del sys.modules[package]
