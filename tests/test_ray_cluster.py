"""Cluster operations: `ray_cluster.yaml` checked as `ray up` checks it, and a real two-node
Ray cluster on this machine (two `ray start`s, each with its own CPU and custom resource)
running `mcagent segment` as a Ray job whose recordings spread over both nodes."""

from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CLUSTER_YAML = ROOT / "ray_cluster.yaml"


# -- ray_cluster.yaml ---------------------------------------------------------------

def checked(config: dict) -> dict:
    """What `ray up` does to a config before it asks the cloud for anything: merge the
    provider's defaults, then validate against the autoscaler's ray-schema.json."""
    from ray.autoscaler._private.util import prepare_config, validate_config

    prepared = prepare_config(copy.deepcopy(config))
    validate_config(prepared)
    return prepared


@pytest.fixture(scope="module")
def cluster_config() -> dict:
    return yaml.safe_load(CLUSTER_YAML.read_text(encoding="utf-8"))


def test_the_schema_ray_validates_against_is_the_one_ray_ships():
    import ray.autoscaler

    schema = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())
    # Unknown keys are errors at the top level and in node types, so a typo cannot pass.
    assert schema["additionalProperties"] is False
    node_type = schema["properties"]["available_node_types"]["patternProperties"][".*"]
    assert node_type["additionalProperties"] is False


def test_ray_cluster_yaml_passes_the_autoscalers_checks(cluster_config):
    config = checked(cluster_config)
    types = config["available_node_types"]
    assert config["head_node_type"] in types
    workers = {name: t for name, t in types.items() if name != config["head_node_type"]}
    gpu = [t for t in workers.values() if t["resources"].get("GPU", 0) >= 1]
    assert gpu and all(t["min_workers"] == 0 for t in gpu), "a GPU worker type from zero"
    assert config["max_workers"] >= max(t["max_workers"] for t in gpu) > 0


def test_every_node_installs_mcagent_with_the_right_torch(cluster_config):
    config = checked(cluster_config)
    head, worker = (" && ".join(config[k]) for k in ("head_setup_commands",
                                                     "worker_setup_commands"))
    for commands in (head, worker):
        assert "pip install -q -e ~/mcagent" in commands
        # torch first, so that installing mcagent does not pull another build
        assert commands.index("pip install -q torch==") < commands.index("-e ~/mcagent")
    assert "download.pytorch.org/whl/cpu" in head
    assert "whl/cpu" not in worker and "torch.cuda.is_available()" in worker
    # the nodes run the Ray this checkout is tested with (a mismatch breaks `ray up`)
    import ray

    assert f'"ray[default]=={ray.__version__}"' in " ".join(config["setup_commands"])


def test_the_file_mounts_carry_the_code_models_and_recordings(cluster_config):
    mounts = cluster_config["file_mounts"]
    for remote, local in (("~/mcagent", "."), ("~/mcagent/checkpoints", "./checkpoints"),
                          ("~/mcagent/videos", "./videos")):
        assert mounts[remote] == local
        assert (ROOT / local).is_dir()
    assert (ROOT / "checkpoints" / "sbd").is_dir() and list((ROOT / "videos").glob("*.mp4"))


@pytest.mark.parametrize("break_it, complaint", [
    (lambda c: c.update(setup_comands=c.pop("setup_commands")), "setup_comands"),
    (lambda c: c["available_node_types"]["gpu_worker"].update(min_worker=0), "min_worker"),
    (lambda c: c["available_node_types"]["gpu_worker"].pop("resources"), "resources"),
    (lambda c: c["available_node_types"]["gpu_worker"]["resources"].update(GPU=0.5), "0.5"),
])
def test_a_broken_config_is_rejected_with_the_key_named(cluster_config, break_it, complaint):
    import jsonschema

    config = copy.deepcopy(cluster_config)
    break_it(config)
    with pytest.raises(jsonschema.ValidationError) as caught:
        checked(config)
    assert complaint in str(caught.value)


def test_a_head_type_that_is_not_defined_is_rejected(cluster_config):
    config = copy.deepcopy(cluster_config)
    config["head_node_type"] = "hed"
    with pytest.raises(ValueError, match="head_node_type"):
        checked(config)


# -- GPUs ----------------------------------------------------------------------------

