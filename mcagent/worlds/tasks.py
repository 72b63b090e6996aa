"""Long-horizon tasks as data: typed records loaded from the YAML files in tasks/."""

from __future__ import annotations

import dataclasses
import functools
import pathlib
from collections.abc import Mapping

import yaml

from mcagent.errors import UnknownNameError, UserError

TASK_DIR = pathlib.Path(__file__).parent / "tasks"
TASKS_FORMAT = "mcagent-tasks/1"


@dataclasses.dataclass(frozen=True)
class Task:
    """Reach `target` (an achievement, or `count` of an item) within `max_steps`."""

    name: str
    world: str
    target_kind: str  # "achievement", "item", or "achievements" (every one of the world's)
    target: str
    count: int
    initial_inventory: Mapping[str, int]
    max_steps: int
    description: str = ""
    # World-specific settings passed through to the backend (biome, initial mobs).
    extra: Mapping[str, object] = dataclasses.field(default_factory=dict)
    # For `achievements: all`: achievement -> achievements to unlock before pursuing it.
    after: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    # The agent's survival rules for this task: fields of `mcagent.agent.Survival` to
    # replace (a mapping field key by key).
    survival: Mapping[str, object] = dataclasses.field(default_factory=dict)

    def reached(self, inventory: Mapping[str, int], achievements: Mapping[str, int]) -> bool:
        if self.target_kind == "achievements":
            return all(n >= self.count for n in achievements.values())
        if self.target_kind == "achievement":
            return achievements.get(self.target, 0) >= self.count
        return inventory.get(self.target, 0) >= self.count


@dataclasses.dataclass(frozen=True)
class Suite:
    name: str
    world: str
    tasks: tuple[Task, ...]
    source: str

    def task(self, name: str) -> Task:
        for task in self.tasks:
            if task.name == name:
                return task
        raise UnknownNameError("task", name, [t.name for t in self.tasks])


def _crafter_task(name: str, raw: Mapping, source: str) -> Task:
    from mcagent.worlds.rules import crafter_rules

    rules = crafter_rules()
    where = f"{source}: task {name!r}"
    unknown = set(raw) - {"target", "initial_inventory", "max_steps", "description", "after",
                          "survival"}
    if unknown:
        raise UserError(f"{where}: unknown field(s) {sorted(unknown)}")
    target = raw.get("target") or {}
    if "achievements" in target:
        # Crafter's benchmark: pursue every achievement (the score suite).
        if target["achievements"] != "all":
            raise UserError(f"{where}: target achievements must be 'all', got "
                            f"{target['achievements']!r}")
        kind, goal, count = "achievements", "all", 1
    elif "achievement" in target:
        kind, goal, count = "achievement", target["achievement"], int(target.get("count", 1))
        if goal not in rules.achievements:
            raise UserError(f"{where}: unknown achievement {goal!r}; "
                            f"valid: {', '.join(rules.achievements)}")
    elif "item" in target:
        kind, goal, count = "item", target["item"], int(target.get("count", 1))
        if goal not in rules.items:
            raise UserError(f"{where}: unknown item {goal!r}; valid: {', '.join(rules.items)}")
    else:
        raise UserError(f"{where}: target needs 'achievement', 'achievements' or 'item', "
                        f"got {target!r}")
    inventory = dict(raw.get("initial_inventory") or {})
    for item, n in inventory.items():
        if item not in rules.items:
            raise UserError(f"{where}: initial_inventory has unknown item {item!r}")
        if not isinstance(n, int) or not 0 <= n <= rules.items[item].max:
            raise UserError(f"{where}: initial_inventory {item}={n!r} must be an integer "
                            f"in 0..{rules.items[item].max}")
    after = {}
    for achievement, before in (raw.get("after") or {}).items():
        for a in (achievement, *before):
            if a not in rules.achievements:
                raise UserError(f"{where}: after: unknown achievement {a!r}; "
                                f"valid: {', '.join(rules.achievements)}")
        after[achievement] = tuple(before)
    if after and kind != "achievements":
        raise UserError(f"{where}: 'after' orders the achievements of an `achievements: all` "
                        f"target; this task has one target")
    survival = raw.get("survival") or {}
    if not isinstance(survival, Mapping):
        raise UserError(f"{where}: survival must be a mapping of the agent's survival "
                        f"settings, got {survival!r}")
    from mcagent.agent import Survival

    Survival().with_overrides(survival, where=where)      # unknown names fail here
    return Task(name, "crafter", kind, goal, count, inventory, int(raw.get("max_steps", 10000)),
                str(raw.get("description", "")), after=after, survival=dict(survival))


def _load_mcagent_suites(path: pathlib.Path) -> dict[str, Suite]:
    data = yaml.safe_load(path.read_text())
    if data.get("format") != TASKS_FORMAT:
        raise UserError(f"{path}: expected format {TASKS_FORMAT!r}, got {data.get('format')!r}")
    world = data["world"]
    if world != "crafter":
        raise UserError(f"{path}: tasks for world {world!r} have no loader")
    tasks = {name: _crafter_task(name, raw, str(path)) for name, raw in data["tasks"].items()}
    suites = {}
    for suite, names in data["suites"].items():
        missing = [n for n in names if n not in tasks]
        if missing:
            raise UserError(f"{path}: suite {suite!r} names unknown task(s) {missing}")
        suites[suite] = Suite(suite, world, tuple(tasks[n] for n in names), str(path))
    suites[f"{world}-all"] = Suite(f"{world}-all", world, tuple(tasks.values()), str(path))
    return suites


def load_plan4mc_suite(path: pathlib.Path = TASK_DIR / "plan4mc_hard_task_conf.yaml") -> Suite:
    """Plan4MC's 40 tasks, read from its own `hard_task_conf.yaml` as published."""
    data = yaml.safe_load(path.read_text())
    tasks = []
    for name, raw in data.items():
        extra = {k: v for k, v in raw.items()
                 if k not in ("target_name", "target_quantity", "initial_inventory", "max_steps")}
        tasks.append(Task(name, "minedojo", "item", raw["target_name"],
                          int(raw.get("target_quantity", 1)),
                          dict(raw.get("initial_inventory") or {}), int(raw["max_steps"]),
                          extra=extra))
    return Suite("plan4mc", "minedojo", tuple(tasks), str(path))


@functools.lru_cache(maxsize=None)
def suites() -> dict[str, Suite]:
    """Every task suite that mcagent ships, by name."""
    found = _load_mcagent_suites(TASK_DIR / "crafter.yaml")
    found["plan4mc"] = load_plan4mc_suite()
    return found


def get_suite(name: str) -> Suite:
    try:
        return suites()[name]
    except KeyError:
        raise UnknownNameError("suite", name, suites()) from None


def get_task(name: str, world: str = "crafter") -> Task:
    """A task by name from the suites of `world`."""
    known = {t.name: t for s in suites().values() if s.world == world for t in s.tasks}
    if name not in known:
        raise UnknownNameError(f"{world} task", name, known)
    return known[name]
