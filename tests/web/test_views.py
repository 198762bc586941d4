"""The dashboard in-process: pages from the service the API uses, alerts.log, vendored files."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.api.conftest import wait_for_job
from trading_engine.web import alerts_log, views
from trading_engine.web.routes import STATIC

LOG = """ide to the last entry, torn by the tail read
[2026-11-24 02:00:05] Model Retraining Success
✅ New model deployed successfully!

Training Duration: 3.1s
- F1 Score: 0.754

[2026-11-24 03:00:09] Model Rollback
🔄 Rolled back from B to A.

Reason: manual rollback
"""


def test_alerts_are_read_newest_first_and_a_torn_head_is_dropped(tmp_path):
    path = tmp_path / "alerts.log"
    path.write_text(LOG, encoding="utf-8")
    entries, truncated = alerts_log.read_alerts(path)
    assert [(e.at, e.title, e.emoji, e.headline) for e in entries] == [
        ("2026-11-24 03:00:09", "Model Rollback", "🔄", "Rolled back from B to A."),
        (
            "2026-11-24 02:00:05",
            "Model Retraining Success",
            "✅",
            "New model deployed successfully!",
        ),
    ]
    assert entries[1].lines == ["Training Duration: 3.1s", "- F1 Score: 0.754"]
    assert truncated is False
    assert alerts_log.read_alerts(path, limit=1) == ([entries[0]], True)
    assert alerts_log.read_alerts(tmp_path / "none.log") == ([], False)


def test_only_the_tail_of_a_huge_log_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(alerts_log, "TAIL_BYTES", 200)
    path = tmp_path / "alerts.log"
    path.write_text(LOG * 10, encoding="utf-8")
    entries, truncated = alerts_log.read_alerts(path)
    assert truncated and 1 <= len(entries) <= 2 and entries[0].title == "Model Rollback"


@pytest.mark.parametrize(
    ("seconds", "said"),
    [(0, "0 s"), (59, "59 s"), (61, "1 min"), (3700, "1 h 1 min"), (90061, "1 d 1 h")],
)
def test_describe_age(seconds, said):
    assert views.describe_age(seconds) == said


def test_pages_before_any_model_say_so(client):
    overview = client.get("/")
    assert overview.status_code == 200 and "No production model yet" in overview.text
    assert "Nothing has been deployed yet" in client.get("/timeline").text
    assert "No runs" in client.get("/runs").text
    assert "No alerts yet" in client.get("/alerts").text


def test_the_monitoring_page_before_any_prediction_is_an_empty_state(client):
    page = client.get("/monitoring")
    assert page.status_code == 200 and page.headers["server-timing"].startswith("app;dur=")
    api = client.get("/api/ml/monitoring").json()
    assert api["empty"] is True
    assert "Nothing logged yet" in page.text and api["message"] in page.text
    assert "No action yet" in page.text and 'data-chart="monitoring"' not in page.text
    assert '<a href="/monitoring" aria-current="page">Monitoring</a>' in page.text


def test_logged_but_not_yet_scored(trained):
    """A deploy logs production's predictions; no monitoring job has run nor scored them."""
    deadline = time.monotonic() + 30  # the deploy's listener logs just after the job ends
    while (api := trained.get("/api/ml/monitoring").json())["empty"]:
        assert time.monotonic() < deadline, "the deploy logged no prediction"
        time.sleep(0.05)
    assert api["empty"] is False and api["snapshot_at"] is None and api["counts"]["live"] > 0
    page = trained.get("/monitoring").text
    assert "No monitoring report yet" in page and "Nothing logged yet" not in page
    assert f"{api['counts']['live']} live, 0 backfilled" in page
    overview = trained.get("/").text
    assert "Not yet scored" in overview and 'id="realised"' not in overview


def test_the_monitoring_chart_reads_the_series_by_date():
    chart = views.monitoring_chart(
        [
            {"as_of": "2026-11-24", "production_accuracy": 0.6, "shadow_accuracy": None},
            {"as_of": "2026-11-25", "production_accuracy": 0.4, "shadow_accuracy": 0.5},
        ]  # a report from before the series had AUC: none drawn
    )
    assert chart == {
        "times": [1795478400, 1795564800],
        "production_accuracy": [0.6, 0.4],
        "shadow_accuracy": [None, 0.5],
        "production_auc": [None, None],
        "shadow_auc": [None, None],
    }


