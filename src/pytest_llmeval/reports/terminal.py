"""The scorecard as printed at the end of every run."""

from __future__ import annotations

from typing import Any


def _cell(row: dict[str, Any] | None) -> str:
    if row is None:
        return "-"
    if row["score"] is None:
        return f"n/a ({row['errors']} errors)" if row["errors"] else "n/a (skipped)"
    text = f"{row['score']:.3f} [{row['ci_low']:.2f}-{row['ci_high']:.2f}] {row['passed']}/{row['passed'] + row['failed']}"
    if row["errors"]:
        text += f" +{row['errors']}err"
    return text


def render_table(scorecard: dict[str, Any]) -> list[str]:
    """Capability rows, then benchmark rows, one column per model (score [95% CI] passed/answered)."""
    models = [m["name"] for m in scorecard["models"] if any(r["model"] == m["name"] for r in scorecard["capabilities"])]
    if not models:
        return []
    caps = {(r["model"], r["capability"]): r for r in scorecard["capabilities"]}
    benches = {(r["model"], r["benchmark"]): r for r in scorecard["benchmarks"]}
    capability_names = list(dict.fromkeys(r["capability"] for r in scorecard["capabilities"]))
    bench_names = list(dict.fromkeys((r["benchmark"], r["capability"]) for r in scorecard["benchmarks"]))
    published = {(p["model"], p["benchmark"]): p for p in scorecard.get("published") or []}

    rows: list[list[str]] = [["capability", *models]]
    for cap in capability_names:
        rows.append([cap, *(_cell(caps.get((m, cap))) for m in models)])
    rows.append(["", *("" for _ in models)])
    rows.append(["benchmark", *("" for _ in models)])
    for bench, cap in bench_names:
        rows.append([f"  {bench} ({cap})", *(_cell(benches.get((m, bench))) for m in models)])
        metric_names = sorted({k for m in models for k in (benches.get((m, bench)) or {}).get("metrics", {})})
        for metric in metric_names:
            values = []
            for m in models:
                value = (benches.get((m, bench)) or {}).get("metrics", {}).get(metric)
                values.append("-" if value is None else f"{value:.3f}")
            rows.append([f"    {metric}", *values])
        for subset in _subsets(scorecard, bench):
            values = []
            for m in models:
                found = next((s for s in (benches.get((m, bench)) or {}).get("subsets", []) if s["subset"] == subset), None)
                values.append(_cell(found))
            rows.append([f"    {subset}", *values])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    comparisons = [c for c in scorecard.get("comparisons") or [] if c.get("benchmark") is None]
    if comparisons:
        lines.append("")
        lines.append("against the baseline (paired, on the items both answered):")
        for c in comparisons:
            lines.append(f"  {c['model']} vs {c['baseline']}, {c['capability']}: {c['difference']:+.3f} "
                         f"({c['score']:.3f} vs {c['baseline_score']:.3f}, n={c['n_paired']}, "
                         f"{c['test']} p={c['p_value']:.2g})")
    if published:
        lines.append("")
        lines.append("published figures (the survey's sources; not measured here, not comparable like for like):")
        for p in scorecard["published"]:
            lines.append(f"  {p['model']:<20} {p['benchmark']:<12} {p['value']:.3f} {p['metric']} [{p['source']}]")
    return lines


def _subsets(scorecard: dict[str, Any], bench: str) -> list[str]:
    names: dict[str, None] = {}
    for row in scorecard["benchmarks"]:
        if row["benchmark"] == bench:
            for s in row.get("subsets", []):
                names.setdefault(s["subset"], None)
    return list(names)