class FakeRay:
    """The parts of Ray that segment's scheduling uses, recording what the tasks ask for."""

    exceptions = type("exceptions", (), {"RayError": RuntimeError})

    def __init__(self, resources):
        self.resources, self.options, self.devices = resources, {}, set()

    def is_initialized(self):
        return True

    def cluster_resources(self):
        return self.resources

    def remote(self, **options):
        self.options.update(options)
        return lambda fn: type("Remote", (), {"remote": staticmethod(lambda job: job)})

    def wait(self, refs, num_returns):
        return refs[:num_returns], refs[num_returns:]

    def get(self, job):
        from mcagent.sbd.segments import Segmentation

        self.devices.add(job.device)
        name = Path(job.recording).name
        return {"recording": job.recording, "video": name, "frames": 3, "segments": 1,
                "segmentation": Segmentation.from_boundaries(name, "sbd-info", 3, []),
                "node_id": "node-1", "host": "here", "seconds": 0.1}


def test_gpus_per_worker_is_asked_of_ray_and_the_model_runs_on_cuda(tmp_path, caplog):
    from mcagent.sbd.segment import segment_many

    ray = FakeRay({"CPU": 8, "GPU": 1})
    results = segment_many([ROOT / "videos"], tmp_path, mode="info", workers=2,
                           gpus_per_worker=0.25, ray_module=ray)
    assert ray.options["num_gpus"] == 0.25 and ray.options["num_cpus"] == 1
    assert ray.devices == {"cuda"} and len(results) == 4
    run = json.loads((tmp_path / "segment-run.json").read_text())
    assert run["gpus_per_worker"] == 0.25
    assert {r["node_id"] for r in run["recordings"]} == {"node-1"}

    ray = FakeRay({"CPU": 8})      # none yet: an autoscaler may add one, so it waits, and says so
    segment_many([ROOT / "videos"], tmp_path, mode="info", workers=2, gpus_per_worker=1,
                 ray_module=ray)
    assert "no GPU in the Ray cluster yet" in caplog.text

    ray = FakeRay({"CPU": 8})
    segment_many([ROOT / "videos"], tmp_path, mode="info", workers=2, ray_module=ray)
    assert ray.options["num_gpus"] == 0 and ray.devices == {"cpu"}


def test_gpus_per_worker_without_a_gpu_here_is_a_one_line_error(tmp_path):
    import torch

    from mcagent.errors import UserError
    from mcagent.sbd.segment import SegmentJob, run_job, segment_many

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(UserError, match="--gpus-per-worker asks for a GPU, but torch here"):
        segment_many([ROOT / "videos"], tmp_path, gpus_per_worker=1)
    with pytest.raises(UserError, match="0 or more"):
        segment_many([ROOT / "videos"], tmp_path, gpus_per_worker=-1)
    # a task given a GPU on a node whose torch cannot see it names the node and the fix
    stem = str(next((ROOT / "videos").glob("*.mp4")).with_suffix(""))
    failed = run_job(SegmentJob(stem, str(ROOT / "checkpoints" / "sbd"), "loss", 2.0, 1,
                                device="cuda"))
    assert "torch on" in failed["error"] and "--gpus-per-worker 0" in failed["error"]


