"""Live monitoring: the prediction log scored as outcomes arrive, drift, and the policies.

``monitor.py`` orchestrates, ``realised.py`` measures what predictions achieved, ``drift.py``
compares recent features with the training window, ``policies.py`` decides what to do. The
tables live in the store of record (``store/predictions.py``). Import the modules themselves:
this package imports nothing, so read commands stay light.
"""
