"""The discrete conduction problem of `microinv.physics.diffusion`, and its coefficients
on one rank's block of the grid.

`ConductionProblem` decides, on the whole (replicated) grid, which voxels conduct and which
have a fixed value; `BlockCoefficients` turns that into face conductances, the sink to
fixed cells, right-hand sides and initial guesses on the block a rank owns, the finest
level of `microinv.physics.multigrid`.
"""

from __future__ import annotations

import itertools

import numpy as np

from microinv.microstructure.percolation import boundary_mask, spanning_mask, wrapping_mask
from microinv.physics import cutcell, multigrid
from microinv.physics.toolkit import pinned_voxels

#: Boundary conditions on the whole outer boundary of the box (see `BlockCoefficients.rhs`).
BOX_BCS = ("affine", "flux")


class ConductionProblem:
    """The conduction problem on the whole grid (replicated on every rank).

    Parameters
    ----------
    solid : (M, N[, P]) uint8 ndarray
        1 = solid, 0 = pore.
    bc, sides, solid_conductivity
        As for `microinv.physics.diffusion.effective_diffusivity`.
    axes : tuple of int
        Gradient directions to be solved for: one for fixed ends (the first), every one
        for a periodic tensor (then the voxels of clusters wrapping along any of them
        conduct).
    field : (M, N[, P]) float ndarray, optional
        Levelset mode: the checked field f of the structure (`microinv.checks.check_field`);
        conductances come from the face apertures of f = 0 (`microinv.physics.cutcell`), and
        cells joined through open faces (aperture > 0) form the clusters.

    Attributes
    ----------
    active : bool ndarray
        Voxels that conduct: all with a conducting solid, else the pore voxels of the
        spanning (fixed ends) or wrapping (periodic) clusters.
    fixed : bool ndarray
        Active voxels of fixed value: the first and last slice (fixed ends), or one pinned
        voxel per periodic cluster (u = 0 there, which removes the constant null space),
        or per cluster of the box (uniform flux); none for affine BC.
    cut : list of bool
        Per axis, whether the faces across the grid boundary are cut (fixed ends along the
        axis, no-flux sides, affine and uniform-flux BC on every axis).
    empty : bool
        Nothing conducts: the pore phase does not percolate.
    conducts : list of bool
        Per axis, whether some cluster wraps along it (periodic, insulating solid), or
        whether a uniform normal flux along it is admissible (flux BC, insulating solid:
        no solid voxel on the two faces normal to it).
    apertures : list of ndarray or None
        Levelset mode: the face apertures A_a (`microinv.physics.cutcell.face_apertures`).
    porosity : float
        Pore volume fraction: of the voxels, or in levelset mode the mean cell pore
        fraction (`microinv.physics.cutcell.cell_pore_fractions`).

    With affine or uniform-flux BC and an insulating solid the active voxels are the pore
    clusters that touch the outer boundary (`boundary_mask`); a cluster cut off from it
    floats at a constant value and carries no energy under either BC, exactly.
    """

    def __init__(self, solid, *, bc, sides, axes, solid_conductivity, field=None):
        self.solid = solid
        self.shape = solid.shape
        self.bc = bc
        self.axis = axes[0]
        self.solid_conductivity = float(solid_conductivity)
        dim = solid.ndim
        pore = solid == 0
        self.conducts = [True] * dim
        self.apertures = None if field is None else cutcell.face_apertures(field)
        self.field = field
        self.porosity = float(1.0 - solid.mean()) if field is None else cutcell.porosity(self.apertures)
        cut = [bc == "fixed" and (a == self.axis or sides == "noflux") for a in range(dim)]
        if self.solid_conductivity > 0:
            active = np.ones(self.shape, dtype=bool)
        elif field is not None:
            active = self._levelset_clusters(bc, axes, cut)
        elif bc == "fixed":
            active = spanning_mask(pore, self.axis, periodic_sides=sides == "periodic")
        elif bc in BOX_BCS:
            active = boundary_mask(pore)
            if bc == "flux":
                self.conducts = [bool(pore[_box_faces(dim, a)].all()) for a in range(dim)]
        else:
            active = np.zeros(self.shape, dtype=bool)
            for a in axes:
                wrapping = wrapping_mask(pore, a)
                self.conducts[a] = bool(wrapping.any())
                active |= wrapping
        self.active = active
        self.empty = not active.any()
        fixed = np.zeros(self.shape, dtype=bool)
        if bc == "fixed":
            self.cut = cut
            for end in (0, -1):
                multigrid.along(fixed, self.axis, end)[...] = multigrid.along(active, self.axis, end)
        elif bc in BOX_BCS:
            self.cut = [True] * dim
            if bc == "flux":
                fixed.flat[pinned_voxels(active, axes=())] = True
        else:
            self.cut = cut
            pinned = pinned_voxels(active) if field is None or self.solid_conductivity > 0 else self._pinned
            fixed.flat[pinned] = True
        self.fixed = fixed

    def _levelset_clusters(self, bc, axes, cut) -> np.ndarray:
        """Cells of the clusters joined through open faces that span (fixed ends; periodic
        sides are those not ``cut``) or wrap (periodic) along the axes; keeps the first cell
        of each for pinning."""
        graph = cutcell.OpenFaceGraph(self.apertures, cut)
        if bc == "fixed":
            return graph.spanning(self.axis)
        doubled = np.zeros_like(graph.doubled)
        for a in axes:
            wrapping = graph.wrapping(a)
            self.conducts[a] = bool(wrapping.any())
            doubled |= wrapping
        self._pinned = graph.pinned_cells(doubled)
        return graph.cells(doubled)


