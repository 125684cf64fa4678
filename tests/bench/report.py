#!/usr/bin/python3
"""Writes docs/benchmarks.md and docs/benchmarks.png from one run's result files.

    tests/bench/report.py RESULTS_DIR DOCS_DIR

RESULTS_DIR holds what tests/bench/run-benchmarks left: run.json (the command, the
commit, the start, the load average before) and one PART.json per benchmark part:

    {"part": "pam", "title": "Full PAM transactions", "order": 20,
     "config": {...free-form...},
     "rows": [{"name": "...", "n": 2000, "p50_us": 136.0, "p99_us": 150.2,
               "cpu_us": 120.0, "extra": {"ratio": 1.0, "ratio_to": "...", ...}}],
     "targets": [{"what": "...", "value": 2.1, "limit": 2.5, "op": "<=", "met": true,
                  "note": "..."}],
     "notes": ["..."], "columns": ["extra keys to show, in order (default: all)"],
     "tables": [{"title": "...", "rows": [...], "columns": [...]}]}

("tables": further tables of the part, each rendered like "rows", under its title.)

Every field but "part" and "rows" may be missing; a row's fields too. The page gets the
machine (described here, at the end of the run), the command, a Targets table (every
part's targets), one section per part (sorted by "order": a table with the ratios beside
the absolute figures, its configuration and notes), the plot, and then the section
"## apppass-web under load (issue 13)" of the repository's docs/benchmarks.md, verbatim.
The plot (matplotlib, Agg): verification p50/p99 against store size (log x), the PAM
transactions (log y) and the processes' throughput, each when its part ran.
"""

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

KEPT_HEADING = "## apppass-web under load (issue 13)"
REPO = Path(__file__).resolve().parent.parent.parent


def fmt(v):
    """A figure for a table cell."""
    if v is None or v == "":
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if v == 0:
            return "0"
        a = abs(v)
        if a >= 1000:
            return f"{v:,.0f}"
        if a >= 100:
            return f"{v:.0f}"
        if a >= 10:
            return f"{v:.1f}"
        return f"{v:.2f}"
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    return str(v).replace("|", "\\|")


def cell(s):
    return fmt(s).replace("\n", " ")


def read(path):
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def machine(run):
    """Lines describing the machine and the run."""
    cpu = ""
    for line in read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    debian = read("/etc/debian_version").strip()
    pretty = ""
    for line in read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            pretty = line.split("=", 1)[1].strip('"')
    load_after = " ".join(read("/proc/loadavg").split()[:3])
    rows = [
        ("CPUs (nproc)", str(os.cpu_count())),
        ("CPU", cpu or platform.processor()),
        ("RAM", f"{mem_kib / 1024 / 1024:.1f} GiB"),
        ("kernel", platform.release()),
        ("system", f"{pretty} (debian_version {debian})"),
        ("load average before (1, 5, 15 min)", run.get("loadavg_before", "")),
        ("load average after", load_after),
        ("date (UTC)", run.get("started", "") + (" to " + run["finished"] if run.get("finished") else "")),
        ("git commit", run.get("commit", "")),
        ("build", run.get("build", "")),
    ]
    out = ["| | |", "|---|---|"]
    out += [f"| {k} | {cell(v)} |" for k, v in rows]
    return out


