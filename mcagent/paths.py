"""Where the default data lives: the working folder first, else the checkout mcagent runs from.

The graphs in `skill_graph/` and the models in `checkpoints/` sit at the top of the
repository, beside the package, so that a command run from anywhere in an editable
install finds them; a folder of the same name in the working directory wins.
"""

from __future__ import annotations

from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]


def default_path(*parts: str) -> Path:
    """`Path(*parts)` if it exists in the working folder, else the same path in the repository."""
    here = Path(*parts)
    return here if here.exists() else REPOSITORY.joinpath(*parts)
