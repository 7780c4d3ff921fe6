"""Prometheus metrics: pgstaging.metrics(), `pgstaging metrics` and `pgstaging serve`."""

from __future__ import annotations

import urllib.request

import psycopg
import pytest
from pgstaging.metrics import serve_in_thread
from prometheus_client.parser import text_string_to_metric_families
from support import fetch_all, fetch_one, run_cli

DOCUMENTS = [
    {"job_id": "M-1", "title": "Engineer"},
    {"job_id": "M-1", "title": "Engineer again"},
    {"job_id": "M-2"},
    {"job_id": "M-3", "title": "x" * 501},
    {"title": "no id"},
    {"job_id": "M-4", "title": "Analyst"},
]


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    """GET /metrics over HTTP, parsed by prometheus_client: {(sample, labels): value}."""
    server = serve_in_thread(url)
    try:
        host, port = server.server_address[:2]
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=30) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain")
            text = response.read().decode()
        with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=30) as response:
            assert (response.status, response.read()) == (200, b"ok\n")
    finally:
        server.shutdown()
        server.server_close()
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def database_errors(url: str) -> dict[tuple[str, str], int]:
    rows = fetch_all(
        url,
        "SELECT e ->> 'field', e ->> 'error', count(*) FROM postings_staging AS s,"
        " jsonb_array_elements(s.validation_errors) AS e WHERE s.outcome = 'failed' GROUP BY 1, 2",
    )
    return {(f, e): n for f, e, n in rows}


def test_scraped_metrics_match_the_database(db, owner, script, validator, actor_id):
    first, second = owner.start_run(), owner.start_run()
    script.stage("postings", first, actor_id, DOCUMENTS)
    script.stage("postings", second, actor_id, [{"job_id": "M-9", "title": "Later"}, {}])
    validator.promote("postings", first)
    validator.retry("postings", first)  # the three failed rows fail again: counted again
    validator.unpromote("postings", first, reason="metrics test")

    samples = scrape(db.url("reader_login"))

    # Gauges: the second run is still pending.
    assert value(samples, "pgstaging_pending_rows", table="postings") == 2
    assert value(samples, "pgstaging_pending_rows", table="job_skills") == 0
    assert value(samples, "pgstaging_oldest_pending_age_seconds", table="postings") > 0
    # Counters, against the promotion log and the alerts table.
    for action, calls in fetch_all(
        db.admin_url, "SELECT action, count(*) FROM pgstaging.promotion_log GROUP BY 1"
    ):
        assert (
            value(samples, "pgstaging_promotions_total", table="postings", action=action) == calls
        )
    assert value(samples, "pgstaging_promotions_total", table="postings", action="retry") == 1
    logged = fetch_one(
        db.admin_url,
        "SELECT sum(promoted_count), sum(duplicate_count), sum(failed_count),"
        " sum(rolled_back_count) FROM pgstaging.promotion_log",
    )
    assert [
        value(samples, "pgstaging_staged_rows_total", table="postings", outcome=o)
        for o in ("promoted", "duplicate", "failed", "rolled_back")
    ] == [float(n) for n in logged]
    assert logged[2] == 6  # three failures, judged twice
    (alerts,) = fetch_one(db.admin_url, "SELECT count(*) FROM pgstaging.alerts")
    assert alerts == 3 and value(samples, "pgstaging_alerts_total") == alerts
    # Failures by field and error: every failed row was judged twice.
    errors = database_errors(db.admin_url)
    assert errors == {("title", "missing"): 1, ("title", "too long"): 1, ("job_id", "missing"): 1}
    for (field, error), n in errors.items():
        got = value(
            samples, "pgstaging_failed_rows_total", table="postings", field=field, error=error
        )
        assert got == 2 * n
    # The histogram counts promote and retry, not unpromote.
    count = value(samples, "pgstaging_promotion_duration_seconds_count", table="postings")
    assert count == 2
    assert (
        value(samples, "pgstaging_promotion_duration_seconds_bucket", table="postings", le="+Inf")
        == 2
    )
    (seconds,) = fetch_one(
        db.admin_url,
        "SELECT extract(epoch FROM sum(duration))::float8 FROM pgstaging.promotion_log"
        " WHERE action <> 'unpromote'",
    )
    assert value(
        samples, "pgstaging_promotion_duration_seconds_sum", table="postings"
    ) == pytest.approx(seconds)


