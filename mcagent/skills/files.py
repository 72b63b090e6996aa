"""Small file helpers of the skills package: versioned JSON in, atomic text out, portable paths."""

from __future__ import annotations

import os
import pathlib

from mcagent.errors import UserError
from mcagent.graph.schema import read_data_file


def read_versioned_json(path: pathlib.Path, what: str, fmt: str) -> dict:
    """A JSON object whose "format" must be `fmt`; errors name the file and the problem."""
    data = read_data_file(path, what)
    if not isinstance(data, dict) or data.get("format") != fmt:
        got = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise UserError(f"{path}: expected format {fmt!r}, got {got!r}")
    return data


def write_atomic(path: pathlib.Path, text: str) -> None:
    """Write `text` under a hidden name, then move it into place: readers never see half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def portable(settings: dict) -> dict:
    """`settings` with absolute paths inside the working folder made relative to it, so a
    checkpoint's record of how it was trained names no one's home folder."""
    return {k: portable_path(v) if isinstance(v, str) else v for k, v in settings.items()}


def portable_path(value: str) -> str:
    """An absolute path inside the working folder as a relative one; anything else as it is."""
    if not os.path.isabs(value):
        return value
    here, path = pathlib.Path.cwd(), pathlib.Path(value)
    return str(path.relative_to(here)) if here in path.parents else value
