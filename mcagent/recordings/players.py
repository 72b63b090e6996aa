"""Who plays a recorded episode: the `Player` contract, and the random and human players.

The scripted expert (`mcagent.recordings.expert.ExpertPlayer`) and, later,
trained policies follow the same `Player` protocol, so `record_episodes` can
record any of them.
"""

from __future__ import annotations

import collections
import contextlib
import io
from typing import Protocol, runtime_checkable

import numpy as np

from mcagent.errors import UserError


@runtime_checkable
class Player(Protocol):
    """A player of one episode at a time.

    `source` is written to the recording's meta file: "expert", "random",
    "human" or "policy:<checkpoint>". `reset` is called with the episode's
    first observation; `act` is then called once per step with the observation
    the player sees, and returns the action's index (or None to end the
    episode) and the skill being executed (or None when the player does not
    know it).
    """

    source: str

    def reset(self, env, obs: dict, info: dict) -> None: ...

    def act(self, obs: dict, info: dict) -> tuple[int | None, str | None]: ...


class RandomPlayer:
    """Uniformly random actions; the same seed gives the same actions."""

    source = "random"

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.n_actions = 0

    def reset(self, env, obs: dict, info: dict) -> None:
        self.n_actions = int(env.action_space.n)

    def act(self, obs: dict, info: dict) -> tuple[int, None]:
        return int(self.rng.integers(self.n_actions)), None


# Crafter's own GUI keys (crafter/run_gui.py), by pygame key constant.
KEYMAP = {
    "K_a": "move_left", "K_d": "move_right", "K_w": "move_up", "K_s": "move_down",
    "K_SPACE": "do", "K_TAB": "sleep",
    "K_t": "place_table", "K_r": "place_stone", "K_f": "place_furnace", "K_p": "place_plant",
    "K_1": "make_wood_pickaxe", "K_2": "make_stone_pickaxe", "K_3": "make_iron_pickaxe",
    "K_4": "make_wood_sword", "K_5": "make_stone_sword", "K_6": "make_iron_sword",
}
HELP = "WASD move  space do  tab sleep  T table  R stone  F furnace  P plant  1-6 tools  Esc end"
_END = object()  # Esc, in the queue of keys typed


def _import_pygame():
    try:
        # pygame greets on stdout when imported; library code stays quiet.
        with contextlib.redirect_stdout(io.StringIO()):
            import pygame
    except ImportError:
        raise UserError("the human player needs pygame: pip install 'mcagent[human]'") from None
    return pygame


class HumanPlayer:
    """A person at the keyboard, in a pygame window, at a fixed tick rate.

    The window shows the frame the player acts on, scaled up, with a status
    line (step, vitals, inventory) and the controls. The game advances one step
    per tick (`fps` per second) as in Crafter's own GUI: each key pressed is one
    action, in the order typed; a key held down repeats every tick; no key is
    `noop`. Esc ends the episode; closing the window ends it and sets `closed`,
    which tells `record_episodes` to record no further episodes.
    """

    source = "human"

    def __init__(self, fps: float = 10, scale: int = 8):
        self.fps, self.scale = fps, scale
        self.pg = _import_pygame()
        self.keys = {getattr(self.pg, name): action for name, action in KEYMAP.items()}
        self.closed = False
        self._screen = self._clock = self._font = None
        self._typed: collections.deque = collections.deque()
        self._held: dict[int, str] = {}
        self._action_index: dict[str, int] = {}
        self._env = None

    def reset(self, env, obs: dict, info: dict) -> None:
        self._env = env
        self._action_index = {name: i for i, name in enumerate(env.action_names)}
        self._held.clear()
        self._typed.clear()
        if self._screen is None:
            self._open(obs["image"].shape)

    def _open(self, shape) -> None:
        pg = self.pg
        pg.display.init()  # not pg.init(): that opens the sound card too
        pg.font.init()
        height, width = shape[0] * self.scale, shape[1] * self.scale
        try:
            self._screen = pg.display.set_mode((width, height + 44))
        except pg.error as err:
            raise UserError(f"cannot open a window for human play ({err}); "
                            f"it needs a display") from None
        pg.display.set_caption("mcagent: human play")
        self._font = pg.font.Font(None, 20)
        self._clock = pg.time.Clock()

    def close(self) -> None:
        if self._screen is not None:
            self.pg.display.quit()
            self._screen = None

    def act(self, obs: dict, info: dict) -> tuple[int | None, None]:
        self._draw(obs, info)
        self._clock.tick(self.fps)
        action = self._read_keys()
        if action is _END:
            return None, None
        return self._action_index[action], None

    def _read_keys(self):
        pg = self.pg
        for event in pg.event.get():
            if event.type == pg.QUIT:
                self.closed = True
                return _END
            if event.type == pg.KEYDOWN:
                if event.key == pg.K_ESCAPE:
                    self._typed.append(_END)
                elif event.key in self.keys:
                    self._typed.append(self.keys[event.key])
                    self._held[event.key] = self.keys[event.key]
            elif event.type == pg.KEYUP:
                self._held.pop(event.key, None)
            elif event.type == pg.WINDOWFOCUSLOST:
                self._held.clear()  # its key-up events go elsewhere
        if self._typed:
            return self._typed.popleft()
        if self._held:
            return next(reversed(self._held.values()))  # the key pressed last
        return "noop"

    def _draw(self, obs: dict, info: dict) -> None:
        pg = self.pg
        image = np.ascontiguousarray(obs["image"].transpose(1, 0, 2))  # pygame is (x, y)
        surface = pg.surfarray.make_surface(image)
        width, height = surface.get_width() * self.scale, surface.get_height() * self.scale
        self._screen.fill((0, 0, 0))
        self._screen.blit(pg.transform.scale(surface, (width, height)), (0, 0))
        inventory = info.get("inventory", {})
        vitals = ("health", "food", "drink", "energy")
        status = (f"step {info.get('step', 0)}  "
                  + "  ".join(f"{k} {inventory[k]}" for k in vitals if k in inventory) + "  |  "
                  + "  ".join(f"{k} {v}" for k, v in inventory.items() if k not in vitals and v))
        for row, text in enumerate((status, HELP)):
            label = self._font.render(text, True, (230, 230, 230))
            self._screen.blit(label, (4, height + 4 + 20 * row))
        pg.display.flip()
