"""The evaluation report: tables and PNG plots from `results.jsonl`, as Markdown and one HTML page.

`write_report(out)` reads `<out>/plan.json` and `<out>/results.jsonl` and
writes `<out>/report.md`, `<out>/report.html` (self-contained: the plots are
embedded, so the page can be mailed or archived alone) and `<out>/plots/*.png`.
It covers success rate per task with 95% confidence intervals (Wilson), steps
to success, success per skill, plan lengths, failure causes (death and what
caused it, timeout, out of reach; the skill running at the end and the last
one that failed), Crafter's score where the suite has it, and the seeds,
versions and checkpoint hashes that produced the results.
"""

from __future__ import annotations

import base64
import collections
import datetime
import hashlib
import html
import json
import math
import pathlib
import platform
import subprocess
from collections.abc import Iterable, Sequence

from mcagent.errors import UserError
from mcagent.evaluation.results import PLAN_NAME, RESULTS_NAME, SKILL_ENDS, read_results
from mcagent.evaluation.score import PUBLISHED, crafter_score, success_rates

CAUSES = ("death", "timeout", "unreachable", "other")


# -- statistics ------------------------------------------------------------------------
def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of a success rate (good at 0%, 100% and small n)."""
    if n == 0:
        return (0.0, 0.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def _median(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return float(ordered[mid]) if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _quartiles(values: Sequence[float]) -> tuple[float, float] | None:
    if not values:
        return None
    ordered = sorted(values)

    def at(q):
        pos = q * (len(ordered) - 1)
        lo, hi = math.floor(pos), math.ceil(pos)
        return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
    return at(0.25), at(0.75)


def summarise(plan: dict, records: list[dict]) -> dict:
    """Every figure of the report, as plain data (also written as `summary.json`)."""
    by = collections.defaultdict(list)
    for r in records:
        by[(r["task"], r["agent"])].append(r)
    tasks, agents = plan["tasks"], plan["agents"]
    rows = []
    for task in tasks:
        for agent in agents:
            rs = by.get((task, agent), [])
            wins = [r for r in rs if r["success"]]
            lo, hi = wilson_interval(len(wins), len(rs))
            causes = collections.Counter(r["cause"] for r in rs if not r["success"])
            plans = [r["plan_length"] for r in rs if r.get("plan_length") is not None]
            rows.append({
                "task": task, "agent": agent, "episodes": len(rs), "planned": plan["episodes"],
                "successes": len(wins), "rate": len(wins) / len(rs) if rs else None,
                "ci95": [lo, hi], "median_steps": _median([r["steps"] for r in wins]),
                "quartile_steps": _quartiles([r["steps"] for r in wins]),
                "causes": {c: causes.get(c, 0) for c in CAUSES},
                "death_by": dict(collections.Counter(r["death_by"] or "unknown" for r in rs
                                                     if r["cause"] == "death")),
                "plan_length": sum(plans) / len(plans) if plans else None,
            })
    skills: dict[str, dict[str, list[int]]] = collections.defaultdict(
        lambda: collections.defaultdict(lambda: [0, 0]))
    ends: dict[str, dict[str, collections.Counter]] = collections.defaultdict(
        lambda: collections.defaultdict(collections.Counter))
    at_end = collections.defaultdict(collections.Counter)
    ended: set[str] = set()
    for r in records:
        for skill, (runs, wins) in r.get("skills", {}).items():
            skills[r["agent"]][skill][0] += runs
            skills[r["agent"]][skill][1] += wins
        if "skill_ends" in r:                  # results written since 2026-12-01
            ended.add(r["agent"])
            for skill, counts in r["skill_ends"].items():
                ends[r["agent"]][skill].update(counts)
        if not r["success"] and r.get("skill_at_end"):
            at_end[r["agent"]][f"{r['cause']} during {r['skill_at_end']}"] += 1
    score = {}
    for agent in agents:
        stats = [r["crafter_stats"] for r in records
                 if r["agent"] == agent and r.get("crafter_stats")]
        if stats:
            rates = success_rates(stats)
            score[agent] = {"episodes": len(stats), "score": crafter_score(rates),
                            "rates": rates,
                            "mean_length": sum(s["length"] for s in stats) / len(stats)}
    return {
        "suite": plan["suite"], "tasks": tasks, "agents": agents,
        "episodes_per_task": plan["episodes"], "first_seed": plan["first_seed"],
        "seeds": [plan["first_seed"], plan["first_seed"] + plan["episodes"] - 1],
        "episodes": len(records), "planned": len(tasks) * len(agents) * plan["episodes"],
        "retried": sum(1 for r in records if r.get("attempt", 1) > 1),
        "rows": rows,
        "skills": {a: {s: {"runs": v[0], "successes": v[1], "rate": v[1] / v[0] if v[0] else None,
                           **({"ends": {k: ends[a][s][k] for k in SKILL_ENDS}}
                              if a in ended else {})}
                       for s, v in sorted(d.items())} for a, d in skills.items()},
        "failures_at_end": {a: dict(c.most_common(10)) for a, c in at_end.items()},
        "crafter_score": score,
        "policies": sorted({r["policies"] for r in records}),
        "nodes": dict(collections.Counter(r["node"] for r in records)),
        "wall_s": sum(r["wall_s"] for r in records),
    }


# -- provenance ------------------------------------------------------------------------
def _sha256(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def provenance(settings: dict) -> dict:
    """Versions, the git commit, and the hashes of the graph and every checkpoint used."""
    import importlib.metadata as metadata

    versions = {"python": platform.python_version()}
    for package in ("mcagent", "crafter", "torch", "ray", "numpy", "gymnasium"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    here = pathlib.Path(__file__).resolve().parent
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here,
                            capture_output=True, text=True).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                           capture_output=True, text=True).stdout.strip()
    files = {}
    graph = pathlib.Path(settings["graph"])
    if graph.is_file():
        files[str(graph)] = _sha256(graph)
    wanted = []
    if settings.get("skills") == "checkpoints":
        folder = pathlib.Path(settings["checkpoints"])
        wanted += sorted(folder.rglob("*.safetensors")) + sorted(folder.rglob("*.json"))
    flat = pathlib.Path(settings.get("flat_checkpoint", ""))
    if flat.is_file():
        wanted.append(flat)
    for path in wanted:
        files[str(path)] = _sha256(path)
    return {"versions": versions, "commit": commit + ("+changes" if dirty else ""),
            "files_sha256": files}


# -- plots -----------------------------------------------------------------------------
def _plots(summary: dict, folder: pathlib.Path) -> dict[str, pathlib.Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    tasks, agents, rows = summary["tasks"], summary["agents"], summary["rows"]
    cell = {(r["task"], r["agent"]): r for r in rows}
    width = 0.8 / max(1, len(agents))

    def save(fig, name):
        path = folder / f"{name}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        plt.close(fig)
        made[name] = path

    # Success rate with 95% intervals.
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(tasks) * max(1, len(agents)) / 2 + 3), 4))
    for i, agent in enumerate(agents):
        xs, ys, err = [], [], [[], []]
        for j, task in enumerate(tasks):
            r = cell[(task, agent)]
            if r["rate"] is None:
                continue
            xs.append(j + (i - (len(agents) - 1) / 2) * width)
            ys.append(100 * r["rate"])
            err[0].append(max(0.0, 100 * (r["rate"] - r["ci95"][0])))
            err[1].append(max(0.0, 100 * (r["ci95"][1] - r["rate"])))
        ax.bar(xs, ys, width, yerr=err, capsize=3, label=agent)
    ax.set_xticks(range(len(tasks)), tasks, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("success rate (%), 95% CI")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8)
    ax.set_title("Success rate per task")
    save(fig, "success")

    # Steps to success.
    data = [(f"{t}\n{a}" if len(agents) > 1 else t, cell[(t, a)]) for t in tasks for a in agents]
    steps = {label: [] for label, _ in data}
    wanted = {(r["task"], r["agent"]): label for label, r in data}
    for record in summary.get("_records", []):
        label = wanted.get((record["task"], record["agent"]))
        if label is not None and record["success"]:
            steps[label].append(record["steps"])
    shown = [(label, v) for label, v in steps.items() if v]
    if shown:
        fig, ax = plt.subplots(figsize=(max(6, 0.8 * len(shown) + 2), 4))
        ax.boxplot([v for _, v in shown], showfliers=True)
        ax.set_xticks(range(1, len(shown) + 1), [label for label, _ in shown], rotation=30,
                      ha="right", fontsize=7)
        ax.set_ylabel("steps to success")
        ax.set_title("Steps to success (successful episodes)")
        save(fig, "steps")

    # Failure causes.
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(tasks) * max(1, len(agents)) / 2 + 3), 4))
    bottoms = collections.defaultdict(float)
    labels = [f"{t} / {a}" if len(agents) > 1 else t for t in tasks for a in agents]
    for cause in CAUSES:
        values = [cell[(t, a)]["causes"][cause] for t in tasks for a in agents]
        ax.bar(range(len(labels)), values, bottom=[bottoms[i] for i in range(len(labels))],
               label=cause)
        for i, v in enumerate(values):
            bottoms[i] += v
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("failed episodes")
    ax.legend(fontsize=8)
    ax.set_title("How failed episodes ended")
    save(fig, "failures")

    # Success per skill.
    for agent, skills in summary["skills"].items():
        names = [s for s, v in skills.items() if v["runs"]]
        if not names:
            continue
        fig, ax = plt.subplots(figsize=(6, max(3, 0.22 * len(names) + 1)))
        rows = range(len(names))
        ax.barh(rows, [100 * skills[s]["rate"] for s in names], label="succeeded")
        if all("ends" in skills[s] for s in names):
            # The other runs, stacked after the successes by how they ended.
            left = [100 * skills[s]["rate"] for s in names]
            for end, label in (("interrupted", "interrupted"), ("death", "died"),
                               ("budget", "out of budget"), ("other", "other")):
                share = [100 * skills[s]["ends"][end] / skills[s]["runs"] for s in names]
                ax.barh(rows, share, left=left, label=label)
                left = [a + b for a, b in zip(left, share)]
            ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=5,
                      frameon=False)
        ax.set_yticks(rows, [f"{s} ({skills[s]['runs']})" for s in names], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel("share (%) of the skill's runs (runs in brackets)")
        ax.set_title(f"Success per skill: {agent}")
        save(fig, f"skills-{agent}")

    # Plan lengths.
    planned = [(t, a, cell[(t, a)]["plan_length"]) for t in tasks for a in agents
               if cell[(t, a)]["plan_length"] is not None]
    if planned:
        fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(tasks) + 3), 4))
        hier = [a for a in agents if any(p[1] == a for p in planned)]
        w = 0.8 / max(1, len(hier))
        for i, agent in enumerate(hier):
            xs = [tasks.index(t) + (i - (len(hier) - 1) / 2) * w for t, a, _ in planned if a == agent]
            ax.bar(xs, [v for _, a, v in planned if a == agent], w, label=agent)
        ax.set_xticks(range(len(tasks)), tasks, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("skills in the first plan")
        ax.legend(fontsize=8)
        ax.set_title("Plan length")
        save(fig, "plans")

    # Crafter score: per-achievement success rates.
    if summary["crafter_score"]:
        fig, ax = plt.subplots(figsize=(9, 4))
        scored = list(summary["crafter_score"])
        names = sorted(next(iter(summary["crafter_score"].values()))["rates"])
        w = 0.8 / len(scored)
        for i, agent in enumerate(scored):
            rates = summary["crafter_score"][agent]["rates"]
            ax.bar([j + (i - (len(scored) - 1) / 2) * w for j in range(len(names))],
                   [max(rates[n], 0.1) for n in names], w,
                   label=f"{agent} (score {summary['crafter_score'][agent]['score']:.1f})")
        ax.set_yscale("log")
        ax.set_ylim(0.1, 110)
        ax.set_xticks(range(len(names)), [n.replace("_", " ") for n in names], rotation=60,
                      ha="right", fontsize=7)
        ax.set_ylabel("success rate (%)")
        ax.legend(fontsize=8)
        ax.set_title("Crafter achievements")
        save(fig, "crafter-score")
    return made


# -- text ------------------------------------------------------------------------------
def _skill_cell(v: dict) -> str:
    """`runs / success`, then how the other runs ended where the results say."""
    cell = f"{v['runs']} / {_pct(v['rate'])}"
    if "ends" in v:
        cell += " / " + " / ".join(str(v["ends"][k]) for k in SKILL_ENDS)
    return cell


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def _markdown(summary: dict, prov: dict, plots: dict[str, pathlib.Path], settings: dict) -> str:
    s = summary
    out = [f"# Evaluation: suite `{s['suite']}`", "",
           f"{s['episodes']} of {s['planned']} planned episodes "
           f"({s['episodes_per_task']} per task and agent; seeds {s['seeds'][0]}-{s['seeds'][1]}, "
           f"the same for every agent); {s['retried']} played again after a lost worker. "
           f"Skill policies: {'; '.join(s['policies'])}.", ""]
    if settings.get("skills") == "expert":
        out += ["**The hierarchical agents here run the PRIVILEGED oracle executor** (semantic "
                "map + path search) for their skills: these figures show the planner and the "
                "hierarchy, not learned skills.", ""]
    out += ["## Success rate", ""]
    out += _table(["task", "agent", "success", "95% CI", "episodes", "median steps (IQR)"],
                  [(r["task"], r["agent"], f"{r['successes']}/{r['episodes']} = {_pct(r['rate'])}",
                    f"{_pct(r['ci95'][0])}-{_pct(r['ci95'][1])}", r["episodes"],
                    "-" if r["median_steps"] is None else
                    f"{r['median_steps']:.0f} ({r['quartile_steps'][0]:.0f}-"
                    f"{r['quartile_steps'][1]:.0f})") for r in s["rows"]])
    out += ["", "![success](plots/success.png)", ""]
    if "steps" in plots:
        out += ["## Steps to success", "", "![steps](plots/steps.png)", ""]
    if s["crafter_score"]:
        out += ["## Crafter score", "",
                "The benchmark's formula: the geometric mean of 1 + each achievement's success "
                "rate (%) over all episodes, minus 1 (from `crafter.Recorder`'s `stats.jsonl`, "
                "10,000-step episodes).", ""]
        rows = [(f"**{a}** (this run)", f"**{v['score']:.1f}**", v["episodes"])
                for a, v in s["crafter_score"].items()]
        rows += [(name, f"{value:.1f}", "published") for name, value in PUBLISHED.items()]
        out += _table(["agent", "score (%)", "episodes"], rows)
        names = sorted(next(iter(s["crafter_score"].values()))["rates"])
        out += ["", "Success rate per achievement:", ""]
        out += _table(["achievement", *s["crafter_score"]],
                      [(n, *(f"{v['rates'][n]:.1f}%" for v in s["crafter_score"].values()))
                       for n in names])
        out += ["", "![crafter score](plots/crafter-score.png)", ""]
    if s["skills"]:
        out += ["## Success per skill", ""]
        agents = list(s["skills"])
        names = sorted({n for d in s["skills"].values() for n in d})
        ended = any("ends" in v for d in s["skills"].values() for v in d.values())
        if ended:
            out += ["Runs that did not succeed, by how they ended: interrupted (by a vital, "
                    "a threat or the night), died, out of its step budget, other (its guard "
                    "failed, the episode's step limit).", ""]
        columns = " / ".join(["runs", "success", *(SKILL_ENDS.values() if ended else ())])
        out += _table(["skill", *(f"{a}: {columns}" for a in agents)],
                      [(n, *(_skill_cell(s["skills"][a][n]) if n in s["skills"][a] else "-"
                             for a in agents)) for n in names])
        out += [""] + [f"![skills {a}](plots/skills-{a}.png)" for a in agents
                       if f"skills-{a}" in plots] + [""]
    if "plans" in plots:
        out += ["## Plan lengths", "", "Skills in the first plan of each episode (mean).", ""]
        out += _table(["task", "agent", "plan length"],
                      [(r["task"], r["agent"], f"{r['plan_length']:.1f}") for r in s["rows"]
                       if r["plan_length"] is not None])
        out += ["", "![plans](plots/plans.png)", ""]
    out += ["## Failure causes", ""]
    out += _table(["task", "agent", *CAUSES, "death by"],
                  [(r["task"], r["agent"], *(r["causes"][c] for c in CAUSES),
                    ", ".join(f"{k} {v}" for k, v in sorted(r["death_by"].items())) or "-")
                   for r in s["rows"]])
    for agent, ends in s["failures_at_end"].items():
        out += ["", f"Where `{agent}` failed (the skill running at the end):", ""]
        out += [f"- {what}: {n}" for what, n in ends.items()]
    out += ["", "![failures](plots/failures.png)", "", "## Provenance", ""]
    out += [f"- commit {prov['commit']}; " + ", ".join(f"{k} {v}" for k, v in
                                                       prov["versions"].items())]
    out += [f"- seeds {s['seeds'][0]}-{s['seeds'][1]} for every task and agent "
            "(evaluation seeds start at 10^9; training and recordings use seeds below 10^8)"]
    out += [f"- settings: " + ", ".join(f"{k}={v}" for k, v in settings.items())]
    out += [f"- Ray nodes (episodes): " + ", ".join(f"{k[:12]} {v}" for k, v in
                                                    s["nodes"].items())]
    out += [f"- episode time in all: {s['wall_s']:.0f} s"]
    out += ["- files (sha256):"] + [f"  - `{p}` {h}" for p, h in prov["files_sha256"].items()]
    return "\n".join(out) + "\n"


def _html(markdown_text: str, plots: dict[str, pathlib.Path]) -> str:
    """The Markdown as a self-contained page: headings, tables, lists, embedded images."""
    body, table = [], []

    def flush_table():
        if table:
            rows = [r for r in table if not set(r.replace("|", "").strip()) <= {"-", " "}]
            cells = [[c.strip() for c in r.strip().strip("|").split("|")] for r in rows]
            body.append("<table><thead><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in cells[0])
                        + "</tr></thead><tbody>" + "".join(
                            "<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>"
                            for row in cells[1:]) + "</tbody></table>")
            table.clear()

    images = {f"plots/{p.name}": p for p in plots.values()}
    for line in markdown_text.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush_table()
        if line.startswith("# "):
            body.append(f"<h1>{_inline(line[2:])}</h1>")
        elif line.startswith("## "):
            body.append(f"<h2>{_inline(line[3:])}</h2>")
        elif line.startswith("!["):
            alt, src = line[2:].split("](", 1)
            src = src.rstrip(")")
            if src in images:
                data = base64.b64encode(images[src].read_bytes()).decode()
                body.append(f'<p><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
                            "</p>")
        elif line.startswith("  - "):
            body.append(f"<li class='sub'>{_inline(line[4:])}</li>")
        elif line.startswith("- "):
            body.append(f"<li>{_inline(line[2:])}</li>")
        elif line.strip():
            body.append(f"<p>{_inline(line)}</p>")
    flush_table()
    style = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;"
             "color:#222}table{border-collapse:collapse;margin:1em 0;font-size:90%}"
             "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}th{background:#f3f3f3}"
             "img{max-width:100%;border:1px solid #eee}li.sub{margin-left:2em;font-size:85%}"
             "code{background:#f5f5f5;padding:0 3px}")
    return ("<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>mcagent evaluation"
            f"</title><style>{style}</style></head><body>\n" + "\n".join(body) +
            "\n</body></html>\n")


def _inline(text: str) -> str:
    import re

    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


def write_report(out: str | pathlib.Path) -> dict[str, pathlib.Path]:
    """Write report.md, report.html, summary.json and plots/ for the evaluation in `out`."""
    out = pathlib.Path(out)
    plan_path, results_path = out / PLAN_NAME, out / RESULTS_NAME
    if not plan_path.exists():
        raise UserError(f"{out}: no {PLAN_NAME} here; not an evaluation folder "
                        f"(run `mcagent eval --out {out}` first)")
    plan = json.loads(plan_path.read_text())
    records = read_results(results_path)
    summary = summarise(plan, records)
    prov = provenance(plan["settings"])
    plots = _plots({**summary, "_records": records}, out / "plots")
    text = _markdown(summary, prov, plots, plan["settings"])
    written = {"markdown": out / "report.md", "html": out / "report.html",
               "summary": out / "summary.json"}
    written["markdown"].write_text(text, encoding="utf-8")
    written["html"].write_text(_html(text, plots), encoding="utf-8")
    summary["provenance"] = prov
    summary["date"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    written["summary"].write_text(json.dumps(summary, indent=1) + "\n")
    for agent in summary["crafter_score"]:
        # The benchmark's own file, per agent, in episode order, for its analysis scripts.
        folder = out / "crafter" / agent
        folder.mkdir(parents=True, exist_ok=True)
        lines = [json.dumps(r["crafter_stats"]) for r in
                 sorted(records, key=lambda r: (r["task"], r["seed"]))
                 if r["agent"] == agent and r.get("crafter_stats")]
        (folder / "stats.jsonl").write_text("\n".join(lines) + "\n")
        written[f"stats-{agent}"] = folder / "stats.jsonl"
    return written
