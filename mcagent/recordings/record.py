"""Play episodes with a player and write each one as a recording."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from pathlib import Path

from mcagent.errors import UnknownNameError, UserError
from mcagent.recordings.format import RecordingWriter
from mcagent.recordings.players import HumanPlayer, Player, RandomPlayer

log = logging.getLogger(__name__)

PLAYERS = ("expert", "human", "random")


def player_factory(name: str, *, noise: float = 0.0, fps: float = 10) -> Callable[[int], Player]:
    """A function from an episode's seed to the player of that episode.

    Scripted players are made anew per episode from its seed, so a recording is
    reproducible from its seed alone; the human player is one window for all.
    """
    if name not in PLAYERS:
        raise UnknownNameError("player", name, PLAYERS)
    if noise and name != "expert":
        raise UserError(f"noise applies to the expert player only, not to {name!r}")
    if not 0.0 <= noise <= 1.0:
        raise UserError(f"noise is a probability, between 0 and 1, not {noise}")
    if name == "random":
        return lambda seed: RandomPlayer(seed)
    if name == "human":
        human = HumanPlayer(fps=fps)
        return lambda seed: human
    try:
        from mcagent.recordings.expert import ExpertPlayer
    except ModuleNotFoundError as err:
        if err.name != "mcagent.recordings.expert":
            raise
        raise UserError("the expert player is not available in this version of mcagent") from None
    return lambda seed: ExpertPlayer(noise=noise, seed=seed)


def record_episode(env, player: Player, stem: Path, *, world: str, seed: int, fps: float,
                   on_step: Callable[[], None] | None = None) -> Path | None:
    """Play one episode from `env.reset(seed=seed)` and write it at `stem`.

    Frame i is the observation the player acted on at step i; the observation
    after the last action is not part of the recording. Returns the stem, or
    None when the player ended the episode before its first action (nothing is
    written then). Any exception leaves nothing at `stem`.
    """
    obs, info = env.reset(seed=seed)
    player.reset(env, obs, info)
    n_actions = len(env.action_names)
    with RecordingWriter(stem, world=world, seed=seed, fps=fps, action_names=env.action_names,
                         source=player.source) as writer:
        while True:
            action, skill = player.act(obs, info)
            if action is None:
                break
            if not 0 <= action < n_actions:
                raise ValueError(f"player {player.source!r} chose action {action}, "
                                 f"not one of 0..{n_actions - 1}")
            frame = obs["image"]
            obs, _, terminated, truncated, info = env.step(action)
            writer.add(frame, action, inventory=info["inventory"], events=info["events"],
                       skill=skill)
            if on_step:
                on_step()
            if terminated or truncated:
                break
        if writer.frames == 0:
            writer.abort()
            log.warning("%s: the episode ended before its first step; nothing written", stem)
            return None
    return stem


def record_episodes(player: str | Player = "expert", episodes: int = 1,
                    out_dir: str | os.PathLike = "videos", world: str = "crafter",
                    task: str | None = None, seed: int = 0, max_steps: int | None = None,
                    noise: float = 0.0, fps: float = 10, progress: bool = False) -> list[Path]:
    """Record `episodes` episodes (seeds `seed`, `seed`+1, ...) into `out_dir`.

    `player` is a name from `PLAYERS` or a `Player` object. Each episode is
    written as `<world>[-<task>]-<player>-s<seed>`.{mp4,jsonl,meta.json},
    replacing a recording of the same name. Returns the stems written.
    """
    import mcagent.worlds as worlds

    if episodes < 1:
        raise UserError(f"episodes must be at least 1, not {episodes}")
    if max_steps is not None and max_steps < 1:
        raise UserError(f"max_steps must be at least 1, not {max_steps}")
    if fps <= 0:
        raise UserError(f"fps must be positive, not {fps}")
    if isinstance(player, str):
        label = player
        make_player = player_factory(player, noise=noise, fps=fps)
    else:
        label = player.source.split(":")[0]
        make_player = lambda seed: player  # noqa: E731
    env = worlds.make(world, task=task, max_steps=max_steps)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    prefix = "-".join(_safe(part) for part in (world, task, label) if part)

    from tqdm import tqdm

    paths: list[Path] = []
    bar = tqdm(total=episodes * env.max_steps, unit="step", disable=not progress,
               dynamic_ncols=True)
    current = None
    try:
        for episode_seed in range(seed, seed + episodes):
            current = make_player(episode_seed)
            bar.set_description(f"seed {episode_seed}")
            before = bar.n
            stem = record_episode(env, current, out / f"{prefix}-s{episode_seed}", world=world,
                                  seed=episode_seed, fps=fps, on_step=lambda: bar.update(1))
            bar.total -= env.max_steps - (bar.n - before)  # the episode ended early
            bar.refresh()
            if stem is not None:
                paths.append(stem)
            if getattr(current, "closed", False):
                break
    finally:
        bar.close()
        close = getattr(current, "close", None)
        if close:
            close()
        env.close()
    return paths


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.]+", "_", name)
