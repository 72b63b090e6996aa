"""Compiled kernels for the fast Crafter world: imported only when numba works."""

import numba
import numpy as np
from opensimplex.internals import _noise3

from mcagent.worlds import crafter_worldgen


@numba.njit(cache=True)
def noise3_points(x, y, z, perm, grad_index):
    """Noise at (x[i], y[i], z): the very function that `OpenSimplex.noise3` runs."""
    out = np.empty(x.size)
    for i in range(x.size):
        out[i] = _noise3(x[i], y[i], z, perm, grad_index)
    return out


walk_chains = numba.njit(cache=True)(crafter_worldgen.walk_chains)
