"""The service layer, one role per module (after Qlib's ``workflow/online``).

* ``pipeline``: one retrain as a function of settings, a market snapshot, production and the
  clock, returning a typed run record (no threads, no file I/O beyond the store's API);
* ``schedule``: the cron triggers and the pure ``missed_run``;
* ``runner``: the writer's lock, background jobs, rollback, listeners and alerts;
* ``serving``: the production model cache and the predictor.
"""
