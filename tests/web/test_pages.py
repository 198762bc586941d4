"""Every dashboard page in a real Chromium: loads clean, fits a phone, charts draw, no-JS reads."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.web.conftest import (
    MONITOR_DAYS,
    WIDTHS,
    Watched,
    api,
    artefacts_dir,
    monitor_days,
    prepare_store,
    serving,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dashboard-pages")]


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> str:
    workdir = tmp_path_factory.mktemp("dashboard-pages")
    prepare_store(workdir, replay=True)
    monitor_days(workdir, stale_after=4)  # 9 days of the monitoring job, then a stale day
    with serving(workdir) as url:
        yield url


@pytest.fixture(scope="module")
def store(base) -> dict:
    """What the API says about the store the pages must show."""
    history = api(base, "/api/ml/retraining/history")
    return {
        "status": api(base, "/api/ml/retraining/status"),
        "models": api(base, "/api/ml/models"),
        "runs": history["items"],
        "monitoring": api(base, "/api/ml/monitoring"),
    }


def pages(store: dict) -> dict[str, tuple[str, str]]:
    """Page name: (path, a heading the page must show)."""
    run = store["runs"][0]
    backup = store["models"]["backup"]
    return {
        "overview": ("/", "Overview"),
        "timeline": ("/timeline", "Timeline"),
        "runs": ("/runs", "Runs"),
        "runs-deployed": ("/runs?outcome=deployed", "Runs"),
        "run": (f"/runs/{run['run_id']}", f"Run {run['run_id']}"),
        "version": (f"/versions/{backup}", f"Version {backup}"),
        "monitoring": ("/monitoring", "Monitoring"),
        "replay": ("/replay", "Replay"),
        "alerts": ("/alerts", "Alerts"),
    }


@pytest.mark.parametrize("device", list(WIDTHS))
def test_every_page_loads_with_no_error_and_fits_the_screen(
    browser, base, store, device, tmp_path_factory
):
    folder = artefacts_dir(tmp_path_factory)
    context = browser.new_context(viewport={"width": WIDTHS[device], "height": 900})
    watched = Watched(context.new_page())
    page = watched.page
    try:
        for name, (path, heading) in pages(store).items():
            watched.visit(base + path)
            assert page.locator("h1").first.inner_text().startswith(heading), name
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{name} is {overflow} px wider than a {device} screen"
            shot = folder / f"{name}-{device}.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 5000
            watched.assert_clean()
    finally:
        context.close()


def test_the_overview_shows_production_its_gates_and_the_last_run(watched, base, store):
    watched.visit(base + "/")
    page = watched.page
    status = store["status"]
    card = page.locator("#production")
    assert status["production_version"] in card.inner_text()
    assert status["backup_version"] in card.inner_text()
    gates = page.locator("#production table.gates tbody tr")
    names = [gates.nth(i).locator("td").first.inner_text() for i in range(gates.count())]
    assert names[:2] == ["min_f1_score", "min_accuracy"] and "lookahead" in names
    last = page.locator("#last-run").inner_text()
    assert status["last_run"]["run_id"] in last and status["last_run"]["reason"] in last
    assert "Daily retrain" in last and "Weekly full retrain" in last
    assert "ok" in page.locator("#health").inner_text()
    watched.assert_clean()


def canvas_ink(page, selector: str) -> dict:
    """Size of the chart's canvas and how many of its pixels are drawn."""
    return page.evaluate(
        """(selector) => {
            const canvas = document.querySelector(selector + ' canvas');
            if (!canvas) return {width: 0, height: 0, inked: 0};
            const context = canvas.getContext('2d');
            const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
            let inked = 0;
            for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked++;
            return {width: canvas.width, height: canvas.height, inked: inked};
        }""",
        selector,
    )


