"""Vendor the subset of the npm package `minecraft-data` that mcagent's Minecraft ground truth needs.

Usage (from the repository root; needs node's npm only for the download):

    npm install --prefix /tmp/mcd minecraft-data
    python scripts/vendor_minecraft_data.py /tmp/mcd/node_modules/minecraft-data

It copies, for Minecraft 1.11.2 (the version MineDojo runs), the recipes, the
items, the blocks (only the fields that say how a block is harvested and what
it drops) and the mobs of the entity table, minified, into
mcagent/graph/data/minecraft-data-1.11.2/, and records the package version.
"""

from __future__ import annotations

import json
import pathlib
import sys

MC_VERSION = "1.11.2"
OUT = pathlib.Path(__file__).resolve().parent.parent / "mcagent/graph/data/minecraft-data-1.11.2"
BLOCK_FIELDS = ("id", "name", "diggable", "harvestTools", "drops")
ITEM_FIELDS = ("id", "name", "stackSize")
ENTITY_FIELDS = ("id", "name", "category")
MOB_CATEGORIES = ("Passive mobs", "Hostile mobs")


def _dump(path: pathlib.Path, data) -> None:
    path.write_text(json.dumps(data, separators=(",", ":"), sort_keys=False) + "\n")


def main(package_dir: str) -> None:
    package = pathlib.Path(package_dir)
    meta = json.loads((package / "package.json").read_text())
    data_dir = package / "minecraft-data" / "data"
    paths = json.loads((data_dir / "dataPaths.json").read_text())["pc"][MC_VERSION]

    def table(name: str):
        return json.loads((data_dir / paths[name] / f"{name}.json").read_text())

    OUT.mkdir(parents=True, exist_ok=True)
    _dump(OUT / "items.json", [{k: i[k] for k in ITEM_FIELDS if k in i} for i in table("items")])
    _dump(OUT / "blocks.json", [{k: b[k] for k in BLOCK_FIELDS if k in b} for b in table("blocks")])
    _dump(OUT / "recipes.json", table("recipes"))
    _dump(OUT / "entities.json", [{k: e[k] for k in ENTITY_FIELDS} for e in table("entities")
                                  if e.get("category") in MOB_CATEGORIES])
    _dump(OUT / "version.json", {
        "minecraft_version": MC_VERSION, "package": meta["name"], "package_version": meta["version"],
        "license": meta["license"], "tables": {n: paths[n] for n in
                                               ("items", "blocks", "recipes", "entities")}})
    print(f"wrote {OUT} from {meta['name']} {meta['version']}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
