"""Where the no-slip walls of the MAC grid sit: on the voxel faces, or at the interface f = 0.

A *wall geometry* tells the Stokes operator (:mod:`microinv.physics.staggered`) three
things: which MAC unknowns exist (the flowing region, `flowing`), how far a velocity
point is from the wall along a stencil link that leaves the fluid (`spacing`), and how
far the fluid around a velocity point extends across the flow (`extent`, for the flux).

* `VoxelWalls`: the staircase of the voxel image. A face carries velocity when both of
  its voxels are pore, a voxel centre carries pressure when it is pore. Across the flow
  the wall is half a voxel from the face centre (``h = 1/2``), along the flow it is the
  dropped face itself (``h = 1``).
* `InterfaceWalls`: the interface ``f = 0`` of a continuous field sampled at the voxel
  centres (pore where ``f < 0``), located by linear interpolation. The field at the
  centre of the face between voxels ``i - e_d`` and ``i`` is the mean
  ``f_d(i) = (f(i - e_d) + f(i)) / 2``; the face carries velocity when ``f_d < 0``, and
  every voxel with such a face carries pressure (also a voxel with ``f >= 0``: it is cut
  by the interface), except the dead ends, whose velocity is zero by continuity
  (`prune_dead_ends`). Along a link from a fluid face (``f_d = f_0 < 0``) to a neighbouring
  face that is not fluid (``f_d = f_1 >= 0``) the wall sits where the linear
  interpolant vanishes::

      h = f_0 / (f_0 - f_1)  in (0, 1],    h <- max(h, H_MIN),

  in units of the voxel size. The clamp keeps the Shortley-Weller coefficients
  ``~ 2 / (h (h + 1))`` below 18 (``H_MIN = 1/10``); it moves a wall that is closer than
  ``H_MIN`` to a velocity point out to ``H_MIN``, at most 1/10 voxel into the solid, at a
  fraction ~``H_MIN`` of the wall links (a mean displacement of the wall of about
  ``H_MIN^2 / 2 = 0.005`` voxel). Measured on a sphere array (c = 0.064, 48 voxels per
  cell, rtol 1e-8): ``H_MIN = 1/32`` gives k 0.15 % above Zick & Homsy in 86 iterations,
  ``1/10`` 0.18 % in 64 (the voxel walls: 4.5 % below in 44), ``1/4`` 0.33 % in 57; the
  large coefficients of small ``h`` slow the velocity block's GAMG. A pruned dead-end face is a zero velocity at
  ``h = 1``.

Only the unknowns of the region that carries flow along the force are kept: the cells
and faces of the clusters that wrap along that axis in the periodic cell, where two cells
are connected when the face between them carries velocity (for voxel walls: the pore
voxels' face connectivity of `microinv.microstructure.percolation`). One pressure per
cluster is pinned to zero, which removes the constant-pressure null space.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from microinv.microstructure.percolation import periodic_labels, wrapping_mask
from microinv.physics.staggered import shifted, unit
from microinv.physics.toolkit import pinned_voxels

__all__ = ["Region", "VoxelWalls", "InterfaceWalls", "H_MIN"]

#: Smallest distance (voxel units) from a velocity point to an interpolated wall.
H_MIN = 0.1


@dataclasses.dataclass
class Region:
    """The MAC unknowns that carry flow: replicated boolean arrays of the voxel shape.

    ``centres`` the voxels with a pressure, ``faces[d]`` the lower faces along ``d`` (between
    voxels ``i - e_d`` and ``i``) with a velocity, ``pinned`` the flat indices of the
    centres whose pressure is fixed to zero (one per cluster, left out of the system).
    """

    centres: np.ndarray
    faces: list
    pinned: np.ndarray

    def same_as(self, other) -> bool:
        return other is not None and np.array_equal(self.centres, other.centres) and all(
            np.array_equal(a, b) for a, b in zip(self.faces, other.faces))


def lower_faces(cells: np.ndarray) -> list:
    """Per axis ``d``: both voxels of the lower face (``i - e_d`` and ``i``) are in ``cells``."""
    return [cells & np.roll(cells, 1, axis=d) for d in range(cells.ndim)]


def face_count(faces: list) -> np.ndarray:
    """Number of velocity faces of every voxel (its lower faces and its upper faces)."""
    return sum(f.astype(np.int8) + np.roll(f, -1, axis=d) for d, f in enumerate(faces))


def prune_dead_ends(faces: list) -> list:
    """Drop, repeatedly, the face of every cell that has exactly one velocity face.

    Continuity in such a cell says that the flux through its only face is zero, and the
    face's momentum equation then only decides the cell's pressure: the face and the
    pressure can be left out, the face kept as a point of zero velocity for its
    neighbours' stencils (`InterfaceWalls.spacing`), with the same solution for every
    other unknown. A chain of such cells (a dead-end channel one voxel wide) goes face by
    face. The cut cells of an interface are often of this kind; left in, their tiny
    conductances double the Krylov iterations.
    """
    faces = [f.copy() for f in faces]
    while True:
        single = face_count(faces) == 1
        if not single.any():
            return faces
        for d, face in enumerate(faces):
            face &= ~(single | np.roll(single, 1, axis=d))


class VoxelWalls:
    """No-slip on the voxel faces between pore and solid (the staircase of the image)."""

    geometry = "voxel"
    discretisation = "MAC, Shortley-Weller walls"

    def __init__(self, solid: np.ndarray):
        self.pore = solid == 0
        self.shape = solid.shape

    def flowing(self, axis: int) -> Region | None:
        """The pore clusters that wrap along ``axis``, or None when there is none."""
        fluid = wrapping_mask(self.pore, axis)
        if not fluid.any():
            return None
        return Region(fluid, lower_faces(fluid), pinned_voxels(fluid))

    def spacing(self, grid, d: int, e: int, sign: int, wall: np.ndarray) -> np.ndarray:
        """Distance from the owned faces ``u_d`` to their neighbour along ``sign * e_e``:
        1 to a velocity point, and where ``wall`` (the neighbour is dropped) 1/2 across the
        flow, 1 along it."""
        return np.where(wall, 0.5, 1.0) if e != d else np.ones(wall.shape)


class InterfaceWalls:
    """No-slip at the linearly interpolated interface ``f = 0`` of a level-set field.

    Parameters
    ----------
    field : (M, N[, P]) float ndarray
        ``f`` at the voxel centres, pore where ``f < 0`` (`microinv.checks.check_field`).
    """

    geometry = "levelset"
    discretisation = "MAC, Shortley-Weller walls at the interpolated interface f = 0"

    def __init__(self, field: np.ndarray):
        self.field = field
        self.shape = field.shape

    def face_field(self, d: int) -> np.ndarray:
        """``f_d(i) = (f(i - e_d) + f(i)) / 2`` on every voxel (computed when asked, not
        kept: three of them would outlive the assembly)."""
        return 0.5 * (self.field + np.roll(self.field, 1, axis=d).astype(np.float64))

    def flowing(self, axis: int) -> Region | None:
        """Cells and fluid faces of the clusters that wrap along ``axis`` (None if none).

        Dead ends are pruned first (`prune_dead_ends`). The cell graph is then laid out on
        a grid of twice the size: cell ``i`` at ``2 i``, the face between cells ``i`` and
        ``i + e_d`` at ``2 i + e_d``; two cells are face-connected there exactly when the
        face between them carries velocity, so the voxel clusters of that grid
        (`wrapping_mask`, `periodic_labels`) are the clusters of the cell graph.
        """
        dim = self.field.ndim
        faces = prune_dead_ends([self.face_field(d) < 0 for d in range(dim)])
        fine = np.zeros(tuple(2 * n for n in self.field.shape), dtype=bool)
        cells = (slice(0, None, 2),) * dim
        links = [tuple(slice(1, None, 2) if a == d else slice(0, None, 2) for a in range(dim))
                 for d in range(dim)]
        for d, face in enumerate(faces):
            fine[links[d]] = np.roll(face, -1, axis=d)     # face of voxel i + e_d
        fine[cells] = face_count(faces) > 0
        fine = wrapping_mask(fine, axis)
        if not fine.any():
            return None
        faces = [np.roll(fine[links[d]], 1, axis=d) for d in range(dim)]
        labels = periodic_labels(fine)[0][cells].ravel()
        clusters, first = np.unique(labels, return_index=True)
        return Region(fine[cells], faces, first[clusters > 0])

    def spacing(self, grid, d: int, e: int, sign: int, wall: np.ndarray) -> np.ndarray:
        """Distance from the owned faces ``u_d`` to their neighbour along ``sign * e_e``:
        1 to a velocity point, and where ``wall`` (the neighbour is dropped) the distance
        ``max(f_0 / (f_0 - f_1), H_MIN)`` to the interface, or 1 to a pruned dead end
        (``f_1 < 0``: zero velocity, the face itself)."""
        block = grid.window(self.face_field(d), 1)
        here = shifted(block, (0,) * grid.dim, 1)
        there = shifted(block, unit(grid.dim, e, sign), 1)
        cut = wall & (here < 0) & (there >= 0)   # rows only: the others are never used
        jump = np.where(cut, here - there, -1.0)
        return np.where(cut, np.maximum(here / jump, H_MIN), 1.0)