# -- a real two-node cluster ----------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_ADDRESS")}
    # A private cluster on 127.0.0.1: no usage reports, and no token (Ray enables token
    # authentication when ~/.ray/auth_token exists, and only the head reads it).
    env.update(RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled")
    return env


class Node:
    """One `ray start --block` in its own process group and temp dir, so it can be
    stopped alone: `ray stop` would stop every Ray process on the machine, other
    people's local clusters included."""

    def __init__(self, args: list[str], name: str, log_dir: Path):
        self.name = name
        # Short: Ray's socket paths under it must fit in 107 characters.
        self.temp_dir = tempfile.mkdtemp(prefix=f"mc{name}-", dir="/tmp")
        ports = ["--node-manager-port", "--object-manager-port", "--dashboard-agent-grpc-port",
                 "--dashboard-agent-listen-port", "--runtime-env-agent-port",
                 "--metrics-export-port"]
        self.log = log_dir / f"{name}.log"
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                ["ray", "start", "--block", "--temp-dir", self.temp_dir, "--num-gpus", "0",
                 "--disable-usage-stats", *args,
                 *[x for p in ports for x in (p, str(free_port()))]],
                env=ray_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        import psutil

        try:
            tree = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            tree = []
        # Killed outright: the test's cluster keeps nothing worth a graceful stop, and Ray's
        # services take seconds to act on SIGTERM.
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(30)
        # What left the group (a worker that made its own) still has its pid, or names
        # this node's temp dir on its command line.
        for p in psutil.process_iter(["cmdline"]):
            if p in tree or any(self.temp_dir in arg for arg in p.info["cmdline"] or ()):
                try:
                    p.kill()
                except psutil.NoSuchProcess:
                    pass
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def list_nodes(dashboard: str) -> list[dict]:
    """The live nodes, from the dashboard's state API (what `ray list nodes` asks)."""
    from urllib.error import URLError
    from urllib.request import urlopen

    try:
        with urlopen(f"{dashboard}/api/v0/nodes?detail=1", timeout=10) as answer:
            nodes = json.load(answer)["data"]["result"]["result"]
    except (URLError, OSError, KeyError, ValueError):
        return []   # not up yet
    return [n for n in nodes if n.get("state") == "ALIVE"]


def wait_for(condition, timeout: float, what: str, nodes: list[Node]):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        for node in nodes:
            if not node.alive():
                pytest.fail(f"{what}: `ray start` exited; its log:\n{node.log.read_text()[-3000:]}")
        time.sleep(0.5)
    pytest.fail(f"{what}: not within {timeout:.0f} s")


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory):
    """A head (1 CPU, resource head_node) and a worker (1 CPU, resource worker_node)."""
    import importlib.util

    if importlib.util.find_spec("aiohttp") is None:
        pytest.fail("the job server needs ray[default]: pip install -e '.[test]' installs it")
    logs = tmp_path_factory.mktemp("ray-logs")
    gcs, dashboard_port = free_port(), free_port()
    dashboard = f"http://127.0.0.1:{dashboard_port}"
    started = time.monotonic()
    nodes = [Node(["--head", "--port", str(gcs), "--node-ip-address", "127.0.0.1",
                   "--num-cpus", "1", "--resources", '{"head_node": 1}',
                   "--include-dashboard", "true", "--dashboard-host", "127.0.0.1",
                   "--dashboard-port", str(dashboard_port),
                   "--ray-client-server-port", str(free_port())], "head", logs)]
    try:
        wait_for(lambda: list_nodes(dashboard), 150, "the head node", nodes)
        nodes.append(Node(["--address", f"127.0.0.1:{gcs}", "--node-ip-address", "127.0.0.1",
                           "--num-cpus", "1", "--resources", '{"worker_node": 1}'],
                          "worker", logs))
        found = wait_for(lambda: (n if len(n := list_nodes(dashboard)) == 2 else None), 150,
                         "the second node", nodes)
        yield {"dashboard": dashboard, "nodes": found, "start_s": time.monotonic() - started,
               "processes": nodes}
    finally:
        for node in reversed(nodes):
            node.stop()


# In the default run: about 42 s on this 2-core machine (cluster up 19 s, the job 23 s),
# 61-69 s with a load average of 36.
def test_segmentation_as_a_ray_job_spreads_over_both_nodes(two_nodes, tmp_path):
    nodes = {n["node_id"]: n for n in two_nodes["nodes"]}
    roles = {next(r for r in ("head_node", "worker_node") if r in n["resources_total"]): i
             for i, n in nodes.items()}
    assert set(roles) == {"head_node", "worker_node"}
    assert all(n["resources_total"]["CPU"] == 1 for n in nodes.values())

    out = tmp_path / "segments"
    started = time.monotonic()
    # As a user would from the repository root; the job's driver runs on the head and its
    # tasks wherever a CPU is free, one per node here.
    done = subprocess.run(
        ["ray", "job", "submit", "--address", two_nodes["dashboard"], "--working-dir", str(ROOT),
         "--", "mcagent", "segment", "videos", "--out", str(out), "--address", "auto",
         "--workers", "2", "-q"],
        cwd=ROOT, env=ray_env(), capture_output=True, text=True, timeout=280)
    job_s = time.monotonic() - started
    assert done.returncode == 0 and "succeeded" in done.stdout, done.stdout + done.stderr
    assert f"4 segmentations in {out}" in done.stdout

    run = json.loads((out / "segment-run.json").read_text())
    assert run["format"] == "mcagent-segment-run/1" and run["ray"] is True
    stems = sorted(p.name[: -len(".mp4")] for p in (ROOT / "videos").glob("*.mp4"))
    assert [Path(r["recording"]).name for r in run["recordings"]] == stems
    assert all((out / f"{s}.segments.json").is_file() for s in stems)
    seen = {r["node_id"] for r in run["recordings"]}
    assert seen == set(nodes), (seen, set(nodes))
    per_node = {role: sum(r["node_id"] == i for r in run["recordings"])
                for role, i in roles.items()}
    print(f"\ntwo-node cluster up in {two_nodes['start_s']:.1f} s; segment job "
          f"{job_s:.1f} s; recordings per node {per_node}; node ids "
          f"head {roles['head_node']}, worker {roles['worker_node']}", file=sys.stderr)


def eval_command(out: Path, episodes: int, tasks: str, max_steps: int) -> list[str]:
    return ["mcagent", "eval", "--suite", "tech-tree", "--tasks", tasks,
            "--agents", "mcagent,random", "--episodes", str(episodes), "--skills", "expert",
            "--max-steps", str(max_steps), "--workers", "2", "--address", "auto",
            "--out", str(out), "-q"]