def part_table(part):
    rows = part.get("rows", [])
    if not rows:
        return ["(no rows)"]
    has = lambda k: any(k in r for r in rows)  # noqa: E731
    extra_keys = list(part.get("columns", []))  # the part's choice of extra columns
    if not extra_keys:
        for r in rows:
            for k in r.get("extra", {}):
                if k not in ("ratio", "ratio_to") and k not in extra_keys:
                    extra_keys.append(k)
    with_ratio = any("ratio" in r.get("extra", {}) for r in rows)
    head = ["", "n"]
    if has("p50_us"):
        head += ["p50 µs", "p99 µs"]
    if has("cpu_us"):
        head += ["CPU µs/op"]
    if with_ratio:
        head += ["ratio", "against"]
    head += extra_keys
    out = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
    for r in rows:
        ex = r.get("extra", {})
        c = [cell(r.get("name", "")), cell(r.get("n", ""))]
        if has("p50_us"):
            c += [cell(r.get("p50_us")), cell(r.get("p99_us"))]
        if has("cpu_us"):
            c += [cell(r.get("cpu_us"))]
        if with_ratio:
            ratio = ex.get("ratio")
            c += [f"{ratio:.2f}×" if isinstance(ratio, (int, float)) else "",
                  cell(ex.get("ratio_to", ""))]
        c += [cell(ex.get(k, "")) for k in extra_keys]
        out.append("| " + " | ".join(c) + " |")
    return out


def targets_table(parts):
    out = ["| part | target | value | limit | met | note |", "|---|---|---:|---:|---|---|"]
    n = 0
    for p in parts:
        for t in p.get("targets", []):
            n += 1
            met = t.get("met")
            mark = "**met**" if met else ("**not met**" if met is not None else "")
            limit = f"{t.get('op', '')} {fmt(t.get('limit'))}"
            out.append(f"| {cell(p.get('part'))} | {cell(t.get('what'))} | "
                       f"{fmt(t.get('value'))} | {limit} | {mark} | {cell(t.get('note', ''))} |")
    return out if n else ["(no part reported a target)"]


