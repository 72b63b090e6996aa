"""Behaviour cloning: one skill-conditioned policy from the frames and actions inside segments.

Each segment whose skill is a learned skill of the library gives samples
(frame `i`, inventory before action `i`, action `i`, skill). Segments of other
skills (crafting, shelter building, unlabelled ones) are left out, and so are
actions a skill may not take (the expert bridging with `place_stone` while it
finds iron). Batches draw skills with weight count^-1/2, so rare skills are
not drowned by common ones. Writes `<out>/bc.safetensors` + `bc.json`.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import pathlib
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from mcagent.errors import UserError
from mcagent.recordings.format import read_recording
from mcagent.skills.files import portable
from mcagent.skills.library import SkillLibrary, skill_library
from mcagent.skills.policy import SkillPolicy, policy_config_for, save_policy
from mcagent.skills.segments import scan_segmentations
from mcagent.sbd.segments import SUFFIX
from mcagent.worlds.rules import crafter_rules

log = logging.getLogger(__name__)


@dataclasses.dataclass
class BCArgs:
    segments: str                      # folder of <stem>.segments.json (mcagent-segments/1)
    recordings: str                    # folder of the recordings those segments cut
    out: str = "checkpoints/skills"    # writes <out>/bc.safetensors and bc.json
    steps: int = 2000                  # gradient steps
    batch_size: int = 128              # samples per step
    lr: float = 3e-4                   # Adam learning rate
    seed: int = 0                      # torch and sampling seed
    device: str = "auto"               # cpu, cuda, or auto (cuda when available)
    logdir: str | None = None          # TensorBoard folder; None for none
    graph: str | None = "auto"         # skill graph that names the skills (auto: skill_graph/crafter.yaml)
    threads: int | None = 1            # torch CPU threads (None: torch's default); more than the
                                       # free cores slows small networks down many times over


@dataclasses.dataclass
class BCData:
    images: np.ndarray        # (N, H, W, 3) uint8
    inventories: np.ndarray   # (N, K) uint8
    actions: np.ndarray       # (N,) int64, indices into action_names
    skills: np.ndarray        # (N,) int64, indices into skill_names
    skill_names: tuple[str, ...]
    action_names: tuple[str, ...]

    def counts(self) -> dict[str, int]:
        found = collections.Counter(self.skills.tolist())
        return {self.skill_names[i]: found[i] for i in range(len(self.skill_names))}


def load_bc_data(segments: str, recordings: str, library: SkillLibrary) -> BCData:
    """The samples of every learned-skill segment, with the frames decoded from the recordings."""
    rules = crafter_rules()
    item_names = tuple(rules.items)
    initial = np.array([rules.items[i].initial for i in item_names], np.uint8)
    learned = library.learned
    images, inventories, actions, skills = [], [], [], []
    action_names = None
    for seg in scan_segmentations(segments):
        stem = pathlib.Path(recordings) / seg.video
        rec = read_recording(stem)
        if seg.frames != len(rec):
            raise UserError(f"{pathlib.Path(segments) / seg.video}{SUFFIX}: {seg.frames} frames, "
                            f"but recording {stem} has {len(rec)}")
        if action_names is None:
            action_names = rec.meta.action_names
        elif rec.meta.action_names != action_names:
            raise UserError(f"{stem}: action names differ from the other recordings'")
        wanted = {}
        for s in seg.segments:
            name = library.canonical(s.skill)
            if name in learned:
                for i in range(s.start, s.end + 1):
                    wanted[i] = name
        if not wanted:
            continue
        inv_before = [initial]
        for step in rec.steps[:-1]:
            inv = step.inventory or {}
            inv_before.append(np.array([inv.get(i, 0) for i in item_names], np.uint8))
        acts = rec.action_indices()
        for i, frame in enumerate(rec.iter_frames()):
            name = wanted.get(i)
            if name is None or action_names[acts[i]] not in library[name].actions:
                continue
            images.append(frame)
            inventories.append(inv_before[i])
            actions.append(acts[i])
            skills.append(learned.index(name))
    if not images:
        raise UserError(f"no frames of learned skills ({', '.join(learned)}) in the segments "
                        f"of {segments}")
    return BCData(np.stack(images), np.stack(inventories), np.array(actions, np.int64),
                  np.array(skills, np.int64), learned, tuple(action_names))


def pick_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def train_bc(args: BCArgs, *, library: SkillLibrary | None = None,
             progress: Callable[[int, float], None] | None = None) -> pathlib.Path:
    """Train the skill-conditioned policy on the segments; returns the checkpoint path."""
    started = time.time()
    library = library or skill_library(args.graph)
    data = load_bc_data(args.segments, args.recordings, library)
    counts = data.counts()
    present = [s for s, n in counts.items() if n]
    log.info("BC samples per skill: %s", counts)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    device = pick_device(args.device)
    config = policy_config_for(library, data.skill_names, data.action_names,
                               image_shape=data.images.shape[1:],
                               inventory_size=data.inventories.shape[1])
    policy = SkillPolicy(config).to(device)
    optimizer = torch.optim.Adam(policy.parameters(), lr=args.lr)
    weight = np.array([counts[data.skill_names[s]] ** -0.5 for s in data.skills])
    weight /= weight.sum()
    writer = _tensorboard(args.logdir)
    loss_fn = nn.CrossEntropyLoss()
    for step in range(args.steps):
        idx = rng.choice(len(weight), size=args.batch_size, p=weight)
        logits, _ = policy(torch.as_tensor(data.images[idx], device=device),
                           torch.as_tensor(data.inventories[idx], device=device),
                           torch.as_tensor(data.skills[idx], device=device))
        target = torch.as_tensor(data.actions[idx], device=device)
        loss = loss_fn(logits, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if writer and step % 20 == 0:
            writer.add_scalar("bc/loss", loss.item(), step)
            writer.add_scalar("bc/accuracy", (logits.argmax(-1) == target).float().mean().item(),
                              step)
        if progress:
            progress(step, loss.item())
    accuracy = _accuracy(policy, data, device)
    if writer:
        writer.close()
    path = save_policy(policy.cpu(), pathlib.Path(args.out) / "bc", algorithm="bc",
                       args=portable(dataclasses.asdict(args)), samples=counts,
                       train_accuracy=accuracy, skills_with_data=present,
                       wall_s=round(time.time() - started, 1))
    return path


@torch.no_grad()
def _accuracy(policy: SkillPolicy, data: BCData, device) -> dict[str, float]:
    """Training-set accuracy per skill: does the policy's argmax match the expert's action?"""
    policy.eval()
    hits = collections.Counter()
    for start in range(0, len(data.actions), 512):
        sl = slice(start, start + 512)
        logits, _ = policy(torch.as_tensor(data.images[sl], device=device),
                           torch.as_tensor(data.inventories[sl], device=device),
                           torch.as_tensor(data.skills[sl], device=device))
        ok = (logits.argmax(-1).cpu().numpy() == data.actions[sl])
        for s, o in zip(data.skills[sl].tolist(), ok.tolist()):
            hits[s] += o
    counts = collections.Counter(data.skills.tolist())
    return {data.skill_names[s]: round(hits[s] / n, 3) for s, n in counts.items()}


def _tensorboard(logdir: str | None):
    if not logdir:
        return None
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(logdir)
