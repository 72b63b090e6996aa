"""Skill-conditioned policies on what a player sees, and their checkpoints (safetensors + JSON).

One network serves a set of skills: a tile encoder reads the frame, an MLP the
inventory, and a learned embedding of the skill joins them before the policy
and value heads. Crafter draws its frame as a grid of square tiles (64x64
pixels: 9x9 tiles of 7 pixels; the top 9x7 are the local view, the bottom two
rows the inventory, which the inventory vector already gives), so the encoder
embeds each view tile on its own (a convolution with the tile as kernel and
stride, then a per-tile layer) and an MLP reads the grid of embeddings. It
sees everything a generic CNN would, at a seventh of its cost: PPO's updates,
not the world, were what made training slow. BC trains one such network on every skill of the segments:
the skills share what they see (trees, stone, water look the same to
`find_tree` and `collect_wood`), which matters when the rare skills
(`collect_diamond`) have a few hundred frames. PPO then fine-tunes a copy for
one skill. Each skill may only choose its own actions: the others are masked.

A checkpoint is `<name>.safetensors` (the tensors) beside `<name>.json` (the
config: skills, action names, observation shapes, layer sizes, how it was
trained). Loading checks both against what the caller expects and names the
two sides of any mismatch; nothing is unpickled.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from mcagent.errors import UserError
from mcagent.skills.files import read_versioned_json, write_atomic

CHECKPOINT_FORMAT = "mcagent-skill-policy/2"   # /1 held a generic CNN


@dataclasses.dataclass(frozen=True)
class PolicyConfig:
    """What a policy network is: its skills, actions, inputs and layer sizes."""

    skills: tuple[str, ...]
    action_names: tuple[str, ...]
    allowed: tuple[tuple[str, ...], ...]   # per skill: the actions it may take
    image_shape: tuple[int, int, int] = (64, 64, 3)
    inventory_size: int = 16
    tile: int = 7                           # pixels per tile side
    view: tuple[int, int] = (9, 7)          # tiles of the local view (columns, rows), top left
    tile_channels: tuple[int, ...] = (16, 16)   # per-tile embedding layers
    hidden: int = 128
    skill_embedding: int = 16
    normalize: bool = True                  # standardise each view per colour channel (nights)

    def __post_init__(self):
        for name in ("skills", "action_names", "image_shape", "view", "tile_channels"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "allowed", tuple(tuple(a) for a in self.allowed))
        if len(self.allowed) != len(self.skills):
            raise ValueError("allowed needs one action list per skill")
        height, width = self.image_shape[:2]
        if self.view[0] * self.tile > width or self.view[1] * self.tile > height:
            raise ValueError(f"a view of {list(self.view)} tiles of {self.tile} pixels does not "
                             f"fit a frame of shape {list(self.image_shape)}")

    def to_json(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v)
                for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_json(cls, data: Mapping, where: str) -> "PolicyConfig":
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - fields
        if unknown:
            raise UserError(f"{where}: unknown config field(s) {sorted(unknown)}")
        try:
            return cls(**data)
        except (TypeError, ValueError) as error:
            raise UserError(f"{where}: bad policy config: {error}") from error


class SkillPolicy(nn.Module):
    """Frame + inventory + skill id -> action logits (masked to the skill's actions) and value."""

    def __init__(self, config: PolicyConfig):
        super().__init__()
        self.config = config
        depth = config.image_shape[2]
        first, *rest = config.tile_channels
        layers: list[nn.Module] = [nn.Conv2d(depth, first, config.tile, stride=config.tile),
                                   nn.ReLU()]
        for out in rest:   # 1x1: each tile's embedding on its own
            layers += [nn.Conv2d(first, out, 1), nn.ReLU()]
            first = out
        self.tiles = nn.Sequential(*layers, nn.Flatten())
        self.inventory = nn.Sequential(nn.Linear(config.inventory_size, 32), nn.ReLU())
        self.skill = nn.Embedding(len(config.skills), config.skill_embedding)
        features = first * config.view[0] * config.view[1] + 32 + config.skill_embedding
        if config.normalize:
            features += 2 * depth   # the view's mean and spread, which standardising takes away
        self.trunk = nn.Sequential(nn.Linear(features, config.hidden), nn.ReLU(),
                                   nn.Linear(config.hidden, config.hidden), nn.ReLU())
        self.pi = nn.Linear(config.hidden, len(config.action_names))
        self.value = nn.Linear(config.hidden, 1)
        mask = torch.tensor([[a in allowed for a in config.action_names]
                             for allowed in config.allowed])
        self.register_buffer("mask", mask, persistent=False)
        nn.init.orthogonal_(self.pi.weight, 0.01)
        nn.init.zeros_(self.pi.bias)

    def skill_index(self, name: str) -> int:
        if name not in self.config.skills:
            raise UserError(f"this policy holds skills {list(self.config.skills)}, not {name!r}")
        return self.config.skills.index(name)

    def forward(self, image: torch.Tensor, inventory: torch.Tensor, skill: torch.Tensor):
        """image (B, H, W, 3) uint8, inventory (B, N) uint8/float, skill (B,) long."""
        return self.heads(self.prepare(image), inventory, skill)

    def prepare(self, image: torch.Tensor) -> torch.Tensor:
        """The local view of uint8 frames (B, H, W, 3) as floats (B, 3, rows, columns) in [0, 1]
        (PPO prepares a batch once for all its epochs)."""
        columns, rows = self.config.view
        tile = self.config.tile
        return image[:, :rows * tile, :columns * tile].permute(0, 3, 1, 2).float() / 255.0

    def heads(self, view: torch.Tensor, inventory: torch.Tensor, skill: torch.Tensor):
        """Logits and value from prepared views (`prepare`)."""
        parts = [self.inventory(inventory.float() / 9.0), self.skill(skill)]
        if self.config.normalize:
            mean, spread = view.mean((2, 3), keepdim=True), view.std((2, 3), keepdim=True)
            view = (view - mean) / (spread + 0.02)
            parts += [mean.flatten(1), spread.flatten(1)]
        h = torch.cat([self.tiles(view), *parts], 1)
        h = self.trunk(h)
        logits = self.pi(h).masked_fill(~self.mask[skill], -1e9)
        return logits, self.value(h).squeeze(-1)

    @torch.no_grad()
    def act(self, image: np.ndarray, inventory: np.ndarray, skill: int,
            greedy: bool = False) -> np.ndarray:
        """Actions for a batch of numpy observations."""
        skills = torch.full((len(image),), skill, dtype=torch.long)
        logits, _ = self(torch.as_tensor(image), torch.as_tensor(inventory), skills)
        if greedy:
            return logits.argmax(-1).numpy()
        return torch.distributions.Categorical(logits=logits).sample().numpy()


# -- checkpoints -------------------------------------------------------------------

def seed_policies(seed: int) -> None:
    """Seed what `SkillPolicy.act` samples actions from (torch's generator), so a seed
    fixes a whole episode, learned policies included. Call it after loading them: building
    a network draws numbers too."""
    torch.manual_seed(int(seed))


def save_policy(policy: SkillPolicy, path: str | pathlib.Path, *, half: bool = True,
                **training: object) -> pathlib.Path:
    """Write `<path>.safetensors` and `<path>.json`; `training` goes in the JSON as it is.

    With `half`, floating-point tensors are stored as float16 (half the size, so a
    whole skill set stays small; loading casts them back to the network's float32).
    """
    from safetensors.torch import save_file

    path = pathlib.Path(path).with_suffix("")
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in policy.state_dict().items()}
    if half:
        tensors = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
    meta = {"format": CHECKPOINT_FORMAT, "config": policy.config.to_json(), "training": training}
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(tensors, str(tmp))
    tmp.replace(path.with_suffix(".safetensors"))
    write_atomic(path.with_suffix(".json"), json.dumps(meta, indent=1) + "\n")
    return path.with_suffix(".safetensors")


