"""Crafter's frame renderer, drawing the tile grid in one numpy gather.

`FastLocalView` and `CachedItemView` give pixel-identical frames to Crafter's
`engine.LocalView` and `engine.ItemView`:

- every tile of the local view is a texture from Crafter's own `Textures`
  (a material's tile, or the grey of outside the world), or that tile with a
  creature's texture alpha-blended on top by Crafter's float32 formula. Those
  tiles are computed once per unit size and then gathered for the whole grid
  at once, instead of drawn one by one;
- lighting and sleep follow Crafter's `_light` and `_sleep` step by step, with
  Crafter's own `_noise` (so the night noise draws the same numbers from
  `world.random`) and `_tint`; only Pillow's `ImageEnhance.Color` is replaced,
  by `enhance_color`, its integer/float32 arithmetic in numpy, which is checked
  against the installed Pillow before first use (Crafter's code runs if not equal);
- the inventory panel depends only on the inventory and the unit size, so it
  is drawn by Crafter's code once per distinct inventory and reused.
"""

from __future__ import annotations

import collections
import functools

import numpy as np
from PIL import Image, ImageEnhance

from crafter import engine

_OUTSIDE = 127  # Crafter's canvas colour where the view leaves the world


def blend_alpha(below: np.ndarray, texture: np.ndarray) -> np.ndarray:
    """`texture` over `below` as `engine._draw_alpha` computes it (float32, truncated)."""
    if texture.shape[-1] != 4:
        return texture.copy()
    alpha = texture[..., 3:].astype(np.float32) / 255
    colour = texture[..., :3].astype(np.float32) / 255
    current = below.astype(np.float32) / 255
    blended = alpha * colour + (1 - alpha) * current
    return (255 * blended).astype(np.uint8)


def enhance_color(image: np.ndarray, factor: float) -> np.ndarray:
    """`ImageEnhance.Color(Image.fromarray(image)).enhance(factor)` for uint8 RGB arrays.

    Pillow blends each channel with the pixel's grey level (ITU-R 601-2 luma in
    16-bit fixed point) as `int(grey + factor * (channel - grey))` in float32.
    """
    rgb = image.astype(np.int32)
    grey = (rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471 + 0x8000) >> 16
    grey = grey[..., None]
    out = grey.astype(np.float32) + np.float32(factor) * (rgb - grey).astype(np.float32)
    return out.astype(np.uint8)


@functools.lru_cache(None)
def _pillow_agrees(factor: float) -> bool:
    """Whether `enhance_color` equals the installed Pillow on a spread of colours."""
    colours = np.random.RandomState(0).randint(0, 256, (64, 64, 3)).astype(np.uint8)
    colours[0, :8] = [[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255],
                      [127, 127, 127], [1, 254, 3], [254, 1, 253]]
    expected = np.array(ImageEnhance.Color(Image.fromarray(colours)).enhance(factor))
    return bool(np.array_equal(enhance_color(colours, factor), expected))


class _TileAtlas:
    """Tiles of one unit size: materials by id, outside, and creatures over materials."""

    def __init__(self, textures, unit: tuple[int, int], material_names: dict):
        self._textures = textures
        self._unit = unit
        self._names = dict(material_names)
        tiles = [self._texture(self._names[i])[..., :3] for i in range(len(self._names))]
        tiles.append(np.full(unit + (3,), _OUTSIDE, np.uint8))
        self.outside = len(tiles) - 1
        self._tiles = np.stack(tiles)
        self._count = len(tiles)
        self._blended: dict = {}
        self._night: np.ndarray | None = None

    def matches(self, material_names: dict) -> bool:
        return len(material_names) == len(self._names)

    def _texture(self, name):
        return self._textures.get(name, self._unit)

    def creature(self, texture_name: str, material_id: int) -> int:
        """Index of the tile showing `texture_name` over material `material_id`."""
        key = texture_name, material_id
        index = self._blended.get(key)
        if index is None:
            tile = blend_alpha(self._tiles[material_id], self._texture(texture_name))
            if self._count == len(self._tiles):
                grown = np.empty((2 * self._count,) + self._tiles.shape[1:], np.uint8)
                grown[:self._count] = self._tiles
                self._tiles = grown
            self._tiles[self._count] = tile
            index = self._blended[key] = self._count
            self._count += 1
        return index

    def gather(self, indices: np.ndarray, night_of=None) -> np.ndarray:
        """(gx, gy) tile indices -> (gx * ux, gy * uy, 3) canvas.

        With `night_of`, a per-pixel function of a uint8 image, the canvas of
        that function instead, computed once per tile.
        """
        (gx, gy), (ux, uy) = indices.shape, self._unit
        tiles = self._tiles
        if night_of is not None:
            done = 0 if self._night is None else len(self._night)
            if done < self._count:
                new = night_of(self._tiles[done:self._count])
                self._night = new if self._night is None else np.concatenate([self._night, new])
            tiles = self._night
        picked = tiles[indices]  # (gx, gy, ux, uy, 3)
        return picked.transpose(0, 2, 1, 3, 4).reshape(gx * ux, gy * uy, 3)


