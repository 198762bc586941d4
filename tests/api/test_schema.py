"""Schemathesis against the app's own OpenAPI schema: no input gives a server error."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.api.conftest import small_settings
from trading_engine.model_retraining import ModelRetrainingService
from trading_engine.server import create_app


def trained_app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("schema")
    base = small_settings(folder, api_token="schema-token-0123456789")
    tuned = base.retraining.model_copy(
        update={"tuning": base.retraining.tuning.model_copy(update={"n_trials": 2})}
    )
    service = ModelRetrainingService(base.model_copy(update={"retraining": tuned}))
    assert service.retrain_model(force=True)
    assert service.retrain_model(force=True)  # so a backup exists for rollbacks
    return create_app(service, start_scheduler=False)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return trained_app(tmp_path_factory)


@pytest.mark.slow
def test_no_input_gives_a_server_error(app):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 12  # every endpoint is in the schema
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        def no_server_error(case):
            case.call_and_validate(
                checks=[not_a_server_error],
                headers={"Authorization": "Bearer schema-token-0123456789"},
            )

        no_server_error()