def _box_faces(dim: int, axis: int) -> tuple:
    """Index of the first and last slice along ``axis`` (the cells on the two faces
    normal to it) in an array of ``dim`` axes."""
    return tuple([0, -1] if a == axis else slice(None) for a in range(dim))


class BlockCoefficients:
    """The problem's coefficients on one rank's block, from the replicated grid.

    The set-up reads the voxels of the block with a one-voxel halo (indices 0..m+1 along
    each axis, halo cell 0 being the periodic image or the neighbouring rank's voxel below
    the block), so no communication is needed.

    Attributes
    ----------
    unknown : (block) bool ndarray
        Active voxels without a fixed value: the unknowns.
    faces : list of ndarray
        Per axis a, the conductance K_a of every face of the block along a (harmonic mean
        of the two voxels; bool with an insulating solid, where it is 0 or 1): the block's
        shape with one more entry along a, entry i being the face below owned voxel i.
        Levelset mode with fixed ends keeps none (the right-hand side reads no faces; the
        unknown-unknown ones go to `level`).
    inlet_coupling : (block) ndarray
        Conductance to inlet voxels (c = 1, fixed ends).
    box_sigma : (block) ndarray
        Affine and uniform-flux BC: sigma_p of the owned cells (1 in active pore, 0
        elsewhere, with an insulating solid); the half cell between a boundary cell's
        centre and its face on the outer boundary has conductance 2 sigma_p.
    box_ends : list of (ndarray, ndarray)
        Affine and uniform-flux BC: per axis, the owned cells on the first and on the last
        slice (bool, broadcastable to the block).
    """

    def __init__(self, problem: ConductionProblem, grid: multigrid.Grid):
        self.problem = problem
        self.grid = grid
        shape = problem.shape
        self.dim = dim = len(shape)
        block = grid.block
        self.block = block
        coords = [np.arange(s.start - 1, s.stop + 1) % n for s, n in zip(block, shape)]
        halo = np.ix_(*coords)
        active = problem.active[halo]
        fixed = problem.fixed[halo]
        unknown = active & ~fixed
        self.unknown = unknown[(slice(1, -1),) * dim]
        if problem.solid_conductivity > 0:
            sigma = np.where(problem.solid[halo] == 1, problem.solid_conductivity, 1.0)
        self.faces, self.coupled = [], []  # conductances of all faces / of unknown-unknown faces
        # With an insulating solid conductances are 0 or 1 (bool) and these are counts.
        dtype = float if problem.solid_conductivity > 0 or problem.apertures is not None else np.uint8
        self.sink = np.zeros(self.unknown.shape, dtype=dtype)
        self.inlet_coupling = np.zeros(self.unknown.shape, dtype=dtype)
        inlet = None
        if problem.bc == "fixed":
            first = (coords[problem.axis] == 0).reshape([-1 if a == problem.axis else 1 for a in range(dim)])
            inlet = fixed & first
        near = self._next_to_fixed(fixed) if problem.apertures is not None else None
        for a in range(dim):
            lo, hi = self._faces_of(a, slice(0, -1)), self._faces_of(a, slice(1, None))
            if problem.apertures is not None:  # faces of the conducting clusters only
                self._add_levelset_faces(a, coords, lo, hi, active, unknown, fixed, inlet, near)
                continue
            if problem.solid_conductivity > 0:
                k = 2 * sigma[lo] * sigma[hi] / (sigma[lo] + sigma[hi])
            else:
                k = active[lo] & active[hi]
            if problem.cut[a]:
                wrap = (coords[a][:-1] == shape[a] - 1).reshape([-1 if b == a else 1 for b in range(dim)])
                k = k * ~wrap
            self.faces.append(k)
            self.coupled.append(k * (unknown[lo] & unknown[hi]))
            below, above = multigrid.along(k, a, slice(0, -1)), multigrid.along(k, a, slice(1, None))
            self.sink += below * fixed[self._cells(a, -1)] + above * fixed[self._cells(a, +1)]
            if inlet is not None:
                self.inlet_coupling += below * inlet[self._cells(a, -1)] + above * inlet[self._cells(a, +1)]
        if problem.bc in BOX_BCS:
            owned = (slice(1, -1),) * dim
            self.box_sigma = (sigma if problem.solid_conductivity > 0 else active.astype(float))[owned]
            self.box_ends = []
            for a in range(dim):
                index = coords[a][1:-1].reshape([-1 if b == a else 1 for b in range(dim)])
                self.box_ends.append((index == 0, index == shape[a] - 1))
            if problem.bc == "affine":  # Dirichlet u = 0 on the box's faces, half a cell away
                self.sink = self.sink + 2 * self.box_sigma * sum(lo + hi for lo, hi in self.box_ends)

    def _faces_of(self, a, cells):
        """Index of the halo array giving the lower (0:-1) or upper (1:) cell of each face."""
        key = [slice(1, -1)] * self.dim
        key[a] = cells
        return tuple(key)

    def _add_levelset_faces(self, a, coords, lo, hi, active, unknown, fixed, inlet, near) -> None:
        """Levelset mode: the float conductances K_a of the faces along ``a``
        (`_levelset_conductance`), zeroed across a cut grid boundary, and their part of the
        sink and the inlet coupling, summed only over the cells ``near`` a fixed one (the
        others add zeros). K >= 0, so K * 0 = 0 and K * 1 = K: the masks are applied in
        place, and with fixed ends, whose right-hand side reads no faces, the
        unknown-unknown couplings are K itself, masked in place."""
        problem, dim = self.problem, self.dim
        k = _levelset_conductance(problem, a, coords, lo, hi)
        if problem.solid_conductivity == 0:
            k *= active[lo] & active[hi]
        if problem.cut[a]:
            k[_key(dim, a, np.flatnonzero(coords[a][:-1] == problem.shape[a] - 1))] = 0.0
        below, above = multigrid.along(k, a, slice(0, -1)), multigrid.along(k, a, slice(1, None))
        down, up = fixed[self._cells(a, -1)][near], fixed[self._cells(a, +1)][near]
        self.sink[near] += below[near] * down + above[near] * up
        if inlet is not None:
            down, up = inlet[self._cells(a, -1)][near], inlet[self._cells(a, +1)][near]
            self.inlet_coupling[near] += below[near] * down + above[near] * up
        if problem.bc == "fixed":
            k *= unknown[lo] & unknown[hi]
            self.coupled.append(k)
        else:
            self.faces.append(k)
            self.coupled.append(k * (unknown[lo] & unknown[hi]))

    def _next_to_fixed(self, fixed) -> tuple:
        """Index (``np.nonzero``) of the owned cells with a fixed neighbour along some axis."""
        near = np.zeros(self.unknown.shape, dtype=bool)
        for a in range(self.dim):
            near |= fixed[self._cells(a, -1)]
            near |= fixed[self._cells(a, +1)]
        return np.nonzero(near)

    def _cells(self, a, step):
        """Index of the halo array giving the neighbour at ``step`` along a of each owned cell."""
        key = [slice(1, -1)] * self.dim
        key[a] = slice(1 + step, (-1 + step) or None)
        return tuple(key)

    def level(self) -> multigrid.Level:
        """The finest multigrid level: unknown-unknown conductances and the sink to fixed
        cells (handed over: this block keeps only what the right-hand sides need)."""
        sink = np.multiply(self.sink, self.unknown, out=self.sink)  # in place: d >= 0, d * 0 = 0
        level = multigrid.Level(grid=self.grid, faces=self.coupled, sink=sink, unknown=self.unknown)
        del self.coupled, self.sink
        return level

    def rhs(self, axis: int) -> tuple[np.ndarray, np.ndarray, float]:
        """Right-hand side and initial guess (on the unknowns, in row order) and a(c_0, c_0)
        on this block.

        c_0 is the field that vanishes on the unknowns. Fixed ends: b = conductance to the
        inlet cells (c = 1); initial guess the linear profile, exact for straight channels.
        Periodic: b = K(p - 1/2) - K(p + 1/2) along the axis, the divergence of the unit
        macroscopic flux; initial guess u = 0.

        Affine (c = -x_axis + u, u = 0 on the faces of the box, x measured from the first
        face): as periodic with the faces across the grid boundary cut, plus the half cells
        to the box's faces (conductance 2 sigma_p, drop 1/2 along the axis): b gains
        +sigma_p on the first slice and -sigma_p on the last, a(c_0, c_0) gains
        sigma_p / 2 per boundary cell of both. Uniform flux (unit flux along the axis in
        through the first face, out through the last, none through the others): b = +1 on
        the first slice, -1 on the last (active cells), the unknown is c itself, c_0 = 0.
        """
        if self.problem.bc == "flux":
            lo, hi = self.box_ends[axis]
            b = np.broadcast_to((lo * 1.0 - hi) * (self.box_sigma > 0), self.unknown.shape)[self.unknown]
            return b, np.zeros(b.size), 0.0
        if self.problem.bc == "fixed":
            b = self.inlet_coupling[self.unknown].astype(float)
            n = self.problem.shape[axis]
            start = self.block[axis].start
            profile = 1.0 - (start + np.arange(self.unknown.shape[axis])) / (n - 1)
            profile = profile.reshape([-1 if a == axis else 1 for a in range(self.dim)])
            guess = np.broadcast_to(profile, self.unknown.shape)[self.unknown]
            return b, guess, float(b.sum())
        k = self.faces[axis]
        below, above = multigrid.along(k, axis, slice(0, -1)), multigrid.along(k, axis, slice(1, None))
        b = below[self.unknown].astype(float) - above[self.unknown]
        energy0 = float(np.count_nonzero(above) if above.dtype == bool else above.sum())
        if self.problem.bc == "affine":
            lo, hi = self.box_ends[axis]
            b += np.broadcast_to(self.box_sigma * (lo * 1.0 - hi), self.unknown.shape)[self.unknown]
            energy0 += float((self.box_sigma * (lo * 1.0 + hi)).sum()) / 2
        return b, np.zeros(b.size), energy0

    def box_compliance(self, axis: int) -> float:
        """Uniform flux: the complementary energy of the unit flux in the half cells next to
        the two faces normal to ``axis``, sum of 1 / (2 sigma_p) over them, on this block."""
        lo, hi = self.box_ends[axis]
        sigma = self.box_sigma
        resistance = np.divide(1.0, 2 * sigma, out=np.zeros_like(sigma), where=sigma > 0)
        return float((resistance * (lo * 1.0 + hi)).sum())