class FastLocalView(engine.LocalView):
    """`engine.LocalView` with the same pixels and the same draws from `world.random`."""

    def __init__(self, world, textures, grid):
        super().__init__(world, textures, grid)
        self._atlases: dict = {}

    def _atlas(self, unit: tuple[int, int]) -> _TileAtlas:
        names = self._world._mat_names
        atlas = self._atlases.get(unit)
        if atlas is None or not atlas.matches(names):
            atlas = self._atlases[unit] = _TileAtlas(self._textures, unit, names)
        return atlas

    def __call__(self, player, unit):
        self._unit = np.array(unit)
        self._center = np.array(player.pos)
        world = self._world
        atlas = self._atlas((int(self._unit[0]), int(self._unit[1])))
        (gx, gy), (ox, oy) = self._grid, self._offset
        x0, y0 = int(self._center[0]) - int(ox), int(self._center[1]) - int(oy)
        # The part of the grid inside the world: world [x0+a, x0+b) -> grid [a, b).
        (width, height) = world.area
        ax, bx = max(0, -x0), min(gx, width - x0)
        ay, by = max(0, -y0), min(gy, height - y0)
        indices = np.full((gx, gy), atlas.outside, np.int64)
        if ax < bx and ay < by:
            window = (slice(x0 + ax, x0 + bx), slice(y0 + ay, y0 + by))
            materials = world._mat_map[window]
            indices[ax:bx, ay:by] = materials
            found = world._obj_map[window]
            for gx_, gy_ in zip(*np.nonzero(found)):
                obj = world._objects[found[gx_, gy_]]
                indices[ax + gx_, ay + gy_] = atlas.creature(obj.texture, int(materials[gx_, gy_]))
        canvas = atlas.gather(indices)
        daylight = world.daylight
        if daylight >= 0.5 and _pillow_agrees(0.4):
            # No noise by day: the night image is a function of each tile alone.
            night = atlas.gather(indices, self._night_image)
            canvas = daylight * canvas + (1 - daylight) * night
        else:
            canvas = self._light(canvas, daylight)
        if player.sleeping:
            canvas = self._sleep(canvas)
        return canvas

    # Crafter's `_light` and `_sleep`, step by step, with `enhance_color` for Pillow.
    def _night_image(self, night):
        night = enhance_color(night.astype(np.uint8), 0.4)
        return self._tint(night, (0, 16, 64), 0.5)

    def _light(self, canvas, daylight):
        if not _pillow_agrees(0.4):
            return super()._light(canvas, daylight)
        night = canvas
        if daylight < 0.5:
            night = self._noise(night, 2 * (0.5 - daylight), 0.5)
        night = self._night_image(night)
        return daylight * canvas + (1 - daylight) * night

    def _sleep(self, canvas):
        if not _pillow_agrees(0.0):
            return super()._sleep(canvas)
        canvas = enhance_color(canvas.astype(np.uint8), 0.0)
        return self._tint(canvas, (0, 0, 16), 0.5)


class CachedItemView(engine.ItemView):
    """`engine.ItemView` that draws each distinct inventory once (frames are read-only)."""

    def __init__(self, textures, grid, size: int = 256):
        super().__init__(textures, grid)
        self._cache: collections.OrderedDict = collections.OrderedDict()
        self._size = size

    def __call__(self, inventory, unit):
        key = tuple(inventory.items()), tuple(int(u) for u in np.asarray(unit).ravel())
        canvas = self._cache.get(key)
        if canvas is None:
            canvas = super().__call__(inventory, unit)
            canvas.flags.writeable = False
            self._cache[key] = canvas
            if len(self._cache) > self._size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return canvas


class FastSemanticView(engine.SemanticView):
    """`engine.SemanticView` writing all creatures at once (the same map)."""

    def __call__(self):
        world = self._world
        canvas = world._mat_map.copy()
        xs, ys = np.nonzero(world._obj_map)
        if len(xs):
            ids = self._obj_ids
            canvas[xs, ys] = [ids[type(world._objects[i])] for i in world._obj_map[xs, ys].tolist()]
        return canvas
