"""The cells near a point: which of a mixture's components its posterior can involve.

A point's posterior under a mixture of K cells is a sum over all cells, but
a cell many of its widths away contributes nothing measurable. Each cell
``g`` keeps a list of the ``n_near`` cells whose centres are nearest to its
own centre and its *reach*: the distance from its centre to the nearest centre not on
the list. A point ``y`` whose *home* is cell ``g`` (any cell; the nearest
gives the tightest bound) is then at least

    floor(y) = reach_g - |y - c_g|

from every centre off the list (triangle inequality). For a Gaussian
component ``N(mu_j, S_j)``, ``(y - mu_j)^T S_j^-1 (y - mu_j) >= |y -
mu_j|^2 / lam_max(S_j)``, so the total density of the cells off the list is
at most

    exp(c_max - floor^2 / (2 Lam)),

with ``c_max`` the largest ``-log det(2 pi S_j) / 2`` and ``Lam`` the largest
eigenvalue over the cells of positive weight (weights sum to 1). Where this is
below ``TRUNCATION_TOL`` times the listed cells' density, the truncated
posteriors are within ``TRUNCATION_TOL`` of the full ones in total variation
and the log-density within ``TRUNCATION_TOL``; the other rows are evaluated on
all cells (see :func:`._mixture_denoiser.posterior_groups`). The bound asks
for nothing but the centres, so it holds for any covariances: where it is
loose the fallback costs time, never accuracy.

Evaluating a group of rows that share a home cell takes one matrix product
with its listed cells' eigenbases, so the cost per row is ``n_near`` cells,
not K.
"""

import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

# Cells on each cell's list. A curve's cells are ordered along it, so 16 reach
# about 8 cell lengths to either side: ~100 nats of a cell's Gaussian at the
# small noise levels, where a point's posterior sits in two or three cells.
NEAR_CELLS = 16
# Largest relative mass of the cells off the list that truncation may drop.
TRUNCATION_TOL = 1e-10
# Rows per home cell below which one evaluation on all cells is cheaper than
# a matrix product per home cell (the loop's fixed cost per group).
MIN_GROUP_ROWS = 64


class NearCells:
    """Each cell's nearest cells and its reach (see the module docstring).

    Parameters
    ----------
    centres : ndarray of shape (K, d)
    n_near : int, default=NEAR_CELLS
        Cells on each list (all K when K is not larger).
    """

    def __init__(self, centres, n_near=NEAR_CELLS):
        self.centres = np.asarray(centres, dtype=float)
        K = len(self.centres)
        self.tree = cKDTree(self.centres)
        k = min(n_near, K)
        if k < K:
            dist, lists = self.tree.query(self.centres, k=k + 1)
            # In the cells' order, so that a posterior draw's pick by
            # cumulative weight is the full posterior's (to the dropped mass).
            self.lists, self.reach = np.sort(lists[:, :k], axis=1), dist[:, k]
        else:
            self.lists, self.reach = np.tile(np.arange(K), (K, 1)), np.full(K, np.inf)

    @property
    def truncates(self):
        """Whether the lists leave any cell out."""
        return self.lists.shape[1] < len(self.centres)

    def home(self, Y):
        """Nearest centre of each row of Y, shape (n,)."""
        return self.tree.query(Y, k=1)[1].astype(np.intp)

    def floor(self, Y, home):
        """Lower bound on the distance from each row to every centre off its
        home cell's list, shape (n,) (``inf`` when the lists hold all cells)."""
        if not self.truncates:
            return np.full(len(Y), np.inf)
        return self.reach[home] - np.linalg.norm(Y - self.centres[home], axis=1)

    def nearest(self, Y, home):
        """Nearest centre of each row of Y, from its home cell's list where the
        list's nearest is closer than every centre off it, else the tree's."""
        if not self.truncates:
            return np.argmin(cdist(Y, self.centres, "sqeuclidean"), axis=1)
        out = np.empty(len(Y), dtype=np.intp)
        floor = self.floor(Y, home)
        for g, rows in groups(home, len(self.centres)):
            cells = self.lists[g]
            sq = cdist(Y[rows], self.centres[cells], "sqeuclidean")
            best = np.argmin(sq, axis=1)
            out[rows] = cells[best]
            unsure = np.sqrt(sq[np.arange(len(rows)), best]) > floor[rows]
            if np.any(unsure):
                out[rows[unsure]] = self.home(Y[rows[unsure]])
        return out


def groups(home, n_cells):
    """``(cell, rows)`` for each cell that is some row's home, rows in order."""
    order = np.argsort(home, kind="stable")
    bounds = np.searchsorted(home[order], np.arange(n_cells + 1))
    for g in np.flatnonzero(np.diff(bounds)):
        yield g, order[bounds[g]:bounds[g + 1]]
