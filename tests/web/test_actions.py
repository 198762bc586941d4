"""Actions from the dashboard in a real Chromium: retrain, rollback, and the API token."""

from __future__ import annotations

import pytest

from tests.web.conftest import TOKEN, api, artefacts_dir, prepare_store, serving

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dashboard-actions")]
JOB_TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> str:
    workdir = tmp_path_factory.mktemp("dashboard-actions")
    prepare_store(workdir)
    with serving(workdir) as url:
        yield url


@pytest.fixture(scope="module")
def token_base(tmp_path_factory) -> str:
    workdir = tmp_path_factory.mktemp("dashboard-token")
    prepare_store(workdir)
    with serving(workdir, TRADING_ENGINE_SERVER__API_TOKEN=TOKEN) as url:
        yield url


def production(base: str) -> str:
    return api(base, "/api/ml/retraining/status")["production_version"]


def test_a_retrain_started_in_the_ui_runs_to_the_end_and_the_timeline_shows_it(
    watched, base, tmp_path_factory
):
    before = production(base)
    page = watched.page
    watched.visit(base + "/")
    page.check("#retrain-form input[name=force]")  # deploys even on data it has seen
    page.click("#retrain-button")
    running = page.locator("#job-panel .job[data-status]")
    running.first.wait_for()  # htmx swapped in the job's own panel
    page.screenshot(path=str(artefacts_dir(tmp_path_factory) / "job-running.png"))
    final = page.locator("#job-panel .job[data-final]")
    final.wait_for(timeout=JOB_TIMEOUT_MS)
    assert final.get_attribute("data-status") == "succeeded", final.inner_text()
    after = production(base)
    assert after != before
    assert f"version {after}" in final.inner_text()
    # The page refreshed itself: the card shows the new production.
    page.wait_for_function(
        "v => document.querySelector('#production').innerText.includes(v)", arg=after
    )
    assert page.locator("#live-version").inner_text() == after
    page.screenshot(path=str(artefacts_dir(tmp_path_factory) / "job-finished.png"))
    watched.visit(base + "/timeline")
    newest = page.locator("#timeline-table tbody tr").first
    assert after in newest.inner_text() and "forced deploy" in newest.inner_text()
    assert after in page.evaluate("document.getElementById('timeline-data').textContent")
    watched.assert_clean()


def test_a_rollback_in_the_ui_changes_production(watched, base):
    models = api(base, "/api/ml/models")
    before, backup = models["production"], models["backup"]
    page = watched.page
    watched.visit(base + "/")
    page.select_option("#rollback-version", "")  # the backup
    page.click("#rollback-button")
    page.locator("#action-message.ok").wait_for()
    assert f"rolled back to model version {backup}" in page.locator("#action-message").inner_text()
    assert production(base) == backup
    page.wait_for_function(
        "v => document.querySelector('#production').innerText.includes(v)", arg=backup
    )
    # And a chosen version from its own page.
    watched.visit(f"{base}/versions/{before}")
    page.click("form[data-action=rollback] button")
    page.locator("#action-message.ok").wait_for()
    assert production(base) == before
    watched.visit(base + "/timeline")
    rows = page.locator("#timeline-table tbody tr")
    assert "rollback" in rows.nth(0).inner_text() and "rollback" in rows.nth(1).inner_text()
    watched.assert_clean()


def test_a_job_in_progress_survives_moving_to_another_page(watched, base):
    page = watched.page
    watched.visit(base + "/")
    page.click("#retrain-button")
    page.locator("#job-panel .job[data-status]").first.wait_for()
    watched.visit(base + "/runs")  # the panel comes back on the next page and keeps polling
    final = page.locator("#job-panel .job[data-final]")
    final.wait_for(timeout=JOB_TIMEOUT_MS)
    assert final.get_attribute("data-status") in ("succeeded", "rejected"), final.inner_text()
    job_id = final.get_attribute("data-job")
    assert api(base, f"/api/ml/retraining/jobs/{job_id}")["status"] == final.get_attribute(
        "data-status"
    )
    page.wait_for_function(
        "id => document.querySelector('#runs-table').innerText.includes(id)", arg=job_id
    )
    watched.assert_clean()


def test_with_a_token_set_an_action_without_it_is_refused(watched, token_base):
    before = production(token_base)
    page = watched.page
    watched.visit(token_base + "/")
    # The API refuses the page's own same-origin write without the token...
    answer = page.evaluate(
        """async () => {
            const r = await fetch('/api/ml/retraining/rollback', {method: 'POST'});
            return {status: r.status, body: await r.json()};
        }"""
    )
    assert answer["status"] == 401 and answer["body"]["error"] == "unauthorized"
    # ...and so it does through the UI, when the dialog is cancelled or the token is wrong.
    page.click("#rollback-button")
    page.locator("#token-dialog[open]").wait_for()
    page.click("#token-cancel")
    page.locator("#action-message.error").wait_for()
    assert "missing or wrong API token" in page.locator("#action-message").inner_text()
    page.click("#rollback-button")
    page.fill("#token-input", "not-the-token-but-long-enough")
    page.click("#token-form button[type=submit]")
    page.wait_for_function(
        "() => document.querySelector('#action-message').innerText.includes('not accepted')"
    )
    assert production(token_base) == before
    refusals = [p for p in watched.problems if "401" in p]
    assert len(refusals) == 6, refusals  # each of the 3 refusals: a response and its console line
    watched.assert_clean(allow=("401",))


def test_with_a_token_set_the_ui_asks_once_and_the_action_runs(watched, token_base):
    models = api(token_base, "/api/ml/models")
    before, backup = models["production"], models["backup"]
    page = watched.page
    watched.visit(token_base + "/")
    page.click("#rollback-button")
    page.fill("#token-input", TOKEN)
    page.click("#token-form button[type=submit]")
    page.locator("#action-message.ok").wait_for()
    assert production(token_base) == backup
    # Once per session: the next action sends the kept token without asking.
    watched.visit(f"{token_base}/versions/{before}")
    page.click("form[data-action=rollback] button")
    page.locator("#action-message.ok").wait_for()
    assert not page.locator("#token-dialog").evaluate("d => d.open")
    assert production(token_base) == before
    watched.assert_clean()
