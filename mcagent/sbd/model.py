"""SBD's two small models, and their checkpoints (safetensors weights + a JSON config, no pickle).

- `ActionModel`: causal action prediction. A conv encoder per frame, the
  previous action's embedding, a GRU over time, and logits over the world's
  actions: p(a_t | frames 0..t, actions 0..t-1 of the current segment).
- `InverseDynamicsModel`: frames t and t+1 in, the action taken between them out,
  to give plain videos the actions that SBD needs.

A checkpoint `<dir>/<name>.safetensors` holds the weights and
`<dir>/<name>.json` everything else: the format, the kind of model, its
architecture, the world's action names and frame size, and notes (training
figures, tuned boundary parameters).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mcagent.errors import UserError

CHECKPOINT_FORMAT = "mcagent-sbd-model/1"
ACTION_MODEL = "action_model"
IDM = "idm"


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The architecture and the world a model was trained for."""

    kind: str                          # "action_model" or "idm"
    action_names: tuple[str, ...]
    world: str = "crafter"
    frame_size: tuple[int, int] = (64, 64)   # (height, width) frames are resized to
    channels: tuple[int, ...] = (8, 16, 32, 64)   # conv layers, each halving the frame
    features: int = 128                # per-frame feature size
    action_embedding: int = 16         # action model: size of the previous action's embedding
    hidden: int = 128                  # action model: GRU state; idm: MLP width

    def to_json(self) -> dict[str, Any]:
        return settings_to_json(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelConfig:
        return settings_from_json(cls, data)


def settings_to_json(settings: Any) -> dict[str, Any]:
    """A frozen dataclass of settings as JSON (tuples as lists)."""
    d = dataclasses.asdict(settings)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def settings_from_json(cls: type, data: dict[str, Any]) -> Any:
    """`cls(**data)`, lists back to tuples; `ValueError` naming any field `cls` does not have."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"unknown settings {', '.join(unknown)}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


class FrameEncoder(nn.Module):
    """uint8 frames (..., H, W, C) -> features (..., F); C is 3 or a stack of frames."""

    def __init__(self, in_channels: int, channels: tuple[int, ...], features: int,
                 frame_size: tuple[int, int]):
        super().__init__()
        layers, c = [], in_channels
        for out in channels:
            layers += [nn.Conv2d(c, out, 4, stride=2, padding=1), nn.ReLU()]
            c = out
        self.conv = nn.Sequential(*layers)
        h, w = frame_size
        for _ in channels:
            h, w = h // 2, w // 2
        self.proj = nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, features), nn.ReLU())

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        lead = frames.shape[:-3]
        x = frames.reshape(-1, *frames.shape[-3:]).permute(0, 3, 1, 2).float() / 255.0 - 0.5
        return self.proj(self.conv(x)).reshape(*lead, -1)


class ActionModel(nn.Module):
    """p(a_t | history since the last reset). The 'previous action' of a segment's
    first frame is a start token, index `n_actions`."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        n = len(config.action_names)
        self.n_actions = n
        self.encoder = FrameEncoder(3, config.channels, config.features, config.frame_size)
        self.embed = nn.Embedding(n + 1, config.action_embedding)
        self.gru = nn.GRU(config.features + config.action_embedding, config.hidden,
                          batch_first=True)
        self.head = nn.Linear(config.hidden, n)

    def forward(self, frames: torch.Tensor, prev_actions: torch.Tensor,
                state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """frames (B, T, H, W, 3) uint8, prev_actions (B, T) -> logits (B, T, A), state."""
        return self.step_features(self.encoder(frames), prev_actions, state)

    def step_features(self, features: torch.Tensor, prev_actions: torch.Tensor,
                      state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Like `forward`, from frames already encoded: features (B, T, F)."""
        x = torch.cat([features, self.embed(prev_actions)], dim=-1)
        out, state = self.gru(x, state)
        return self.head(out), state


class InverseDynamicsModel(nn.Module):
    """Logits of the action between frames t and t+1."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        n = len(config.action_names)
        # Frame t, frame t+1 and their difference, which makes small changes easy to see.
        self.encoder = FrameEncoder(9, config.channels, config.features, config.frame_size)
        self.head = nn.Sequential(nn.Linear(config.features, config.hidden), nn.ReLU(),
                                  nn.Linear(config.hidden, n))

    def forward(self, before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
        """before, after (B, H, W, 3) uint8 -> logits (B, A)."""
        b, a = before.float(), after.float()
        stacked = torch.cat([b, a, (a - b) / 2 + 127.5], dim=-1)
        return self.head(self.encoder(stacked))


def build(config: ModelConfig) -> nn.Module:
    if config.kind == ACTION_MODEL:
        return ActionModel(config)
    if config.kind == IDM:
        return InverseDynamicsModel(config)
    raise ValueError(f"unknown model kind {config.kind!r}; expected {ACTION_MODEL} or {IDM}")


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# -- checkpoints --------------------------------------------------------------

def checkpoint_paths(directory: str | os.PathLike, name: str) -> tuple[Path, Path]:
    directory = Path(directory)
    return directory / f"{name}.safetensors", directory / f"{name}.json"


def save_model(model: nn.Module, directory: str | os.PathLike, name: str,
               notes: dict[str, Any] | None = None) -> Path:
    """Write `<directory>/<name>.safetensors` and `.json` atomically. Returns the json path."""
    return write_checkpoint(model, directory, name, {"format": CHECKPOINT_FORMAT,
                                                     "model": model.config.to_json(),
                                                     "notes": notes or {}})


def write_checkpoint(module: nn.Module, directory: str | os.PathLike, name: str,
                     document: dict[str, Any]) -> Path:
    """`module`'s weights as `<directory>/<name>.safetensors` and `document` as `<name>.json`,
    each written under a hidden name and renamed. Returns the json path."""
    from safetensors.torch import save_file

    weights, config_path = checkpoint_paths(directory, name)
    weights.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    tmp_w = weights.with_name(f".{weights.name}.partial")
    tmp_c = config_path.with_name(f".{config_path.name}.partial")
    save_file(state, str(tmp_w))
    tmp_c.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp_w, weights)
    os.replace(tmp_c, config_path)
    return config_path


def read_config(directory: str | os.PathLike, name: str) -> tuple[ModelConfig, dict[str, Any]]:
    """The config and notes of a checkpoint, with a clear error for a missing or bad one."""
    hint = (f"no trained {name} in {Path(directory)}. Train one with `mcagent sbd "
            f"{'train' if name == ACTION_MODEL else 'train-idm'} RECORDINGS --out "
            f"{Path(directory)}` or pass --model DIR")
    config, notes, config_path = read_checkpoint(directory, name, CHECKPOINT_FORMAT, "model",
                                                 ModelConfig.from_json, hint)
    if config.kind != name:
        raise UserError(f"{config_path}: holds a {config.kind}, not a {name}")
    return config, notes


def read_checkpoint(directory: str | os.PathLike, name: str, format: str, key: str,
                    parse: Callable[[dict[str, Any]], Any], missing_hint: str
                    ) -> tuple[Any, dict[str, Any], Path]:
    """`parse(document[key])`, the notes and the JSON's path of `<directory>/<name>.*`; a
    missing file is reported with `missing_hint`, a bad one with its path and the fault."""
    weights, config_path = checkpoint_paths(directory, name)
    if not config_path.is_file() or not weights.is_file():
        missing = config_path if not config_path.is_file() else weights
        raise UserError(f"{missing}: missing; {missing_hint}")
    from mcagent.recordings.format import read_json_object

    data = read_json_object(config_path)
    if data.get("format") != format:
        raise UserError(f"{config_path}: not an {format} config")
    try:
        config = parse(data[key])
    except (KeyError, TypeError, ValueError) as err:
        raise UserError(f"{config_path}: bad {key} settings: {err}") from None
    return config, data.get("notes", {}), config_path


def load_model(directory: str | os.PathLike, name: str,
               device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """The model saved under `<directory>/<name>`, in eval mode, and its notes."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    config, notes = read_config(directory, name)
    weights, _ = checkpoint_paths(directory, name)
    model = build(config)
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError) as err:
        raise UserError(f"{weights}: unreadable weights: {err}") from None
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise UserError(f"{weights}: the weights do not fit the config beside them: "
                        f"{str(err).splitlines()[0]}") from None
    return model.to(device).eval(), notes


def update_notes(directory: str | os.PathLike, name: str, **notes: Any) -> None:
    """Merge `notes` into a checkpoint's JSON (used to store tuned boundary parameters); any
    `<name>.json` with a "notes" object, the scorer's too."""
    _, config_path = checkpoint_paths(directory, name)
    data = json.loads(config_path.read_text(encoding="utf-8"))
    data.setdefault("notes", {}).update(notes)
    tmp = config_path.with_name(f".{config_path.name}.partial")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, config_path)


def pick_device(name: str | None = None) -> torch.device:
    """The device asked for, or a GPU when there is one, else the CPU."""
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def as_uint8_frames(frames: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(frames))