def _levelset_conductance(problem: ConductionProblem, a: int, coords, lo, hi) -> np.ndarray:
    """Levelset-mode conductance of the faces along ``a`` below the owned cells, from the
    apertures A of f = 0 (``coords``: the halo block's cells per axis; ``lo``/``hi``: the
    halo-block cells below and above each face).

    Every face conducts with its open area and, with a conducting solid, with the rest:
    K = A + (1 - A) sigma_s (K = A for an insulating solid, the cut-cell flux of a
    no-flux interface). With a solid more conducting than the pore (sigma_s > 1), a link
    whose cell centres lie in different phases instead gets the series conductance along
    it, K = 1 / (theta + (1 - theta) / sigma_s), theta = f_p / (f_p - f_q) the pore
    fraction of the link from its pore end p (linear interpolation): in the limit
    sigma_s -> infinity the solid is at one potential and this is the second-order
    Shortley-Weller treatment of that fixed-value interface, as the aperture rule is of the
    no-flux one for sigma_s -> 0 (measured on sphere arrays: benchmarks/RESULTS.md).
    """
    below = [c[:-1] if b == a else c[1:-1] for b, c in enumerate(coords)]  # the face's lower cell
    aperture = _block_of(problem.apertures[a], below)
    sigma_s = problem.solid_conductivity
    if sigma_s == 0:
        return aperture
    parallel = aperture + (1.0 - aperture) * sigma_s
    if sigma_s <= 1:
        return parallel
    f = _block_of(problem.field, coords).astype(float)
    f_lo, f_hi = f[lo], f[hi]
    crossing = (f_lo < 0) != (f_hi < 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.where(f_lo < 0, f_lo / (f_lo - f_hi), f_hi / (f_hi - f_lo))
        series = 1.0 / (theta + (1.0 - theta) / sigma_s)
    return np.where(crossing, series, parallel)


def _key(dim: int, axis: int, index) -> tuple:
    """Index of ``index`` along ``axis`` and all of every other axis, for assignment."""
    return tuple(index if b == axis else slice(None) for b in range(dim))


def _block_of(x: np.ndarray, coords) -> np.ndarray:
    """``x[np.ix_(*coords)]`` (a new array) for indices that are, per axis, a few runs of
    consecutive indices (a block with its halo, wrapping around the grid): a copy by
    slices, one per combination of runs."""
    runs = []
    for c in coords:
        breaks = np.flatnonzero(np.diff(c) != 1) + 1
        bounds = [0, *breaks.tolist(), len(c)]
        runs.append([(slice(i, j), slice(int(c[i]), int(c[i]) + j - i)) for i, j in zip(bounds[:-1], bounds[1:])])
    block = np.empty([len(c) for c in coords], dtype=x.dtype)
    for combination in itertools.product(*runs):
        block[tuple(out for out, _ in combination)] = x[tuple(source for _, source in combination)]
    return block
