"""Targets, the Markdown table and the chart, from bench/run.py's results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

MIB = 2**20


def _by_key(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The last measurement of each key that is not per size (ingest, validator)."""
    return {m["key"]: m for m in results["measurements"] if m["section"] != "scale"}


def _scale(results: dict[str, Any], kind: str, rows: int) -> float:
    return results["scale"][kind][str(rows)]


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets as ratios, each with its verdict."""
    _small, mid, big = results["sizes"]["scale"]
    m = _by_key(results)
    promote_mid = _scale(results, "promote", mid)
    promote_rate = mid / promote_mid
    fetcher = max(m["fetcher_per_row"], m["fetcher_shared"], key=lambda x: x["rate"])
    slack = 1.2  # 20% over linear
    mem_small, mem_big = results["memory"]

    def target(name: str, ratio: float, op: str, required: float, how: str) -> dict[str, Any]:
        passed = ratio <= required if op == "<=" else ratio >= required
        return {
            "target": name,
            "ratio": ratio,
            "op": op,
            "required": required,
            "passed": passed,
            "how": how,
        }

    cpu_p = results["scale_cpu"]["promote"][str(mid)]
    cpu_f = results["scale_cpu"]["floor"][str(mid)]
    cpu_note = f"; server CPU {cpu_p / cpu_f:.2f}x" if cpu_p and cpu_f else ""
    return [
        target(
            f"promotion time vs the floor's, {mid:,} rows",
            promote_mid / _scale(results, "floor", mid),
            "<=",
            1.3,
            f"{promote_mid:.2f} s / {_scale(results, 'floor', mid):.2f} s{cpu_note}",
        ),
        target(
            "promotion rows/s vs the design validator's",
            promote_rate / m["design_validator"]["rate"],
            ">=",
            200,
            f"{promote_rate:,.0f} / {m['design_validator']['rate']:,.1f} rows/s; the floor: "
            f"{mid / _scale(results, 'floor', mid) / m['design_validator']['rate']:.0f}x",
        ),
        target(
            "ingest rows/s, stage_copy vs the faster design fetcher",
            m["stage_copy"]["rate"] / fetcher["rate"],
            ">=",
            30,
            f"{m['stage_copy']['rate']:,.0f} / {fetcher['rate']:,.0f} rows/s "
            f"(the faster fetcher: {fetcher['key']})"
            + (
                f"; COPY into a bare table: {m['copy_ceiling']['rate'] / fetcher['rate']:.1f}x"
                if "copy_ceiling" in m
                else ""
            ),
        ),
        target(
            "ingest rows/s, stage_copy vs the design fetcher as written (connection per row)",
            m["stage_copy"]["rate"] / m["fetcher_per_row"]["rate"],
            ">=",
            30,
            f"{m['stage_copy']['rate']:,.0f} / {m['fetcher_per_row']['rate']:,.0f} rows/s",
        ),
        target(
            "ingest rows/s, stage vs the faster design fetcher",
            m["stage"]["rate"] / fetcher["rate"],
            ">=",
            30,
            f"{m['stage']['rate']:,.0f} / {fetcher['rate']:,.0f} rows/s",
        ),
        target(
            f"promotion time, {big:,} vs {mid:,} rows",
            _scale(results, "promote", big) / promote_mid,
            "<=",
            slack * big / mid,
            f"{_scale(results, 'promote', big):.2f} s / {promote_mid:.2f} s "
            f"(linear would be {big / mid:g}x)",
        ),
        *(
            [
                target(
                    f"promotion right after staging vs after ANALYZE, {mid:,} rows (added)",
                    m["fresh_promote"]["seconds"] / promote_mid,
                    "<=",
                    1.5,
                    f"{m['fresh_promote']['seconds']:.2f} s / {promote_mid:.2f} s; "
                    + m["fresh_promote"]["note"],
                )
            ]
            if "fresh_promote" in m
            else []
        ),
        target(
            f"peak RSS staging {mem_big['rows']:,} vs {mem_small['rows']:,} rows (flat)",
            mem_big["peak"] / mem_small["peak"],
            "<=",
            1.1,
            f"{mem_big['peak'] / MIB:.1f} / {mem_small['peak'] / MIB:.1f} MiB",
        ),
    ]


def _rss_at_tenth(probe: dict[str, Any]) -> int:
    """RSS once a tenth of the rows were staged (samples every 5%, after a start sample)."""
    samples = probe["samples"]
    return samples[min(2, len(samples) - 1)][1]


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(results: dict[str, Any]) -> str:
    small, mid, big = results["sizes"]["scale"]
    m = _by_key(results)
    env = results["environment"]
    out = [
        "# pgstaging benchmark"
        + (" (smoke sizes: exercises the code, judges nothing)" if results["smoke"] else ""),
        "",
        f"PostgreSQL {env['postgresql']}, {env['cpus']} CPUs, Python {env['python']}, "
        f"commit {env['commit']}, {results['when']}. One throwaway cluster, one database; "
        + ", ".join(f"{k}={v}" for k, v in env["settings"].items())
        + ".",
        "",
        "## Ingest (rows/s, into postings_staging as a script login)",
        "",
    ]
    ingest = [x for x in results["measurements"] if x["section"] == "ingest"]
    out.append(
        _table(
            ["method", "rows", "seconds", "rows/s", "how"],
            [
                [x["what"], f"{x['rows']:,}", f"{x['seconds']:.2f}", f"{x['rate']:,.0f}", x["note"]]
                for x in ingest
            ],
        )
    )
    if env["settings"].get("fsync") == "off":
        out += [
            "",
            "fsync=off (the throwaway cluster's setting) makes every commit cheap: the "
            "commit-per-row baselines are flattered, so ratios against them are conservative.",
        ]
    out += ["", f"## Promotion (rows/s; floor and promotion at {mid:,} staged rows)", ""]
    promote_mid, floor_mid = _scale(results, "promote", mid), _scale(results, "floor", mid)
    dv = m["design_validator"]
    out.append(
        _table(
            ["method", "rows", "seconds", "rows/s", "how"],
            [
                [
                    dv["what"],
                    f"{dv['rows']:,}",
                    f"{dv['seconds']:.2f}",
                    f"{dv['rate']:,.1f}",
                    dv["note"],
                ],
                [
                    "promote_postings_staging",
                    f"{mid:,}",
                    f"{promote_mid:.2f}",
                    f"{mid / promote_mid:,.0f}",
                    "validator login, client.promote",
                ],
                [
                    "floor (INSERT DISTINCT ON .. ON CONFLICT + UPDATE)",
                    f"{mid:,}",
                    f"{floor_mid:.2f}",
                    f"{mid / floor_mid:,.0f}",
                    "owner, no rule checks",
                ],
            ]
            + [
                [x["what"], f"{x['rows']:,}", f"{x['seconds']:.2f}", f"{x['rate']:,.0f}", x["note"]]
                for x in results["measurements"]
                if x["section"] == "fresh"
            ],
        )
    )
    out += [
        "",
        'Each measurement runs after VACUUM ANALYZE, except the two "right after staging" '
        "rows: their run is unknown to the statistics, as when a validator is called right "
        "after its fetcher.",
    ]
    out += ["", "## Scale (5% invalid, 10% duplicate, ~1.5 KB descriptions; mean of runs)", ""]
    rows = []
    for n in (small, mid, big):
        p, f = _scale(results, "promote", n), _scale(results, "floor", n)
        runs = next(
            len(x["runs"])
            for x in results["measurements"]
            if x["key"] == "promote" and x["rows"] == n
        )
        cpu_p = results["scale_cpu"]["promote"][str(n)]
        cpu_f = results["scale_cpu"]["floor"][str(n)]
        cpu = f"{cpu_p:.2f} / {cpu_f:.2f} = {cpu_p / cpu_f:.2f}x" if cpu_p and cpu_f else "n/a"
        rows.append(
            [
                f"{n:,}",
                f"{p:.2f}",
                f"{n / p:,.0f}",
                f"{f:.2f}",
                f"{n / f:,.0f}",
                f"{p / f:.2f}x",
                cpu,
                str(runs),
            ]
        )
    out.append(
        _table(
            [
                "staged rows",
                "promote s",
                "promote rows/s",
                "floor s",
                "floor rows/s",
                "promote/floor",
                "server CPU s, promote / floor",
                "runs",
            ],
            rows,
        )
    )
    out += ["", "## Memory (stage_copy from a generator, child process)", ""]
    out.append(
        _table(
            ["rows", "seconds", "rows/s", "RSS at start MiB", "RSS at 10% MiB", "peak RSS MiB"],
            [
                [
                    f"{p['rows']:,}",
                    f"{p['seconds']:.2f}",
                    f"{p['rows'] / p['seconds']:,.0f}",
                    f"{p['samples'][0][1] / MIB:.1f}",
                    f"{_rss_at_tenth(p) / MIB:.1f}",
                    f"{p['peak'] / MIB:.1f}",
                ]
                for p in results["memory"]
            ],
        )
    )
    out += ["", "## Targets", ""]
    out.append(
        _table(
            ["target", "measured", "required", "result", "from"],
            [
                [
                    t["target"],
                    f"{t['ratio']:,.2f}x",
                    f"{t['op']} {t['required']:g}x",
                    ("PASS" if t["passed"] else "FAIL") + (" (smoke)" if results["smoke"] else ""),
                    t["how"],
                ]
                for t in results["targets"]
            ],
        )
    )
    return "\n".join(out)


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    small, mid, big = results["sizes"]["scale"]
    m = _by_key(results)
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    title = "pgstaging benchmark" + (" (smoke sizes)" if results["smoke"] else "")
    fig.suptitle(
        f"{title} - PostgreSQL {results['environment']['postgresql']}, "
        f"{results['environment']['cpus']} CPUs"
    )

    def bars(ax, labels, values, colors, heading):
        ax.bar(labels, values, color=colors)
        ax.set_yscale("log")
        ax.set_ylabel("rows/s (log)")
        ax.set_title(heading)
        for i, value in enumerate(values):
            ax.annotate(f"{value:,.0f}", (i, value), ha="center", va="bottom", fontsize=9)
        ax.tick_params(axis="x", labelsize=8)

    ingest = ["fetcher_per_row", "fetcher_shared", "stage", "stage_copy"]
    bars(
        axes[0][0],
        [
            "design fetcher\nconn per row",
            "design fetcher\nshared conn",
            "client.stage",
            "client.stage_copy",
        ],
        [m[k]["rate"] for k in ingest],
        ["#b0b0b0", "#909090", "#4c72b0", "#55a868"],
        "Ingest",
    )
    bars(
        axes[0][1],
        [
            "design validator\n(sample)",
            f"promote_postings_staging\n{mid:,} rows",
            f"floor\n{mid:,} rows",
        ],
        [
            m["design_validator"]["rate"],
            mid / _scale(results, "promote", mid),
            mid / _scale(results, "floor", mid),
        ],
        ["#b0b0b0", "#4c72b0", "#dd8452"],
        "Promotion",
    )

    ax = axes[1][0]
    sizes = [small, mid, big]
    for kind, label, color in (
        ("promote", "promote_postings_staging", "#4c72b0"),
        ("floor", "floor", "#dd8452"),
    ):
        ax.plot(sizes, [_scale(results, kind, n) for n in sizes], "o-", label=label, color=color)
    linear = _scale(results, "promote", mid) / mid
    ax.plot(sizes, [linear * n for n in sizes], ":", color="#888888", label="linear from middle")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("staged rows (5% invalid, 10% duplicate)")
    ax.set_ylabel("seconds (log)")
    ax.set_title("Scale")
    ax.legend()

    ax = axes[1][1]
    for probe in results["memory"]:
        xs = [rows for rows, _ in probe["samples"]]
        ys = [rss / MIB for _, rss in probe["samples"]]
        ax.plot(
            xs,
            ys,
            "o-",
            markersize=3,
            label=f"{probe['rows']:,} rows, peak {probe['peak'] / MIB:.0f} MiB",
        )
    ax.set_xlabel("rows staged so far")
    ax.set_ylabel("RSS MiB")
    ax.set_ylim(0, max(probe["peak"] for probe in results["memory"]) / MIB * 1.5)
    ax.set_title("Memory: stage_copy from a generator (child process RSS)")
    ax.legend(loc="lower right")

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
