"""Record the expert with habits outside those it draws per seed, to check SBD on other players.

The expert draws its habits per seed from fixed ranges (drink and eat at 4-5,
sleep at energy 2-3, a crafting table within 12-24 steps, swords or pickaxes
first). SBD's models and its tuned parameters come from such recordings; these
players lie outside the ranges, so their rhythm (how often they drink, eat and
sleep, how far they walk to a table) is one the detector never saw:

- `eager`: drinks at 7, eats at 7, sleeps at energy 5, a new table within 6 steps,
  swords first: many short survival skills.
- `lax`: drinks and eats only at 2, sleeps at energy 1, walks up to 40 steps to a
  table, pickaxes first: long tech-tree stretches.

    python benchmarks/sbd_habits.py eager --seed 600 --episodes 4 --out recordings/eager
    python benchmarks/sbd_habits.py lax --seed 700 --episodes 4 --out recordings/lax

The recordings are ordinary `mcagent-recording/1` folders with skill labels;
score them with `python benchmarks/sbd.py FOLDER`.
"""

from __future__ import annotations

import argparse

from mcagent.recordings.expert import ExpertPlayer, Habits
from mcagent.recordings.record import record_episodes

PLAYERS = {
    "eager": Habits(drink_low=7, food_low=7, energy_low=5, swords_first=True, table_reach=6.0),
    "lax": Habits(drink_low=2, food_low=2, energy_low=1, swords_first=False, table_reach=40.0),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("habits", choices=sorted(PLAYERS), help="which player")
    parser.add_argument("--seed", type=int, required=True, help="world seed of the first episode")
    parser.add_argument("--episodes", type=int, default=4)
    parser.add_argument("--noise", type=float, default=0.0, help="share of random actions")
    parser.add_argument("--out", required=True, help="folder for the recordings")
    args = parser.parse_args()
    player = ExpertPlayer(noise=args.noise, seed=args.seed, habits=PLAYERS[args.habits])
    for stem in record_episodes(player, args.episodes, args.out, seed=args.seed):
        print(stem)


if __name__ == "__main__":
    main()
