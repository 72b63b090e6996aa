"""Throughput of `mcagent eval` on a one-node and a two-node Ray cluster on this one machine.

Both clusters have the same CPUs in all (one node with 2, or two nodes with 1
each, started with `ray start` as in tests/test_ray_cluster.py), and play the
same episodes with the same 2 workers, so the ratio shows what a second node
costs (scheduling across raylets, two object stores), not a speed-up: a real
second machine would bring its own cores. Prints episodes/s and steps/s for
both and appends them to `benchmarks/eval_cluster.history.jsonl`. From the
repository root:

    python benchmarks/eval_cluster.py [--episodes 20] [--task collect_iron]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from test_ray_cluster import Node, free_port, list_nodes, ray_env, wait_for  # noqa: E402

HISTORY = Path(__file__).with_name("eval_cluster.history.jsonl")


def cluster(cpus: list[int], logs: Path) -> tuple[list[Node], str]:
    gcs, port = free_port(), free_port()
    dashboard = f"http://127.0.0.1:{port}"
    nodes = [Node(["--head", "--port", str(gcs), "--node-ip-address", "127.0.0.1",
                   "--num-cpus", str(cpus[0]), "--include-dashboard", "true",
                   "--dashboard-host", "127.0.0.1", "--dashboard-port", str(port),
                   "--ray-client-server-port", str(free_port())], "head", logs)]
    wait_for(lambda: list_nodes(dashboard), 150, "the head node", nodes)
    for i, n in enumerate(cpus[1:]):
        nodes.append(Node(["--address", f"127.0.0.1:{gcs}", "--node-ip-address", "127.0.0.1",
                           "--num-cpus", str(n)], f"worker{i}", logs))
    wait_for(lambda: len(list_nodes(dashboard)) == len(cpus), 150, "the workers", nodes)
    return nodes, f"127.0.0.1:{gcs}"


def evaluate(address: str, out: Path, args) -> dict:
    command = [sys.executable, "-m", "mcagent.cli", "eval", "--suite", "tech-tree",
               "--tasks", args.task, "--agents", "mcagent,random", "--episodes",
               str(args.episodes), "--skills", "expert", "--max-steps", str(args.max_steps),
               "--workers", "2", "--address", address, "--out", str(out), "-q"]
    began = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=ray_env(), check=True, capture_output=True)
    wall = time.perf_counter() - began
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    return {"episodes": len(records), "wall_s": round(wall, 2),
            "episodes_per_s": round(len(records) / wall, 3),
            "steps_per_s": round(sum(r["steps"] for r in records) / wall, 1),
            "nodes_used": len({r["node"] for r in records})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=20, help="per agent (default 20)")
    parser.add_argument("--task", default="collect_iron")
    parser.add_argument("--max-steps", type=int, default=1000)
    args = parser.parse_args()
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, cpus in (("1 node x 2 CPUs", [2]), ("2 nodes x 1 CPU", [1, 1])):
            nodes, address = cluster(cpus, Path(tmp))
            try:
                figures[name] = evaluate(address, Path(tmp) / name.replace(" ", "_"), args)
            finally:
                for node in reversed(nodes):
                    node.stop()
            print(f"{name}: {figures[name]}", flush=True)
    one, two = figures["1 node x 2 CPUs"], figures["2 nodes x 1 CPU"]
    ratio = two["episodes_per_s"] / one["episodes_per_s"]
    print(f"2 nodes / 1 node on one machine: {ratio:.2f}x episodes/s (the cost of a second "
          f"node, not a speed-up); load average {os.getloadavg()[0]:.1f}")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    with HISTORY.open("a") as history:
        history.write(json.dumps({
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "commit": commit, "task": args.task, "episodes_per_agent": args.episodes,
            "max_steps": args.max_steps, "figures": figures, "ratio": round(ratio, 3),
            "load_average": round(os.getloadavg()[0], 2)}) + "\n")


if __name__ == "__main__":
    main()