def plot(parts, png):
    """The figure; returns False when matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    by = {p.get("part"): p for p in parts}
    panels = [k for k in ("sizes", "pam", "procs") if k in by]
    if not panels:
        panels = ["none"]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.2), squeeze=False)
    for ax, name in zip(axes[0], panels):
        if name == "sizes":
            series = {}
            for r in by["sizes"].get("rows", []):
                ex = r.get("extra", {})
                key = (ex.get("mode", ""), ex.get("per_user", 1))
                series.setdefault(key, []).append((ex.get("stored", 0), r.get("p50_us", 0),
                                                   r.get("p99_us", 0)))
            for (mode, pu), pts in sorted(series.items()):
                pts.sort()
                xs = [p[0] for p in pts]
                line, = ax.plot(xs, [p[1] for p in pts], marker="o",
                                label=f"{mode}, {pu}/user p50")
                ax.plot(xs, [p[2] for p in pts], marker="x", linestyle=":",
                        color=line.get_color(), label=f"{mode}, {pu}/user p99")
            ax.set_xscale("log")
            ax.set_xlabel("app passwords stored")
            ax.set_yscale("log")
            ax.set_ylabel("µs per verification (log)")
            ax.set_title("In-process verification")
            ax.legend(fontsize=7)
        elif name == "pam":
            rows = [r for r in by["pam"].get("rows", []) if "p50_us" in r]
            bars = ax.barh([r.get("name", "") for r in rows], [r["p50_us"] for r in rows])
            ax.bar_label(bars, labels=[fmt(float(r["p50_us"])) for r in rows], fontsize=7)
            ax.set_xscale("log")
            ax.set_xlabel("µs per whole PAM transaction (p50, log)")
            ax.set_title("PAM transactions")
            ax.tick_params(axis="y", labelsize=7)
            ax.invert_yaxis()
        elif name == "procs":
            rows = by["procs"].get("rows", [])
            names = [r.get("name", "") for r in rows]
            ratios = [r.get("extra", {}).get("ratio", 0) for r in rows]
            bars = ax.barh(names, ratios)
            ax.bar_label(bars, labels=[f"{v:.2f}×" for v in ratios], fontsize=7)
            ax.axvline(1.8, color="red", linestyle="--", linewidth=1)
            ax.set_xlabel("throughput against one process")
            ax.set_title("Verifying processes at once")
            ax.tick_params(axis="y", labelsize=7)
            ax.invert_yaxis()
        else:
            ax.text(0.5, 0.5, "no figures", ha="center")
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return True


def kept_section():
    """The issue-13 section of the repository's docs/benchmarks.md, verbatim."""
    text = read(REPO / "docs" / "benchmarks.md")
    at = text.find("\n" + KEPT_HEADING + "\n")
    if at < 0:
        return ""
    rest = text[at + 1:]
    nxt = rest.find("\n## ", len(KEPT_HEADING))
    return rest if nxt < 0 else rest[:nxt + 1]


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: report.py RESULTS_DIR DOCS_DIR")
    results, docs = Path(sys.argv[1]), Path(sys.argv[2])
    docs.mkdir(parents=True, exist_ok=True)
    try:
        run = json.loads(read(results / "run.json") or "{}")
    except json.JSONDecodeError:
        run = {}
    parts = []
    for f in sorted(results.glob("*.json")):
        if f.name == "run.json":
            continue
        try:
            p = json.loads(f.read_text())
        except (OSError, json.JSONDecodeError) as e:
            print(f"report.py: skipping {f}: {e}", file=sys.stderr)
            continue
        if isinstance(p, dict) and "part" in p:
            parts.append(p)
    parts.sort(key=lambda p: (p.get("order", 1000), p.get("part", "")))
    kept = kept_section()  # read before writing: DOCS_DIR may be docs/
    have_png = plot(parts, docs / "benchmarks.png")

    md = ["# Benchmarks", "",
          "Figures measured on the project's own machines, each with the command that reproduces",
          "it. They describe one run on one machine: compare only within a run.", "",
          "## How to run", "",
          "From the root of a clone, as root (it installs the Debian packages it needs with",
          "`.ci/install-deps bench`, builds `build-bench/` and `build-bench-nofloor/`, makes",
          "system users for the PAM and broker parts and removes them):", "",
          "```", "tests/bench/run-benchmarks            # about 25 minutes on 2 cores",
          "tests/bench/run-benchmarks --quick    # tiny sizes, seconds (what CTest bench_smoke runs)",
          "```", "",
          "It rewrites this page's generated part (everything above the issue 13 section) and",
          "`docs/benchmarks.png`; `--out DIR` writes them elsewhere. Each part asserts only that",
          "every answer was right, never a time. The parts are programs under `tests/bench/`",
          "(`--help` in `tests/bench/run-benchmarks`).", "",
          "## This run", ""]
    md += machine(run)
    md += ["", "Command: `" + run.get("command", "tests/bench/run-benchmarks") + "`", ""]
    if run.get("quick"):
        md += ["**A --quick run: tiny sizes, the figures mean little.**", ""]
    md += ["## Targets (issue 14)", ""]
    md += targets_table(parts)
    md += [""]
    if have_png:
        md += ["![verification against store size, PAM transactions, processes](benchmarks.png)", ""]
    for p in parts:
        md += [f"## {p.get('title', p.get('part'))}", ""]
        md += part_table(p)
        md += [""]
        for t in p.get("tables", []):
            md += [f"**{t.get('title', '')}**", ""] + part_table(t) + [""]
        cfg = p.get("config")
        if cfg:
            md += ["Configuration: " + ", ".join(f"{k} {fmt(v)}" for k, v in cfg.items()) + ".", ""]
        for n in p.get("notes", []):
            md += [f"- {n}"]
        if p.get("notes"):
            md += [""]
    skipped = run.get("skipped", [])
    if skipped:
        md += ["Parts that did not run: " + ", ".join(skipped) + ".", ""]
    text = "\n".join(md)
    if kept:
        text += "\n" + kept
    (docs / "benchmarks.md").write_text(text if text.endswith("\n") else text + "\n")
    print(f"report.py: wrote {docs / 'benchmarks.md'}" + (f" and {docs / 'benchmarks.png'}" if have_png else " (no plot: matplotlib missing)"))


if __name__ == "__main__":
    main()
