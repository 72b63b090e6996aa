"""A scripted Crafter expert: privileged map, path search, and the skill it is executing.

The expert plays the tech tree up to the diamond while staying alive. It is a
small interruptible skill machine, not a tape: every step it looks at what it
knows (the cells it has seen, the creatures in view, its inventory and
vitals), picks the most urgent skill — fight, drink, eat, shelter and sleep,
or the next step of the tech tree read from Crafter's rules — and takes one
action of it. Its skill names follow Plan4MC's style (`find_tree`,
`collect_wood`, `place_table`, `make_wood_pickaxe`, ...): a `find_<thing>`
skill walks and explores until the thing is in view, the matching manipulation
skill (`collect_wood`, `eat_cow`) approaches and uses it.

`noise` replaces that fraction of actions with random ones (never a step into
lava), and `seed` varies the expert's habits (thresholds, goal order), so that
recordings show more than one player's rhythm.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from mcagent.recordings.navigation import INF, NEIGHBOURS, dijkstra, min_neighbour, path_to
from mcagent.skills.library import box_count

log = logging.getLogger(__name__)

MOVES = {(-1, 0): "move_left", (1, 0): "move_right", (0, -1): "move_up", (0, 1): "move_down"}
VIEW_RADIUS = (4, 3)  # Crafter's local view is 9 x 7 cells around the player
MINE_COST = 3.0       # turn, `do`, step
BRIDGE_COST = 6.0     # turn, place stone, `do`, step
CREATURE_COST = 25.0  # creatures move: a path through one is a last resort
UNKNOWN_COST = 2.0
# What each tool-chain item is made for, in the order a player pursues them.
CHAIN = ("wood_pickaxe", "wood_sword", "stone_pickaxe", "stone_sword", "iron_pickaxe",
         "diamond", "iron_sword")
# Where each collectable item comes from, and the finding skill's name for it.
FIND_NAMES = {"tree": "find_tree", "stone": "find_stone", "coal": "find_coal",
              "iron": "find_iron", "diamond": "find_diamond", "water": "find_water",
              "cow": "find_cow", "table": "find_table"}


@dataclasses.dataclass
class Habits:
    """How one expert plays: thresholds and preferences, drawn per seed."""

    drink_low: int = 4
    food_low: int = 4
    energy_low: int = 3
    swords_first: bool = False
    table_reach: float = 20.0

    @classmethod
    def draw(cls, rng: np.random.Generator) -> "Habits":
        return cls(drink_low=int(rng.integers(4, 6)), food_low=int(rng.integers(4, 6)),
                   energy_low=int(rng.integers(2, 4)),
                   swords_first=bool(rng.random() < 0.5),
                   table_reach=float(rng.integers(12, 25)))


@dataclasses.dataclass
class _Shelter:
    stand: tuple[int, int]
    back: tuple[int, int]
    entrance: tuple[int, int]
    walls: tuple[tuple[int, int], ...]   # the four sides, then the cell behind `back`
    builds: list                         # (wall, stand, direction) placed from outside first


class ExpertPlayer:
    """Plays Crafter with privileged state; `act` returns (action index, skill name)."""

    source = "expert"

    def __init__(self, noise: float = 0.0, seed: int = 0, habits: Habits | None = None,
                 sees_map: bool = True):
        if not 0.0 <= noise <= 1.0:
            raise ValueError(f"noise must be in [0, 1], got {noise}")
        self.noise = noise
        self.sees_map = sees_map
        self.seed = seed
        self.fixed_habits = habits
        self.rng = np.random.default_rng(seed)
        self.habits = habits or Habits()

    # -- episode set-up -----------------------------------------------------------
    def reset(self, env, obs: dict, info: dict) -> None:
        self.rng = np.random.default_rng(self.seed + 7919 * int(info.get("world_seed", 0)))
        self.habits = self.fixed_habits or (Habits.draw(self.rng) if self.seed else Habits())
        self.rules = env.rules
        self.action_index = {name: i for i, name in enumerate(env.action_names)}
        self.ids = {name: i for i, name in enumerate(env.semantic_names) if name}
        self.first_object_id = self.ids["player"]
        shape = info["semantic"].shape
        self.known = np.zeros(shape, bool)
        self.material = np.full(shape, self.ids["grass"], np.int64)
        walkable = [self.ids[m] for m in self.rules.walkable]
        self.walkable_ids = np.zeros(len(env.semantic_names), bool)
        self.walkable_ids[walkable] = True
        self.crafts_at = np.array([[self.rules.crafts_at(x, y) for y in range(shape[1])]
                                   for x in range(shape[0])])
        self.need: str | None = None       # "drink", "food", "rest" while a need is served
        self.shelter: _Shelter | None = None
        self.placing: tuple | None = None  # (item, back, stand, ahead) of a placement under way
        self.t = 0
        self.shelter_search_after = 0      # a failed search for a shelter site waits a while
        self.blocked_steps = 0
        self.gathering: tuple[str, int] | None = None
        self.last_pos = None
        self.explored_all = False          # no diamond anywhere it can reach
        self.roam_target = None
        self.last_light = info["daylight"]
        self.cows_seen: dict[tuple[int, int], int] = {}
        self.creatures = {}

    # -- the decision, one step at a time ------------------------------------------
    def act(self, obs: dict, info: dict) -> tuple[int, str]:
        self.t += 1
        self._observe(info)
        action, skill = self._decide(info)
        if self.noise and self.rng.random() < self.noise:
            action = self._random_safe_action(info)
        if action.startswith("move_") and self._would_enter_lava(info, action):
            action = "noop"
        return self.action_index[action], skill

    def _observe(self, info: dict) -> None:
        sem = info["semantic"]
        self.sem = sem
        self.pos = info["player_pos"]
        self.inv = info["inventory"]
        self._facing_cache = tuple(info["facing"])
        px, py = self.pos
        rx, ry = VIEW_RADIUS
        w, h = sem.shape
        x0, x1, y0, y1 = max(0, px - rx), min(w, px + rx + 1), max(0, py - ry), min(h, py + ry + 1)
        # The privileged map: the whole world's materials, or only what was seen.
        mx0, mx1, my0, my1 = (0, w, 0, h) if self.sees_map else (x0, x1, y0, y1)
        self.known[mx0:mx1, my0:my1] = True
        seen = sem[mx0:mx1, my0:my1]
        is_material = seen < self.first_object_id
        self.material[mx0:mx1, my0:my1][is_material] = seen[is_material]
        window = sem[x0:x1, y0:y1]
        is_material = window < self.first_object_id
        # Creatures stand on open ground; arrows fly over anything, so keep what was there.
        creature_cells = ~is_material & (window != self.ids["arrow"])
        mat = self.material[x0:x1, y0:y1]
        mat[creature_cells & ~self.walkable_ids[mat]] = self.ids["grass"]
        self.view = (x0, x1, y0, y1)
        before = getattr(self, "creatures", {}).get("arrow", [])
        self.creatures = {}
        for name in ("zombie", "skeleton", "cow", "plant", "arrow"):
            cells = np.argwhere(window == self.ids[name])
            self.creatures[name] = [(int(x) + x0, int(y) + y0) for x, y in cells]
        # An arrow flies straight: its direction is where it came from, one cell back.
        self.arrow_dirs = {a: next((d for d in NEIGHBOURS if _sub(a, d) in before), None)
                           for a in self.creatures["arrow"]}
        if self.sees_map:
            self.cows_seen = {(int(x), int(y)): self.t for x, y in np.argwhere(sem == self.ids["cow"])}
        for cell in self.creatures["cow"]:
            self.cows_seen[cell] = self.t
        if self.pos == self.last_pos:
            self.blocked_steps += 1
        else:
            self.blocked_steps = 0
        self.last_pos = self.pos

    def _decide(self, info: dict) -> tuple[str, str]:
        if info["sleeping"]:
            return "noop", "sleep"
        fight = self._fight()
        if fight:
            return fight
        dodge = self._dodge()
        if dodge:
            return dodge
        self._update_need(info)
        if self.shelter is not None:
            step = self._shelter_step(info)
            if step:
                return step
        if self.need == "rest":
            step = self._go_to_shelter(info)
            if step:
                return step
            self.need = None  # nowhere to hide: carry on and try again later
        if self.need == "drink":
            step = self._use_material("water", "collect_drink")
            if step:
                return step
        if self.need == "food":
            step = self._hunt()
            if step:
                return step
        step = self._keep_gathering()
        if step:
            return step
        goal = self._next_goal(self.inv)
        if goal is not None:
            step = self._pursue(goal)
            if step:
                return step
        return self._wander()

    # -- survival ------------------------------------------------------------------
    def _fight(self) -> tuple[str, str] | None:
        px, py = self.pos
        for name in ("zombie", "skeleton"):
            for cx, cy in self.creatures[name]:
                if abs(cx - px) + abs(cy - py) == 1:
                    return self._face_and("do", (cx, cy)), f"defeat_{name}"
        # A skeleton close by shoots more than it runs: with a sword, close in and strike.
        armed = self.inv["stone_sword"] or self.inv["iron_sword"] or self.inv["wood_sword"]
        reach = 4 if armed and self.inv["health"] >= 4 else 2
        near = [c for c in self.creatures["skeleton"] if abs(c[0] - px) + abs(c[1] - py) <= reach]
        if near and not self._sealed():
            return self._approach(near, "defeat_skeleton", max_cost=reach + 2)
        return None

    def _dodge(self) -> tuple[str, str] | None:
        """Step out of the line of an arrow flying at the player."""
        if self._sealed():
            return None
        px, py = self.pos
        for ax, ay in self.creatures["arrow"]:
            if (ax != px and ay != py) or abs(ax - px) + abs(ay - py) > 5:
                continue
            step = (int(np.sign(px - ax)), int(np.sign(py - ay)))
            flying = self.arrow_dirs.get((ax, ay))
            if flying is None:  # just shot: it leaves the skeleton behind it
                flying = step if _sub((ax, ay), step) in self.creatures["skeleton"] else None
            if flying != step:
                continue
            between = [(ax + k * step[0], ay + k * step[1])
                       for k in range(1, abs(ax - px) + abs(ay - py))]
            if not all(self.walkable_ids[self.material[c]] or self.material[c] in
                       (self.ids["water"], self.ids["lava"]) for c in between):
                continue
            for side in ((step[1], step[0]), (-step[1], -step[0])):
                cell = (px + int(side[0]), py + int(side[1]))
                if self._inside(cell) and self.walkable_ids[self.material[cell]] \
                        and self._cell_free(cell) and self.material[cell] != self.ids["lava"]:
                    return MOVES[_sub(cell, self.pos)], "avoid_arrow"
        return None

    def _update_need(self, info: dict) -> None:
        inv, h = self.inv, self.habits
        light = info["daylight"]
        falling = light < self.last_light
        self.last_light = light
        # Zombies crowd the grass from dusk until well into the morning: stock up
        # on water and food in the evening, be in a shelter before dark, stay there
        # until it is light again, sleeping through the night.
        evening = falling and light < 0.95
        dusk = (falling and light < 0.7) or light < 0.3
        if self.need == "drink" and inv["drink"] >= 9:
            self.need = None
        if self.need == "food" and inv["food"] >= 8:
            self.need = None
        if self.need == "rest" and light >= 0.75 and not falling and inv["energy"] >= 8:
            self.need = None
        if self.need == "rest":
            # Only real hardship gets the expert out into the night.
            if inv["drink"] <= 1 and not (self._sealed() and self._water_wall()):
                self.need = "drink"
            elif inv["food"] <= 1:
                self.need = "food"
            return
        if self.need in ("drink", "food") and dusk and self._can_dig() \
                and inv["drink"] >= 5 and inv["food"] >= 4:
            self.need = None      # enough to last the night: shelter first
        if inv["drink"] <= 2 or (self.need is None and inv["drink"] <= h.drink_low):
            self.need = "drink"
        elif inv["food"] <= 2 or (self.need is None and inv["food"] <= h.food_low):
            self.need = "food"
        elif self.need is None and evening and not dusk and inv["drink"] <= 8:
            self.need = "drink"   # stock up for the night
        elif self.need is None and evening and not dusk and inv["food"] <= 6:
            self.need = "food"
        elif self.need is None and inv["drink"] <= 6 and self._near("water", 6):
            self.need = "drink"   # water on the way: top up
        elif self.need is None and inv["food"] <= 5 and self._near("cow", 6):
            self.need = "food"
        if self.need is None and self._can_dig() and (dusk or inv["energy"] <= h.energy_low):
            self.need = "rest"

    def _water_wall(self) -> tuple[int, int] | None:
        """A water cell next to the player: drinkable from inside a shelter."""
        for d in NEIGHBOURS:
            cell = _add(self.pos, d)
            if self._inside(cell) and self.material[cell] == self.ids["water"]:
                return cell
        return None

    def _near(self, thing: str, reach: float) -> bool:
        px, py = self.pos
        if thing in self.creatures:
            cells = self.creatures[thing]
        else:
            x0, x1, y0, y1 = self.view
            cells = [(int(x) + x0, int(y) + y0) for x, y in
                     np.argwhere(self.material[x0:x1, y0:y1] == self.ids[thing])]
        return any(abs(x - px) + abs(y - py) <= reach for x, y in cells)

    def _can_dig(self) -> bool:
        return self.inv["wood_pickaxe"] > 0 or self.inv["stone"] > 0

    def _hunt(self) -> tuple[str, str] | None:
        if self.creatures["cow"]:
            step = self._approach(self.creatures["cow"], "eat_cow")
            if step:
                return step
        # Cows wander slowly: go back to where one was last seen.
        for cell in [c for c in self.cows_seen if self._in_view(c) or self.t - self.cows_seen[c] > 300]:
            del self.cows_seen[cell]
        if self.cows_seen:
            px, py = self.pos
            cell = min(self.cows_seen, key=lambda c: abs(c[0] - px) + abs(c[1] - py))
            step = self._travel(cell, "find_cow")
            if step:
                return step
            del self.cows_seen[cell]
        return self._explore("find_cow", prefer="grass")

    # -- shelter: a two-cell pocket, the entrance sealed with stone -------------------
    def _go_to_shelter(self, info: dict) -> tuple[str, str] | None:
        if self.shelter is None:
            if self.t < self.shelter_search_after:
                return None
            self.shelter = self._find_shelter_site()
            if self.shelter is None:
                self.shelter_search_after = self.t + 10
                return None
        return self._shelter_step(info)

    def _blocking(self, cell) -> bool:
        x, y = cell
        w, h = self.known.shape
        if not (0 <= x < w and 0 <= y < h):
            return True
        if not self.known[x, y]:
            return False
        return not self.walkable_ids[self.material[x, y]]

    def _find_shelter_site(self) -> _Shelter | None:
        """The cheapest two-cell pocket to dig or build near here.

        The pocket is `stand` and `back` in a line, entered from `entrance`. Its
        side walls must be solid or get a stone placed from outside first; the
        wall behind `back` is placed on arrival, the entrance from inside last.
        """
        dist, _ = self._distances()
        diggable = {self.ids[m] for m in self._minable_materials()}
        # Skeletons live in tunnels (path); water makes a wall one can drink from.
        tunnels = box_count(self.known & (self.material == self.ids["path"]), 3)
        skeletons = self.creatures["skeleton"]
        stones = self.inv["stone"]
        best, best_cost = None, INF
        px, py = self.pos
        w, h = self.known.shape
        for sx in range(max(1, px - 16), min(w - 1, px + 17)):
            for sy in range(max(1, py - 16), min(h - 1, py + 17)):
                if dist[sx, sy] > 40 or any(abs(kx - sx) + abs(ky - sy) <= 10
                                            for kx, ky in skeletons):
                    continue
                for dx, dy in NEIGHBOURS:
                    stand, back, entrance = (sx, sy), (sx + dx, sy + dy), (sx - dx, sy - dy)
                    far = (back[0] + dx, back[1] + dy)
                    cells = (stand, back, entrance, far)
                    if not all(0 <= c[0] < w and 0 <= c[1] < h and self.known[c] for c in cells):
                        continue
                    if not self.walkable_ids[self.material[entrance]] or dist[entrance] == INF:
                        continue
                    cost, gained, ok = dist[entrance] + 4, 0, True
                    for c in (stand, back):
                        m = self.material[c]
                        if self.walkable_ids[m]:
                            ok &= self._cell_free(c)
                        elif m in diggable:
                            cost, gained = cost + 2, gained + 1
                        else:
                            ok = False
                    if not ok:
                        continue
                    sides = ((sx + dy, sy + dx), (sx - dy, sy - dx),
                             (back[0] + dy, back[1] + dx), (back[0] - dy, back[1] - dx))
                    builds = []
                    for c in sides:
                        if self._blocking(c):
                            continue
                        plan = self._outside_placement(c, stand, back)
                        if plan is None:
                            ok = False
                            break
                        builds.append(plan)
                        cost += 6
                    if not ok:
                        continue
                    placed = len(builds) + 1 + (0 if self._blocking(far) else 1)
                    if not self._blocking(far) and not (self.walkable_ids[self.material[far]]
                                                        and self._cell_free(far)):
                        continue
                    if placed > stones + gained:
                        continue
                    cost += 0.5 * tunnels[sx, sy]
                    if any(self.material[c] == self.ids["water"] for c in (*sides[:2], far)):
                        cost -= 8
                    if cost < best_cost:
                        best = _Shelter(stand, back, entrance, (*sides, far), builds)
                        best_cost = cost
        return best

    def _outside_placement(self, cell, stand, back):
        """Where to stand, facing `cell`, to put a stone on it from outside the pocket."""
        if not (self.walkable_ids[self.material[cell]] and self._cell_free(cell)):
            return None
        for dx, dy in NEIGHBOURS:
            at = (cell[0] - dx, cell[1] - dy)         # stand here, facing +d onto `cell`
            arrive = (at[0] - dx, at[1] - dy)         # step in from here
            if at in (stand, back) or arrive in (stand, back):
                continue
            if not all(self._inside(c) and self.known[c] and self.walkable_ids[self.material[c]]
                       and self._cell_free(c) for c in (at, arrive)):
                continue
            return cell, at, (dx, dy)
        return None

    def _sealed(self) -> bool:
        sh = self.shelter
        return (sh is not None and self.pos in (sh.stand, sh.back)
                and all(self._blocking(c) for c in (*sh.walls, sh.entrance))
                and all(self._cell_free(c) for c in (sh.stand, sh.back)))

    def _shelter_step(self, info: dict) -> tuple[str, str] | None:
        sh = self.shelter
        inside = self.pos in (sh.stand, sh.back)
        if self.need != "rest":
            # Time to go: open the entrance again (mining it gives the stone back).
            if inside and self.material[sh.entrance] == self.ids["stone"]:
                if self.pos != sh.stand:
                    return self._move_towards(sh.stand), "leave_shelter"
                return self._face_and("do", sh.entrance), "leave_shelter"
            self.shelter = None
            return None
        if self._sealed():
            water = self._water_wall()
            if water is not None and self.inv["drink"] < 9 and not self.inv["energy"] < 3:
                return self._face_and("do", water), "collect_drink"
            if self.inv["energy"] < 9:
                return "sleep", "sleep"
            return "noop", "rest"
        # Building: outside walls first, then in through the entrance, seal behind.
        while sh.builds and self._blocking(sh.builds[0][0]):
            sh.builds.pop(0)
        if sh.builds:
            wall, at, direction = sh.builds[0]
            if self.pos == at and self._facing_now() == direction:
                if self.inv["stone"] == 0 or not self._cell_free(wall):
                    self.shelter = None
                    return None
                return "place_stone", "build_shelter"
            arrive = _sub(at, direction)
            if self.pos == arrive:
                return self._step_into(at, "build_shelter")
            step = self._travel(arrive, "build_shelter",
                                avoid=(sh.stand, sh.back, *(b[0] for b in sh.builds)))
            if step is None:
                self.shelter = None
            return step
        sides, far = sh.walls[:4], sh.walls[4]
        if not all(self._blocking(c) for c in sides):
            self.shelter = None  # a wall was opened (mined, or an arrow broke it): choose again
            return None
        direction = _sub(sh.back, sh.stand)
        if self.pos == sh.back and not self._blocking(far):
            if self._facing_now() == direction and self.inv["stone"] > 0 and self._cell_free(far):
                return "place_stone", "build_shelter"
            self.shelter = None
            return None
        if self.pos == sh.stand and self._facing_now() == _sub(sh.entrance, sh.stand) \
                and self._blocking(far) and self._cell_free(sh.back) \
                and self.walkable_ids[self.material[sh.back]]:
            if self.inv["stone"] > 0 and self._cell_free(sh.entrance) \
                    and self.walkable_ids[self.material[sh.entrance]]:
                return "place_stone", "build_shelter"
            self.shelter = None  # no stone to seal with, or something stands in the way
            return None
        if self.pos == sh.back:
            return self._move_towards(sh.stand), "build_shelter"
        if self.pos == sh.stand:
            return self._step_into(sh.back, "build_shelter")
        if self.pos == sh.entrance:
            return self._step_into(sh.stand, "build_shelter")
        step = self._travel(sh.entrance, "build_shelter", avoid=(*sh.walls, sh.stand, sh.back))
        if step is None:
            self.shelter = None
        return step

    # -- the tech tree ---------------------------------------------------------------
    def _next_goal(self, inv) -> str | None:
        chain = list(CHAIN)
        if self.habits.swords_first:
            chain.remove("wood_sword")
            chain.insert(0, "wood_sword")
        for item in chain:
            if item == "diamond":
                if inv["diamond"] == 0 and not self.explored_all:
                    return item
                continue
            if inv[item] == 0:
                return item
        return None

    def _shopping(self, goal: str) -> dict[str, int]:
        """Raw items worth holding for `goal` and the tools after it (capped by the inventory)."""
        need: dict[str, int] = {}
        chain = list(CHAIN)
        later = chain[chain.index(goal):] if goal in chain else [goal]
        for item in later:
            if item in self.rules.make and self.inv[item] == 0:
                for ing, n in self.rules.make[item].uses.items():
                    need[ing] = need.get(ing, 0) + n
        if any(self.inv[t] == 0 for t in later if t in self.rules.make):
            need["wood"] = need.get("wood", 0) + self.rules.place["table"].uses.get("wood", 0)
        if self.inv["iron_pickaxe"] == 0:
            for ing, n in self.rules.place["furnace"].uses.items():
                need[ing] = need.get(ing, 0) + n
        need["stone"] = need.get("stone", 0) + 2  # to seal shelters and bridge water
        return {k: min(v, self.rules.items[k].max) for k, v in need.items()}

    def _pursue(self, goal: str) -> tuple[str, str] | None:
        if goal == "diamond":
            return self._collect_item("diamond")
        rule = self.rules.make[goal]
        for ingredient, count in rule.uses.items():
            if self.inv[ingredient] < count:
                return self._collect_item(ingredient, self._shopping(goal).get(ingredient, count))
        return self._craft(goal)

    def _source(self, item: str) -> str | None:
        for material, rule in self.rules.collect.items():
            if item in rule.receive and material not in ("grass",):
                return material
        return None

    def _collect_item(self, item: str, amount: int = 1) -> tuple[str, str] | None:
        material = self._source(item)
        need = self.rules.collect[material].require
        for tool, n in need.items():
            if self.inv[tool] < n:
                return self._pursue(tool)
        if amount > self.inv[item]:
            self.gathering = (item, amount)
        return self._use_material(material, f"collect_{item}")

    def _keep_gathering(self) -> tuple[str, str] | None:
        """Go on gathering what the plan will need while a source is close."""
        if self.gathering is None:
            return None
        item, amount = self.gathering
        material = self._source(item)
        if self.inv[item] >= amount or any(
                self.inv[t] < n for t, n in self.rules.collect[material].require.items()):
            self.gathering = None
            return None
        cells = np.argwhere(self.known & (self.material == self.ids[material]))
        step = self._approach([tuple(int(v) for v in c) for c in cells], f"collect_{item}",
                              max_cost=12) if len(cells) else None
        if step is None:
            self.gathering = None
        return step

    def _craft(self, item: str) -> tuple[str, str] | None:
        rule = self.rules.make[item]
        stations = rule.nearby
        stand = self._station_stand(stations)
        if stand is not None:
            target, cost = stand
            if target == self.pos:
                return f"make_{item}", f"make_{item}"
            if cost <= self.habits.table_reach or "furnace" in stations:
                label = f"make_{item}" if self._in_view(target) else "find_table"
                step = self._travel(target, label)
                if step:
                    return step
        # No usable station within reach: place what is missing, near the others.
        for station in stations:
            if self._station_stand((station,)) is None or (
                    station == "table" and stand is None and "furnace" not in stations):
                return self._place_station(station, stations)
        return self._place_station(stations[-1], stations)

    def _place_station(self, station: str, stations: tuple[str, ...]) -> tuple[str, str] | None:
        uses = self.rules.place[station].uses
        for ing, n in uses.items():
            if self.inv[ing] < n:
                return self._collect_item(ing, n)
        others = tuple(s for s in stations if s != station)
        return self._place(station, near=others)

    # -- movement and interaction ---------------------------------------------------
    def _minable_materials(self) -> list[str]:
        # Water leaves water (not walkable); grass is walked on, not mined.
        return [m for m in self.rules.minable(self.inv, self.rules.walkable) if m != "grass"]

    def _distances(self, avoid=()):
        cost = np.full(self.material.shape, INF)
        walk = self.walkable_ids[self.material]
        cost[walk] = 1.0
        for material in self._minable_materials():
            cost[self.material == self.ids[material]] = MINE_COST
        if self.inv["stone"] > 0 and self.inv["wood_pickaxe"] > 0:
            cost[self.material == self.ids["water"]] = BRIDGE_COST
        cost[~self.known] = UNKNOWN_COST
        cost[self.material == self.ids["lava"]] = INF
        # Skeletons shoot along rows and columns: keep out of their range where possible.
        w, h = cost.shape
        for sx, sy in self.creatures["skeleton"]:
            x0, x1, y0, y1 = max(0, sx - 4), min(w, sx + 5), max(0, sy - 4), min(h, sy + 5)
            cost[x0:x1, sy] += 4.0
            cost[sx, y0:y1] += 4.0
        for name in ("zombie", "skeleton", "cow", "plant"):
            for cell in self.creatures[name]:
                cost[cell] = INF if name == "plant" else CREATURE_COST
        for cell in avoid:
            cost[cell] = INF
        px, py = self.pos
        dist, prev = dijkstra(cost, px, py)
        self._prev = prev
        return dist, prev

    def _travel(self, target: tuple[int, int], skill: str, avoid=()) -> tuple[str, str] | None:
        dist, prev = self._distances(avoid)
        if dist[target] == INF:
            return None
        path = path_to(prev, target)
        if not path:
            return None
        return self._step_into(path[0], skill)

    def _step_into(self, cell: tuple[int, int], skill: str) -> tuple[str, str]:
        direction = _sub(cell, self.pos)
        move = MOVES[direction]
        facing = self._facing_now()
        material = self.material[cell]
        occupant = self.sem[cell] >= self.first_object_id and cell != self.pos
        if facing != direction:
            return move, skill
        if occupant:
            if self.blocked_steps > 3 or self.sem[cell] in (self.ids["zombie"], self.ids["skeleton"]):
                return "do", skill
            return "noop", skill
        if self.walkable_ids[material]:
            return move, skill
        if material == self.ids["water"]:
            return ("place_stone" if self.inv["stone"] > 0 else "noop"), skill
        return "do", skill

    def _face_and(self, action: str, cell: tuple[int, int]) -> str:
        direction = _sub(cell, self.pos)
        if self._facing_now() != direction:
            return MOVES[direction]
        return action

    def _move_towards(self, cell: tuple[int, int]) -> str:
        return MOVES[_sub(cell, self.pos)]

    def _facing_now(self) -> tuple[int, int]:
        return self._facing_cache

    def _cell_free(self, cell) -> bool:
        return self.sem[cell] < self.first_object_id or cell == self.pos

    def _in_view(self, cell) -> bool:
        x0, x1, y0, y1 = self.view
        return x0 <= cell[0] < x1 and y0 <= cell[1] < y1

    def _use_material(self, material: str, skill: str) -> tuple[str, str] | None:
        targets = np.argwhere(self.known & (self.material == self.ids[material]))
        if len(targets):
            cells = [tuple(int(v) for v in t) for t in targets]
            step = self._approach(cells, skill, find=FIND_NAMES.get(material))
            if step:
                return step
        find = FIND_NAMES.get(material, f"find_{material}")
        if material == "diamond" and (self.sees_map or not (~self.known).any()):
            self.explored_all = True   # every diamond there is, is out of reach
            return None
        return self._explore(find, prefer="stone" if material in ("coal", "iron", "diamond") else None)

    def _approach(self, cells, skill: str, find: str | None = None,
                  max_cost: float = INF) -> tuple[str, str] | None:
        """Walk next to the nearest of `cells`, face it and `do` it."""
        dist, prev = self._distances()
        adjacent, which = min_neighbour(dist)
        best, best_cost = None, INF
        for cell in cells:
            if adjacent[cell] < best_cost:
                best, best_cost = cell, adjacent[cell]
        if best is None or best_cost > max_cost:
            return None
        px, py = self.pos
        if abs(best[0] - px) + abs(best[1] - py) == 1:
            return self._face_and("do", best), skill
        dx, dy = NEIGHBOURS[which[best]]
        stand = (best[0] + dx, best[1] + dy)
        label = skill if (find is None or self._in_view(best)) else find
        path = path_to(prev, stand)
        if not path:
            return None
        return self._step_into(path[0], label)

    def _explore(self, skill: str, prefer: str | None = None) -> tuple[str, str] | None:
        dist, prev = self._distances()
        frontier = ~self.known & np.isfinite(dist)
        if not frontier.any():
            return self._roam(skill, dist, prev, prefer)
        score = dist.copy()
        score[~frontier] = INF
        if prefer is not None:
            near = box_count(self.known & (self.material == self.ids[prefer]), 3)
            score = score - 0.5 * np.minimum(near, 12)
        target = np.unravel_index(np.argmin(score), score.shape)
        path = path_to(prev, (int(target[0]), int(target[1])))
        if not path:
            return None
        return self._step_into(path[0], skill)

    def _roam(self, skill, dist, prev, prefer) -> tuple[str, str] | None:
        """Nothing left to discover: walk to a far spot (on `prefer` ground) and look around."""
        if self.roam_target is None or self.pos == self.roam_target or dist[self.roam_target] == INF:
            ok = np.isfinite(dist) & self.walkable_ids[self.material] & (dist >= 8)
            if prefer is not None and (ok & (self.material == self.ids[prefer])).any():
                ok &= self.material == self.ids[prefer]
            cells = np.argwhere(ok)
            if not len(cells):
                return None
            x, y = cells[self.rng.integers(len(cells))]
            self.roam_target = (int(x), int(y))
        path = path_to(prev, self.roam_target)
        if not path:
            self.roam_target = None
            return None
        return self._step_into(path[0], skill)

    def _station_stand(self, stations) -> tuple[tuple[int, int], float] | None:
        """The nearest standing cell with every station in its 3x3 neighbourhood."""
        ok = None
        for station in stations:
            near = box_count(self.known & (self.material == self.ids[station]), 1) > 0
            ok = near if ok is None else ok & near
        ok = ok & self.walkable_ids[self.material] & self.known & self.crafts_at
        if not ok.any():
            return None
        dist, _ = self._distances()
        score = np.where(ok, dist, INF)
        cell = np.unravel_index(np.argmin(score), score.shape)
        if score[cell] == INF:
            return None
        return (int(cell[0]), int(cell[1])), float(score[cell])

    def _place(self, item: str, near: tuple[str, ...] = ()) -> tuple[str, str] | None:
        """Place `item` on a free cell in front, standing within reach of the `near` stations."""
        rule = self.rules.place[item]
        where = np.zeros(len(self.walkable_ids), bool)
        where[[self.ids[m] for m in rule.where]] = True
        skill = f"place_{item}"
        facing = self._facing_now()
        ahead = _add(self.pos, facing)
        stand_ok = np.ones(self.material.shape, bool)
        for station in near:
            stand_ok &= box_count(self.known & (self.material == self.ids[station]), 1) > 0
        if self._inside(ahead) and where[self.material[ahead]] and self._cell_free(ahead) \
                and stand_ok[self.pos] and self.known[ahead]:
            return f"place_{item}", skill
        # Find (back, stand, ahead) in a line: walk to back, step to stand (now facing ahead).
        walk = self.walkable_ids[self.material] & self.known
        free = self.sem < self.first_object_id
        free[self.pos] = True
        if self.placing is not None and self.placing[0] == item:
            _, back, stand, ahead = self.placing
            still = (walk[back] and free[back] and walk[stand] and free[stand] and stand_ok[stand]
                     and where[self.material[ahead]] and free[ahead])
            if still:
                step = self._walk_to_placement(back, stand, skill)
                if step:
                    return step
        dist, prev = self._distances()
        best, best_cost = None, INF
        px, py = self.pos
        w, h = self.material.shape
        for sx in range(max(1, px - 12), min(w - 1, px + 13)):
            for sy in range(max(1, py - 12), min(h - 1, py + 13)):
                if not (walk[sx, sy] and free[sx, sy] and stand_ok[sx, sy]):
                    continue
                for dx, dy in NEIGHBOURS:
                    ax, ay = sx + dx, sy + dy
                    bx, by = sx - dx, sy - dy
                    if not (0 <= bx < w and 0 <= by < h):
                        continue
                    if not (where[self.material[ax, ay]] and free[ax, ay] and self.known[ax, ay]):
                        continue
                    if not (walk[bx, by] and free[bx, by]):
                        continue
                    cost = dist[bx, by] + 1
                    if cost < best_cost:
                        best, best_cost = ((bx, by), (sx, sy), (ax, ay)), cost
        if best is None:
            return None
        self.placing = (item, *best)
        return self._walk_to_placement(best[0], best[1], skill)

    def _walk_to_placement(self, back, stand, skill: str) -> tuple[str, str] | None:
        if self.pos == back:
            return self._move_towards(stand), skill
        return self._travel(back, skill)

    def _wander(self) -> tuple[str, str]:
        step = self._explore("explore")
        if step:
            return step
        return "noop", "idle"

    def _random_safe_action(self, info) -> str:
        names = [n for n in self.action_index if n != "sleep"]
        return str(self.rng.choice(names))

    def _would_enter_lava(self, info, action: str) -> bool:
        direction = next(d for d, m in MOVES.items() if m == action)
        cell = _add(self.pos, direction)
        if not self._inside(cell):
            return False
        return info["semantic"][cell] == self.ids["lava"]

    def _inside(self, cell) -> bool:
        w, h = self.material.shape
        return 0 <= cell[0] < w and 0 <= cell[1] < h


def _add(a, b):
    return (a[0] + b[0], a[1] + b[1])


def _sub(a, b):
    return (a[0] - b[0], a[1] - b[1])