def test_the_timeline_chart_draws_every_deployment_and_a_click_opens_a_version(
    watched, base, store
):
    watched.visit(base + "/timeline")
    page = watched.page
    ink = canvas_ink(page, "#timeline-chart")
    assert ink["width"] > 200 and ink["height"] > 100 and ink["inked"] > 500, ink
    data = page.evaluate("JSON.parse(document.getElementById('timeline-data').textContent)")
    versions = [v["version"] for v in store["models"]["versions"]]
    assert sorted(data["versions"]) == sorted(versions) and data["kinds"][-1] == "now"
    rows = page.locator("#timeline-table tbody tr")
    assert rows.count() == 2
    assert "forced deploy" in rows.first.inner_text()  # newest first: the forced retrain
    # A click at the chart's right edge lands on the version live now.
    box = page.locator("#timeline-chart .u-over").bounding_box()
    page.mouse.click(box["x"] + box["width"] - 3, box["y"] + box["height"] / 2)
    page.wait_for_url(re.compile(r"/versions/"))
    assert (
        page.locator("h1")
        .inner_text()
        .startswith(f"Version {store['status']['production_version']}")
    )
    # And a version in the table opens that version.
    watched.visit(base + "/timeline")
    backup = store["models"]["backup"]
    page.locator(f"#timeline-table a[href='/versions/{backup}']").first.click()
    page.wait_for_url(f"**/versions/{backup}")
    assert "backup" in page.locator("h1").inner_text()
    watched.assert_clean()


def test_the_runs_chart_draws_and_the_filter_narrows_the_table(watched, base, store):
    watched.visit(base + "/runs")
    page = watched.page
    ink = canvas_ink(page, "#runs-chart")
    assert ink["width"] > 200 and ink["inked"] > 500, ink
    assert page.locator("#runs-table tbody tr").count() == len(store["runs"])
    page.select_option("#outcome-filter", "rejected")
    page.wait_for_url("**/runs?outcome=rejected")
    assert "No runs with outcome rejected" in page.locator("#runs-table").inner_text()
    page.select_option("#outcome-filter", "deployed")
    page.wait_for_url("**/runs?outcome=deployed")
    assert page.locator("#runs-table tbody tr").count() == 2
    page.locator("#runs-table tbody tr a").first.click()
    page.wait_for_url(re.compile(r"/runs/run_"))
    assert page.locator("#folds tbody tr").count() >= 2  # walk-forward folds
    assert "min_f1_score" in page.locator("table.gates").inner_text()
    watched.assert_clean()


def test_the_replay_page_shows_the_report_its_charts_and_nothing_else_of_the_folder(watched, base):
    watched.visit(base + "/replay")
    page = watched.page
    report = page.locator("#replay-monthly")
    assert "monthly from" in report.locator("h2").inner_text()
    rows = report.locator("table.replay-table tbody tr")
    names = [rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())]
    assert names[0] == "policy (gates)" and "never_retrain" in names and "always_up" in names
    images = report.locator(".charts img")
    assert images.count() == 3
    for i in range(3):  # every chart loaded and has pixels
        size = images.nth(i).evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]")
        assert size[0] and size[1] > 100 and size[2] > 100, size
    page.click("#replay-monthly a[href$='report.html']")
    page.wait_for_url("**/replay/monthly/report.html")
    watched.assert_clean()
    for path in ("/replay/monthly/predictions.parquet", "/replay/monthly/store", "/replay/x/a"):
        answer = httpx.get(base + path, timeout=10)
        assert answer.status_code == 404 and answer.json()["error"] == "not_found", path


def test_pages_read_as_tables_with_javascript_off(browser, base, store):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(base + "/timeline")
        assert page.locator("#timeline-table tbody tr").count() == 2
        page.goto(base + "/runs")
        assert page.locator("#runs-table tbody tr").count() == len(store["runs"])
        page.goto(base + "/")
        assert store["status"]["production_version"] in page.locator("#production").inner_text()
        assert page.locator("#realised tbody tr").count() == 2
        page.goto(base + "/monitoring")
        drift = store["monitoring"]["drift"]["features"]
        assert page.locator("#drift-table tbody tr").count() == len(drift)
        assert page.locator("#series-table tbody tr").count() == len(store["monitoring"]["series"])
        assert page.locator("#events-table tbody tr").count() == 1
    finally:
        context.close()