def test_batch_mode_is_counted(db, owner, script, validator, actor_id):
    run = owner.start_run()
    script.stage("postings", run, actor_id, DOCUMENTS)
    validator.promote_all("postings", batch_size=4)
    samples = scrape(db.url("reader_login"))
    (batches,) = fetch_one(
        db.admin_url, "SELECT count(*) FROM pgstaging.promotion_log WHERE action = 'batch'"
    )
    assert batches >= 2
    assert value(samples, "pgstaging_promotions_total", table="postings", action="batch") == batches
    assert (
        value(
            samples,
            "pgstaging_failed_rows_total",
            table="postings",
            field="job_id",
            error="missing",
        )
        == 1
    )
    assert value(samples, "pgstaging_staged_rows_total", table="postings", outcome="promoted") == 2


def test_parallel_validators_do_not_wait_on_counters(db, owner, script, actor_id):
    """Two promotions of different runs, both uncommitted: neither waits on the other's counters."""
    runs = [owner.start_run(), owner.start_run()]
    for n, run in enumerate(runs):
        script.stage(
            "postings", run, actor_id, [{"job_id": f"P-{n}", "title": "t"}, {"job_id": f"P-{n}"}]
        )
    with db.connect("validator_login") as a, db.connect("validator_login") as b:
        a.execute("SELECT promote_postings_staging(%s)", (runs[0],))
        b.execute("SET lock_timeout = '2s'")
        b.execute("SELECT promote_postings_staging(%s)", (runs[1],))  # 55P03 if it waited
        a.commit()
        b.commit()
    samples = scrape(db.url("reader_login"))
    assert value(samples, "pgstaging_promotions_total", table="postings", action="promote") == 2
    assert (
        value(
            samples, "pgstaging_failed_rows_total", table="postings", field="title", error="missing"
        )
        == 2
    )
    # One of them folded, the other left its deltas: both are counted, once.
    (deltas,) = fetch_one(db.admin_url, "SELECT count(*) FROM pgstaging.metric_deltas")
    assert deltas > 0


def test_metrics_cli_prints_the_text_format(db, owner, script, validator, actor_id):
    run = owner.start_run()
    script.stage("postings", run, actor_id, DOCUMENTS)
    validator.promote("postings", run)
    done = run_cli("metrics", url=db.url("reader_login"))
    assert done.returncode == 0, done.stderr
    families = {f.name: f for f in text_string_to_metric_families(done.stdout)}
    assert families["pgstaging_promotions"].type == "counter"
    assert families["pgstaging_promotion_duration_seconds"].type == "histogram"
    assert families["pgstaging_pending_rows"].type == "gauge"


def test_scripts_may_not_read_metrics(db):
    with db.connect("script_login") as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT * FROM pgstaging.metrics()")


def test_failures_past_the_details_cap_are_counted(db, owner, script, validator, actor_id):
    """10,003 failures: the summary lists 10,000; the rest are counted from staging."""
    run = owner.start_run()
    script.stage("postings", run, actor_id, [{"job_id": f"T-{i}"} for i in range(10_003)])
    result = validator.promote("postings", run).as_json()
    assert result["failed_count"] == 10_003 and result.get("details_truncated") is True
    samples = scrape(db.url("reader_login"))
    got = value(
        samples, "pgstaging_failed_rows_total", table="postings", field="title", error="missing"
    )
    assert got == 10_003


def test_error_counts_from_the_summary_and_bounded_labels(db):
    """A summary's error_counts key is used as given; unknown fields become _other."""
    counts = (
        '[{"field": "title", "error": "missing", "count": 2},'
        ' {"field": "no such key", "error": "missing", "count": 5},'
        f' {{"field": "title", "error": "{"e" * 300}", "count": 1}}]'
    )
    with db.connect() as conn:
        conn.execute(
            "INSERT INTO pgstaging.promotion_log (table_name, action, failed_count, started_at,"
            " duration) VALUES ('postings', 'promote', 8, now(), '10 ms')"
        )
        conn.execute(
            "SELECT pgstaging.count_call(jsonb_build_object('failed_count', 8, 'error_counts',"
            " %s::jsonb))",
            (counts,),
        )
    samples = scrape(db.url("reader_login"))
    assert (
        value(
            samples, "pgstaging_failed_rows_total", table="postings", field="title", error="missing"
        )
        == 2
    )
    assert (
        value(
            samples,
            "pgstaging_failed_rows_total",
            table="postings",
            field="_other",
            error="missing",
        )
        == 5
    )
    assert (
        value(
            samples, "pgstaging_failed_rows_total", table="postings", field="title", error="e" * 100
        )
        == 1
    )
    assert (
        value(samples, "pgstaging_promotion_duration_seconds_bucket", table="postings", le="0.01")
        == 1
    )
