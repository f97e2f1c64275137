"""Render a bench results JSON as the README's markdown tables and the per-record cost plot.

Usage::

    python -m bench.report bench/results.json            # prints markdown
    python -m bench.report bench/results.json --plot bench/per_record_cost.png
    python -m bench.report bench/results.json --merge /tmp/listing.json   # see below

``--merge PARTIAL`` takes the results of a run of some bench files only (e.g.
``bench/test_listing.py``): their groups' rows replace those groups' rows in the
results file, the partial run's date, load and command are recorded under
``reruns`` (the report names them), and the results file is written back.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any


def _f(x: float, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def _rows(doc: dict[str, Any], group: str) -> list[dict[str, Any]]:
    return [r for r in doc["rows"] if r["group"] == group]


def merge(doc: dict[str, Any], partial: dict[str, Any]) -> dict[str, Any]:
    """`doc` with the groups measured in `partial` replaced by `partial`'s rows."""
    groups = list(dict.fromkeys(r["group"] for r in partial["rows"]))
    kept = [r for r in doc["rows"] if r["group"] not in groups]
    reruns = [run for run in doc.get("reruns", []) if not set(run["groups"]).issubset(groups)]
    reruns.append(
        {
            "groups": groups,
            "date": partial["date"],
            "load": partial.get("load", ""),
            "command": partial["command"],
            "versions": partial["versions"],
        }
    )
    notes = [n for n in doc["notes"] if n not in partial["notes"]] + partial["notes"]
    return {**doc, "rows": kept + partial["rows"], "notes": notes, "reruns": reruns}


def markdown(doc: dict[str, Any]) -> str:
    """The results as markdown tables."""
    out = [
        f"- Date: {doc['date']}",
        f"- Machine: {doc['machine']} ({doc.get('load', 'load not recorded')})",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in doc["versions"].items()),
        f"- Command: `{doc['command']}`",
    ]
    for run in doc.get("reruns", []):
        out.append(
            f"- Re-measured ({', '.join(run['groups'])}): {run['date']} ({run['load']}), "
            f"`{run['command']}`"
        )
    out += [
        "",
        "### record_message (ratios to the reference in the same test)",
        "",
        "| mode | session size | p50 us | p99 us | records/s | ref p50 us | p50 / ref | "
        "throughput / ref |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in _rows(doc, "record"):
        out.append(
            f"| {r['mode']} | {r['size']:,} | {_f(r['p50_us'])} | {_f(r['p99_us'])} | "
            f"{r['per_s']:,.0f} | {_f(r['ref_p50_us'])} | {_f(r['ratio_p50'])}x | "
            f"{r['ratio_per_s']:.0%} |"
        )
    out += [
        "",
        "### Lifecycle, replay, memory, resume",
        "",
        "| what | result | reference | ratio |",
    ]
    out.append("|---|---:|---:|---:|")
    for r in _rows(doc, "lifecycle"):
        out.append(
            f"| {r['name']} | {r['per_s']:,.0f}/s | {r['ref_per_s']:,.0f}/s | "
            f"{r['ratio_per_s']:.0%} |"
        )
    for r in _rows(doc, "replay"):
        if "ref_events_per_s" in r:
            out.append(
                f"| {r['name']} | {r['events_per_s']:,.0f} events/s, {r['mb_per_s']:.0f} MB/s | "
                f"{r['ref_events_per_s']:,.0f} events/s | {r['ratio']:.0%} |"
            )
        else:
            out.append(
                f"| {r['name']} | {r['seconds'] * 1000:,.0f} ms "
                f"({r['events_per_s']:,.0f} events/s) | | |"
            )
    for r in _rows(doc, "memory"):
        out.append(
            f"| peak memory, {r['name']} ({r['log_mb']:.0f} MB log) | "
            f"Session {r['retained_mb']:.0f} MB, "
            f"peak {r['peak_mb']:.0f} MB, transient {r['transient_mb']:.1f} MB | | |"
        )
    for r in _rows(doc, "resume"):
        out.append(f"| {r['name']} (until the next record is appended) | {r['ms']:,.1f} ms | | |")
    out += ["", "### Listing, tail, CLI start-up", "", "| what | result | reference | ratio |"]
    out.append("|---|---:|---:|---:|")
    for r in _rows(doc, "listing"):
        if "ref_ms" in r:
            cold = f" (cold catalog {r['cold_ms']:,.0f} ms)" if "cold_ms" in r else ""
            out.append(
                f"| {r['name']} | {r['ms']:,.1f} ms{cold} | "
                f"{r['ref_ms']:,.1f} ms | {r['ratio']:.2f}x |"
            )
        else:
            changed = (
                f" (within a second of a change: {r['just_changed_ms']:,.0f} ms)"
                if "just_changed_ms" in r
                else ""
            )
            out.append(f"| {r['name']} | {r['ms']:,.0f} ms{changed} | | |")
    for r in _rows(doc, "tail"):
        extra = f", idle CPU {r['idle_cpu_pct']:.2f}% of a core" if "idle_cpu_pct" in r else ""
        out.append(
            f"| {r['name']} | p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms{extra} | | |"
        )
    for r in _rows(doc, "startup"):
        if "ref_ms" in r:
            out.append(
                f"| {r['name']} | {r['ms']:.0f} ms | {r['ref_ms']:.0f} ms | {r['ratio']:.1f}x |"
            )
        else:
            out.append(f"| {r['name']} | {r['ms']:.0f} ms | | |")
    out += ["", "### Per-record cost against session size (peers on the same workload)", ""]
    peers = _rows(doc, "peers")
    sizes = sorted({r["size"] for r in peers})
    names = list(dict.fromkeys(r["peer"] for r in peers))
    out.append("| implementation | durability | " + " | ".join(f"{s:,}" for s in sizes) + " |")
    out.append("|---|---|" + "---:|" * len(sizes))
    for name in names:
        by_size = {r["size"]: r for r in peers if r["peer"] == name}
        dur = next(iter(by_size.values()))["durability"]
        cells = [
            f"{_f(by_size[s]['p50_us'], 1)} / {_f(by_size[s]['mean_us'], 1)}"
            if s in by_size
            else "not run"
            for s in sizes
        ]
        out.append(f"| {name} | {dur} | " + " | ".join(cells) + " |")
    out.append("")
    out.append(
        "Cells: p50 / mean wall time (us) of one record call at that session size; the mean "
        "includes amortised costs (GC, group-commit fsyncs, whole-file rewrites)."
    )
    if doc["notes"]:
        out += ["", "Notes:", ""] + [f"- {n}" for n in doc["notes"]]
    return "\n".join(out) + "\n"


def plot(doc: dict[str, Any], target: Path) -> None:
    """Per-record cost against session size, log-log, one line per implementation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    peers = _rows(doc, "peers")
    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    for name in dict.fromkeys(r["peer"] for r in peers):
        pts = sorted((max(r["size"], 1), r["p50_us"]) for r in peers if r["peer"] == name)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("session size (events already recorded; 0 plotted at 1)")
    ax.set_ylabel("cost of one more record (us, median)")
    ax.set_title("Per-record cost against session size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(target)


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("results", type=Path)
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument("--merge", type=Path, default=None, metavar="PARTIAL")
    args = parser.parse_args()
    doc = json.loads(args.results.read_text())
    if args.merge is not None:
        doc = merge(doc, json.loads(args.merge.read_text()))
        args.results.write_text(json.dumps(doc, indent=1) + "\n")
    print(markdown(doc), end="")
    if args.plot is not None:
        plot(doc, args.plot)


if __name__ == "__main__":
    main()