def test_evaluation_as_a_ray_job_spreads_over_both_nodes(two_nodes, tmp_path):
    nodes = {n["node_id"] for n in two_nodes["nodes"]}
    out = tmp_path / "eval"
    done = subprocess.run(
        ["ray", "job", "submit", "--address", two_nodes["dashboard"], "--working-dir", str(ROOT),
         "--", *eval_command(out, 3, "collect_wood,place_table", 200)],
        cwd=ROOT, env=ray_env(), capture_output=True, text=True, timeout=280)
    assert done.returncode == 0 and "succeeded" in done.stdout, done.stdout + done.stderr
    assert f"{out / 'report.html'}" in done.stdout
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(records) == len({r["key"] for r in records}) == 12
    assert {r["node"] for r in records} == nodes      # episodes played on both nodes


def test_training_and_skill_evaluation_run_as_ray_jobs(two_nodes, tmp_path):
    """`train all` and `skills evaluate` as jobs, unchanged: one task per skill."""
    out = tmp_path / "skills"

    def job(*command):
        done = subprocess.run(
            ["ray", "job", "submit", "--address", two_nodes["dashboard"], "--working-dir",
             str(ROOT), "--", "mcagent", *command, "--address", "auto", "-q"],
            cwd=ROOT, env=ray_env(), capture_output=True, text=True, timeout=280)
        assert done.returncode == 0 and "succeeded" in done.stdout, done.stdout + done.stderr
        return done.stdout

    printed = job("train", "all", "--skills", "collect_wood", "find_tree", "--scratch",
                  "--steps", "256", "--envs", "2", "--rollout-len", "64", "--out", str(out),
                  "--logdir", str(tmp_path / "tb"))
    trained = json.loads((out / "training.json").read_text())
    assert sorted(r["skill"] for r in trained) == ["collect_wood", "find_tree"]
    assert all((out / "ppo" / f"{s}.safetensors").is_file() for s in ("collect_wood", "find_tree"))
    assert str(out) in printed
    job("skills", "evaluate", "--skills", "collect_wood", "find_tree", "--checkpoints", str(out),
        "--source", "ppo", "--trials", "3")
    evaluated = json.loads((out / "evaluation_ppo.json").read_text())
    assert sorted(r["skill"] for r in evaluated) == ["collect_wood", "find_tree"]
    assert all(r["trials"] == 3 for r in evaluated)
    assert (out / "costs_ppo.yaml").is_file()


def busy_on(node: Node) -> bool:
    """Whether a Ray worker of `node` is playing an episode (Ray titles it after the task)."""
    import psutil

    try:
        tree = psutil.Process(node.process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return False
    for p in tree:
        try:
            if (p.cmdline() or [""])[0].startswith("ray::_play"):
                return True
        except psutil.NoSuchProcess:
            continue
    return False


def test_evaluation_survives_losing_a_node(two_nodes, tmp_path):
    """The worker node is killed while an evaluation runs: every episode ends up in the
    results exactly once, those it was playing played again on the head. (Last in this
    file: the cluster has one node after it.)"""
    worker = next(n for n in two_nodes["processes"] if n.name == "worker")
    head_id = next(n["node_id"] for n in two_nodes["nodes"] if "head_node" in n["resources_total"])
    out = tmp_path / "eval"
    started = time.monotonic()
    job = subprocess.Popen(
        ["ray", "job", "submit", "--address", two_nodes["dashboard"], "--working-dir", str(ROOT),
         "--", *eval_command(out, 8, "collect_iron", 400)],
        cwd=ROOT, env=ray_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    results = out / "results.jsonl"
    deadline = time.monotonic() + 200
    while not busy_on(worker):             # wait until the worker node is mid-episode
        assert time.monotonic() < deadline and job.poll() is None, "no episode on the worker"
        time.sleep(0.02)
    worker.stop()
    killed_at = time.monotonic()
    output, _ = job.communicate(timeout=400)
    assert job.returncode == 0 and "succeeded" in output, output
    records = [json.loads(line) for line in results.read_text().splitlines()]
    keys = [r["key"] for r in records]
    assert len(keys) == len(set(keys)) == 16
    # What the worker node was playing was played again on the head.
    assert any(r["attempt"] == 2 and r["node"] == head_id for r in records)
    assert all(r["node"] == head_id for r in records if r["attempt"] > 1)
    retried = sum(r["attempt"] > 1 for r in records)
    line = next(l for l in output.splitlines() if "played again after a lost worker" in l)
    assert f"{retried} played again" in line
    print(f"\nnode lost {killed_at - started:.1f} s into the job: {retried} episode(s) played "
          f"again; {line.strip()}; job {time.monotonic() - started:.1f} s", file=sys.stderr)
