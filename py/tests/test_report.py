"""`pgstaging report`: the page, rendered in headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from support import fetch_all, fetch_one, ledger, run_cli

CHROMIUM = os.environ.get("PGSTAGING_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "report.png"

HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
DOCUMENTS = [
    {"job_id": "R-1", "title": "Data Engineer", "location": "Berlin"},
    {"job_id": "R-1", "title": "Data Engineer (again)"},
    {"job_id": "R-2", "title": "Analyst"},
    {"job_id": "R-2", "title": "Analyst, once more"},
    {"job_id": "R-3"},
    {"job_id": "R-4"},
    {"title": "no id", "note": HOSTILE},
    {"job_id": "R-5", "title": "x" * 501},
    {
        "job_id": HOSTILE,
        "title": HOSTILE,
        "description": {"html": "</pre></td></table><b>bold?</b>"},
    },
]

pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} missing (make test installs it)"
)


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


def open_report(browser, path: Path):
    """The page, with every console error and every request that is not the file itself."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, errors, [u for u in requests if u != path.as_uri()]


def test_report_renders_the_run(db, owner, script, validator, actor_id, tmp_path, browser):
    run = owner.start_run()
    script.stage("postings", run, actor_id, DOCUMENTS)
    validator.promote("postings", run)
    output = tmp_path / f"run-{run}.html"
    done = run_cli("report", "--run", str(run), "-o", str(output), url=db.url("reader_login"))
    assert done.returncode == 0, done.stderr
    page, errors, requests = open_report(browser, output)
    assert errors == []
    assert requests == []  # self-contained: nothing fetched

    # The ledger shows what the database holds.
    counts = ledger(db.admin_url, run)
    row = page.locator('[data-testid=ledger] tr[data-table="postings"]')
    for column in ("staged", "pending", "promoted", "duplicate", "failed"):
        shown = row.locator(f'td[data-column="{column}"]').inner_text()
        assert int(shown.replace(",", "")) == counts[column], column
    assert counts["failed"] == 5 and counts["duplicate"] == 2

    # Failure groups and the chart: one bar per (field, error), with the database's counts.
    groups = fetch_all(
        db.admin_url,
        "SELECT e ->> 'field', e ->> 'error', count(DISTINCT s.staging_id)"
        " FROM postings_staging AS s, jsonb_array_elements(s.validation_errors) AS e"
        " WHERE s.workflow_run_id = %s"
        " AND s.outcome = 'failed' GROUP BY 1, 2",
        (run,),
    )
    shown = {
        (g.get_attribute("data-field"), g.get_attribute("data-error")): int(
            g.get_attribute("data-count")
        )
        for g in page.locator("[data-testid=group]").all()
    }
    assert shown == {(f, e): n for f, e, n in groups}
    bars = page.locator("[data-testid=chart-postings] text[data-count]").all()
    assert sorted(int(b.text_content().replace(",", "")) for b in bars) == sorted(
        n for _, _, n in groups
    )

    # Duplicates point at the production rows they duplicate.
    (posting_id,) = fetch_one(
        db.admin_url, "SELECT posting_id FROM postings WHERE external_job_id = 'R-1'"
    )
    duplicates = page.locator("[data-testid=duplicates-postings]").inner_text()
    assert str(posting_id) in duplicates and "Data Engineer (again)" in duplicates

    # The promotion log and the alert of this run.
    assert "promote" in page.locator("[data-testid=log]").inner_text()
    assert page.locator("[data-testid=alerts] tbody tr").count() == 1

    # Hostile raw data stays text: nothing ran, nothing became markup.
    page.locator("[data-testid=group] summary").first.click()
    for group in page.locator("[data-testid=group]").all():
        group.evaluate("g => g.open = true")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img").count() == 0
    assert page.locator("b").count() == 0
    text = page.locator("body").inner_text()
    assert "<script>window.__pwned = 1</script>" in text
    assert "<b>bold?</b>" in text
    SCREENSHOT.parent.mkdir(exist_ok=True)
    if os.environ.get("PGSTAGING_SCREENSHOT"):
        page.screenshot(path=str(SCREENSHOT), full_page=True)


def test_report_of_one_table(db, owner, script, validator, actor_id, tmp_path, browser):
    run = owner.start_run()
    script.stage("postings", run, actor_id, DOCUMENTS[:3])
    validator.promote("postings", run)
    output = tmp_path / "one.html"
    done = run_cli(
        "report",
        "--run",
        str(run),
        "--table",
        "postings",
        "-o",
        str(output),
        url=db.url("reader_login"),
    )
    assert done.returncode == 0, done.stderr
    page, errors, requests = open_report(browser, output)
    assert errors == [] and requests == []
    assert page.locator("[data-testid=ledger] tbody tr").count() == 1
    assert "No failed rows." in page.locator("[data-testid=table-postings]").inner_text()
    assert page.locator("[data-testid=alerts]").count() == 0  # no failures, no alert


def test_report_refuses_unknown_runs_and_tables(db, owner, tmp_path):
    done = run_cli(
        "report", "--run", "999999", "-o", str(tmp_path / "x.html"), url=db.url("reader_login")
    )
    assert done.returncode == 4, done.stderr
    run = owner.start_run()
    done = run_cli(
        "report",
        "--run",
        str(run),
        "--table",
        "nope",
        "-o",
        str(tmp_path / "x.html"),
        url=db.url("reader_login"),
    )
    assert done.returncode == 4, done.stderr
    assert not (tmp_path / "x.html").exists()