def read_checkpoint_config(path: str | pathlib.Path) -> tuple[PolicyConfig, dict]:
    path = pathlib.Path(path).with_suffix(".json")
    meta = read_versioned_json(path, "checkpoint config", CHECKPOINT_FORMAT)
    return PolicyConfig.from_json(meta["config"], str(path)), meta.get("training", {})


def load_policy(path: str | pathlib.Path, *, skills: Sequence[str] | None = None,
                action_names: Sequence[str] | None = None,
                image_shape: Sequence[int] | None = None,
                inventory_size: int | None = None) -> SkillPolicy:
    """Load a checkpoint, checking it holds `skills` and fits the given world.

    Every mismatch is an error naming what the checkpoint has and what was
    expected: a skill set without a wanted skill, other actions, another
    frame or inventory shape, a tensor whose shape differs from its config.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = pathlib.Path(path).with_suffix("")
    config, _ = read_checkpoint_config(path)
    where = str(path.with_suffix(".safetensors"))
    if skills is not None:
        missing = [s for s in skills if s not in config.skills]
        if missing:
            raise UserError(f"{where}: checkpoint holds skills {list(config.skills)}, "
                            f"but {missing} {'was' if len(missing) == 1 else 'were'} asked for")
    for name, want, have in (("action names", action_names, config.action_names),
                             ("frame shape", image_shape, config.image_shape)):
        if want is not None and tuple(want) != tuple(have):
            raise UserError(f"{where}: checkpoint {name} {list(have)} differ from the world's "
                            f"{list(want)}")
    if inventory_size is not None and inventory_size != config.inventory_size:
        raise UserError(f"{where}: checkpoint inventory size {config.inventory_size} differs "
                        f"from the world's {inventory_size}")
    policy = SkillPolicy(config)
    try:
        tensors = load_file(where)
    except (OSError, SafetensorError) as error:
        raise UserError(f"cannot read checkpoint {where}: {error}") from error
    expected = policy.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise UserError(f"{where}: tensors do not match the config: missing {missing}, "
                        f"unexpected {extra}")
    for name in expected:   # in layer order: the first mismatch is the telling one
        tensor = tensors[name]
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise UserError(f"{where}: tensor {name!r} has shape {list(tensor.shape)}, "
                            f"the config {path.with_suffix('.json').name} makes "
                            f"{list(expected[name].shape)}")
    policy.load_state_dict(tensors)
    policy.eval()
    return policy


def policy_config_for(library, skills: Sequence[str], action_names: Sequence[str],
                      **sizes) -> PolicyConfig:
    """A config for `skills` of a `SkillLibrary`, each allowed its own actions."""
    return PolicyConfig(tuple(skills), tuple(action_names),
                        tuple(library[s].actions for s in skills), **sizes)
