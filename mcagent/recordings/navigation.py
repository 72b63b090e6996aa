"""Shortest paths on a 2-D grid of entry costs, for scripted players.

`cost[x, y]` is what it costs to step into cell (x, y): 1 for open ground,
more for a cell that must first be mined or bridged, `inf` for a cell that
must never be entered. Compiled with numba when it is installed (about a
millisecond for a 64x64 map), plain Python otherwise.
"""

from __future__ import annotations

import numpy as np

try:
    from numba import njit
except ImportError:  # numba is optional: the same code runs as Python, slower
    def njit(*args, **kwargs):
        return (lambda f: f) if not args or not callable(args[0]) else args[0]

INF = np.inf
_DX = np.array([-1, 1, 0, 0], np.int64)
_DY = np.array([0, 0, -1, 1], np.int64)


@njit(cache=True)
def dijkstra(cost, sx, sy):
    """Distances from (sx, sy) to every cell, and each cell's predecessor (flat index)."""
    w, h = cost.shape
    dist = np.full((w, h), np.inf)
    prev = np.full((w, h), -1, np.int64)
    heap_key = np.empty(4 * w * h + 8)
    heap_val = np.empty(4 * w * h + 8, np.int64)
    size = 0
    dist[sx, sy] = 0.0
    heap_key[0] = 0.0
    heap_val[0] = sx * h + sy
    size = 1
    while size > 0:
        key, node = heap_key[0], heap_val[0]
        size -= 1
        # sift the last element down from the root
        lk, lv = heap_key[size], heap_val[size]
        i = 0
        while True:
            c = 2 * i + 1
            if c >= size:
                break
            if c + 1 < size and heap_key[c + 1] < heap_key[c]:
                c += 1
            if heap_key[c] >= lk:
                break
            heap_key[i], heap_val[i] = heap_key[c], heap_val[c]
            i = c
        heap_key[i], heap_val[i] = lk, lv
        x, y = node // h, node % h
        if key > dist[x, y]:
            continue
        for k in range(4):
            nx, ny = x + _DX[k], y + _DY[k]
            if nx < 0 or ny < 0 or nx >= w or ny >= h:
                continue
            step = cost[nx, ny]
            if step == np.inf:
                continue
            nd = key + step
            if nd < dist[nx, ny]:
                dist[nx, ny] = nd
                prev[nx, ny] = node
                # push and sift up
                j = size
                size += 1
                while j > 0:
                    p = (j - 1) // 2
                    if heap_key[p] <= nd:
                        break
                    heap_key[j], heap_val[j] = heap_key[p], heap_val[p]
                    j = p
                heap_key[j], heap_val[j] = nd, nx * h + ny
    return dist, prev


def path_to(prev: np.ndarray, target: tuple[int, int]) -> list[tuple[int, int]]:
    """Cells from the start (exclusive) to `target` (inclusive); empty at the start."""
    h = prev.shape[1]
    x, y = target
    path = []
    while prev[x, y] >= 0:
        path.append((int(x), int(y)))
        x, y = divmod(int(prev[x, y]), h)
    path.reverse()
    return path


def min_neighbour(dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every cell, the smallest distance among its 4 neighbours and which one (0..3)."""
    w, h = dist.shape
    padded = np.full((w + 2, h + 2), np.inf)
    padded[1:-1, 1:-1] = dist
    stack = np.stack([padded[0:-2, 1:-1], padded[2:, 1:-1],   # left, right
                      padded[1:-1, 0:-2], padded[1:-1, 2:]])  # up, down
    which = stack.argmin(0)
    return np.take_along_axis(stack, which[None], 0)[0], which


NEIGHBOURS = tuple(zip(_DX.tolist(), _DY.tolist()))