def test_alerts_are_newest_first(watched, base):
    watched.visit(base + "/alerts")
    entries = watched.page.locator(".alert-entry")
    assert entries.count() >= 2
    stamps = [entries.nth(i).locator(".muted").first.inner_text() for i in range(entries.count())]
    assert stamps == sorted(stamps, reverse=True)
    texts = [entries.nth(i).inner_text() for i in range(entries.count())]
    assert "stale data" in texts[0]  # the monitoring job's alert came last
    assert "deployed by force" in texts[1]  # the last retrain's alert
    watched.assert_clean()


def test_the_monitoring_page_charts_realised_accuracy_lists_drift_and_the_actions(
    watched, base, store
):
    report = store["monitoring"]
    assert report["empty"] is False and report["snapshot_at"] is not None
    watched.visit(base + "/monitoring")
    page = watched.page
    # Daily realised accuracy of production and its shadow: the first 4 dates are scored.
    series = report["series"]
    assert len(series) == MONITOR_DAYS - 5
    # On the first date the deploys logged the shadow's rows while it was production: they
    # count for that version, not for the shadow role.
    assert [p["shadow_accuracy"] is not None for p in series] == [False, True, True, True]
    data = page.evaluate("JSON.parse(document.getElementById('monitoring-data').textContent)")
    for key in ("production_accuracy", "shadow_accuracy", "production_auc", "shadow_auc"):
        assert data[key] == [p[key] for p in series], key
    assert any(value is not None for value in data["production_auc"])
    for chart, metric in (("#monitoring-chart", "accuracy"), ("#monitoring-auc-chart", "AUC")):
        ink = canvas_ink(page, chart)
        assert ink["width"] > 200 and ink["height"] > 100 and ink["inked"] > 500, (chart, ink)
        legend = page.locator(chart).inner_text()
        assert f"production {metric}" in legend and f"shadow {metric}" in legend
    # Production against its shadow on the same rows, and every rolling window.
    comparison = page.locator("#comparison-table").inner_text()
    assert report["production_version"] in comparison and report["shadow_version"] in comparison
    windows = page.locator("#windows-table tbody tr")
    assert windows.count() == len(report["windows"])
    # Drift: every feature of production, with its PSI, test and verdict.
    rows = page.locator("#drift-table tbody tr")
    features = report["drift"]["features"]
    assert rows.count() == len(features) > 0
    for i, feature in enumerate(features):
        cells = rows.nth(i).locator("td")
        assert cells.nth(0).inner_text() == feature["feature"]
        assert cells.nth(2).inner_text() == feature["test"]
        assert cells.nth(7).inner_text() == ("yes" if feature["drifted"] else "no")
    # Freshness: the last run saw no new bar for 4 business days.
    freshness = page.locator("#monitoring-freshness").inner_text()
    assert "stale" in freshness and report["freshness"]["newest_bar"] in freshness
    assert "training base rate" in freshness
    # The policy action: the stale-data pause, newest first.
    [event] = report["events"]
    assert event["kind"] == "stale_data"
    actions = page.locator("#events-table tbody tr")
    assert actions.count() == 1 and "stale data" in actions.first.inner_text()
    assert "paused" in page.locator("#monitoring-summary").inner_text()
    watched.assert_clean()


def test_the_overview_shows_production_realised_beside_its_claim(watched, base, store):
    report = store["monitoring"]
    production = store["status"]["production_version"]
    figures = report["by_version"][production]
    assert figures["rows"] > 0
    watched.visit(base + "/")
    table = watched.page.locator("#realised")
    accuracy = table.locator("tbody tr").first.locator("td")
    assert accuracy.nth(0).inner_text() == "accuracy"
    assert accuracy.nth(1).inner_text() == f"{figures['accuracy']:.4f}"
    card = watched.page.locator("#production").inner_text()
    assert f"{figures['rows']} scored prediction(s)" in card
    watched.assert_clean()