def test_pages_show_what_the_api_shows(trained):
    status = trained.get("/api/ml/retraining/status").json()
    version, run = status["production_version"], status["last_run"]
    overview = trained.get("/")
    assert overview.headers["content-type"].startswith("text/html")
    assert overview.headers["server-timing"].startswith("app;dur=")
    assert version in overview.text and run["reason"] in overview.text
    assert f'href="/versions/{version}"' in trained.get("/timeline").text
    runs = trained.get("/runs?outcome=deployed").text
    assert run["run_id"] in runs and "deployed (1)" in runs
    assert run["run_id"] in trained.get("/runs?outcome=nonsense").text  # unknown: all runs
    assert "min_f1_score" in trained.get(f"/runs/{run['run_id']}").text
    assert "Never in production" not in trained.get(f"/versions/{version}").text
    job = trained.get(f"/ui/jobs/{run['job_id']}").text
    assert 'data-final="true"' in job and "succeeded" in job and "hx-get" not in job


def test_a_running_job_panel_polls_until_it_ends(trained):
    job_id = trained.post("/api/ml/retraining/trigger").json()["job_id"]
    first = trained.get(f"/ui/jobs/{job_id}").text
    wait_for_job(trained, job_id)
    last = trained.get(f"/ui/jobs/{job_id}").text
    assert 'data-final="true"' in last and "hx-get" not in last
    assert ('hx-trigger="every 1s"' in first) != ('data-final="true"' in first)


def test_unknown_things_are_html_404_pages(trained):
    for path, said in [
        ("/runs/run_nope", "no run &#39;run_nope&#39;"),
        ("/versions/20200101_000000", "no stored version"),
    ]:
        answer = trained.get(path)
        assert answer.status_code == 404 and said in answer.text, path
    assert "No job nope" in trained.get("/ui/jobs/nope").text
    assert trained.get("/static/nope.js").json()["error"] == "not_found"  # the API's JSON shape


def test_vendored_libraries_ship_with_their_licences_and_are_served(client):
    vendor = Path(STATIC) / "vendor"
    names = {path.name for path in vendor.iterdir()}
    assert {"htmx-LICENSE.txt", "uPlot-LICENSE.txt"} <= names
    for name in ("htmx-2.0.11.min.js", "uPlot-1.6.32.iife.min.js", "uPlot-1.6.32.min.css"):
        assert client.get(f"/static/vendor/{name}").status_code == 200, name
    base = client.get("/").text
    assert "http://" not in base.replace("http://www.w3.org", "") and "https://" not in base


def test_dashboard_routes_stay_out_of_the_api_schema(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert all(path.startswith(("/api/", "/health", "/metrics")) for path in paths)


def test_replay_reports_are_the_folders_with_a_summary_and_serve_only_their_own_files(tmp_path):
    from trading_engine.web import replays

    (tmp_path / "weekly").mkdir()
    (tmp_path / "weekly" / "summary.json").write_text('{"steps": 3}')
    (tmp_path / "weekly" / "rolling_auc.png").write_bytes(b"png")
    (tmp_path / "weekly" / "predictions.parquet").write_bytes(b"rows")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "summary.json").write_text("[1, 2")
    (tmp_path / "empty").mkdir()
    found = {report.key: report for report in replays.reports(tmp_path)}
    assert set(found) == {"weekly", "broken"}
    assert found["weekly"].summary == {"steps": 3} and found["weekly"].charts == [
        ("rolling_auc.png", "Rolling realised AUC")
    ]
    assert found["broken"].problem.startswith("summary.json is unreadable")
    assert replays.served_file(tmp_path, "weekly", "rolling_auc.png") == (
        tmp_path / "weekly" / "rolling_auc.png"
    )
    for key, name in [("weekly", "predictions.parquet"), ("weekly", "model_age.png"), ("x", "y")]:
        assert replays.served_file(tmp_path, key, name) is None
    assert replays.reports(tmp_path / "missing") == []


def test_the_replay_page_without_reports_says_how_to_make_one(client):
    page = client.get("/replay")
    assert page.status_code == 200 and "No replay report in" in page.text
