"""A lattice-Boltzmann permeability peer for the tests and benchmarks (lbmpy, from PyPI).

Not part of microinv: it solves the same problem as `microinv.physics.stokes.permeability`
with an independent method and code, so the two can be compared.

Model
-----
D3Q19 two-relaxation-time (TRT) lattice Boltzmann, incompressible equilibrium, in a box
periodic along every axis, driven by a uniform body force g along ``axis`` with Guo's
forcing (lbmpy's ``ForceModel.GUO``, generalised to TRT). The even
rate is omega = 1 / tau, kinematic viscosity nu = (tau - 1/2) / 3 (lattice units: voxel,
time step); the odd rate follows from the magic parameter

    Lambda = (1 / omega_+ - 1/2) (1 / omega_- - 1/2) = 3/16,

for which halfway bounce-back puts the wall exactly midway between a fluid and a solid
node whatever the viscosity (Poiseuille flow is then exact), and the steady state of the
Stokes problem depends on Lambda alone, so k does not depend on tau
(Ginzburg & d'Humieres 2003; Ginzburg, Verhaeghe & d'Humieres 2008). tau only sets how
fast the run reaches steady state (the Darcy relaxation time ~ k / nu).

Nodes sit at the voxel centres; solid voxels are wall nodes. Two walls:

* ``field=None``: halfway bounce-back (lbmpy ``NoSlip``): on the axis links the wall is
  the voxel face, the staircase that microinv's voxel mode resolves; on the diagonal links
  it sits halfway along the diagonal, which cuts the staircase's corners (so the LBM is
  the more permeable at finite resolution; the two converge together, first order).
* ``field=f`` (pore where f < 0, solid where f >= 0): Bouzidi, Firdaouss & Lallemand's
  (2001) linearly interpolated bounce-back (lbmpy ``NoSlipLinearBouzidi``), the wall on
  each fluid-solid link at q = f_fluid / (f_fluid - f_solid) of the link from the fluid
  node, the linear interpolation of f along the link (microinv's levelset mode
  interpolates f the same way along the grid axes). A link with q < 1/2 whose second
  fluid node (x_f - c_i) is solid falls back to halfway bounce-back. Unlike bounce-back,
  this scheme's steady state depends on tau (see `INTERPOLATED_TAU`).

Permeability
------------
With incompressible pdfs the node velocity is u = sum_i f_i c_i + g / 2 (Guo); the
stored pdfs of a stream-collide step are post-collision, whose first moment is the
pre-collision one plus g, so u = sum_i f*_i c_i - g / 2. Solid nodes count as u = 0, so
<u> is the mean over the whole box, as in microinv, and

    k = nu <u_axis> / g          (voxel units; rho_0 = 1, so the force density is g).

On a slit of gap h and period L the nodes carry the exact parabola, whose node mean gives
k = h (h^2 + 1/2) / (12 L) (the midpoint rule), not microinv's flux h^3 / (12 L).

Steady state: every ``check_every`` steps <u_axis> is compared with its previous value,
and the run stops when the relative change is below ``tol``. The flow approaches steady
state exponentially with a time T ~ k / nu (steps), so the error left is about
``tol * T / check_every``.

References
----------
M. Bouzidi, M. Firdaouss and P. Lallemand, Phys. Fluids 13, 3452 (2001);
I. Ginzburg and D. d'Humieres, Phys. Rev. E 68, 066614 (2003);
Z. Guo, C. Zheng and B. Shi, Phys. Rev. E 65, 046308 (2002);
I. Ginzburg, F. Verhaeghe and D. d'Humieres, Commun. Comput. Phys. 3, 427 (2008);
M. Bauer et al., lbmpy, Comput. Math. Appl. 81, 208 (2021).
"""

from __future__ import annotations

import functools
import time
import warnings
from dataclasses import dataclass

import numpy as np
import sympy as sp

from lbmpy import ForceModel, LBMConfig, LBStencil, Method, Stencil, create_lb_function
from lbmpy.boundaries import NoSlip, NoSlipLinearBouzidi
from lbmpy.boundaries.boundaryhandling import LatticeBoltzmannBoundaryHandling
from pystencils import create_data_handling

#: Symbols the kernels take at run time, so that one compiled kernel serves every
#: relaxation time, force direction and grid size.
OMEGA = sp.Symbol("omega")
FORCE = sp.symbols("F_:3")
SRC, DST = "pdfs", "pdfs_tmp"


@dataclass(frozen=True)
class LbmResult:
    """``k`` in voxel units; ``steps`` time steps to the stopping rule, ``seconds`` of wall
    time (set-up and the boundary kernel included, the stream-collide kernel's one-time
    generation excluded), ``max_speed`` the
    largest node speed (lattice units; Mach number ``max_speed * sqrt(3)``)."""

    k: float
    steps: int
    seconds: float
    max_speed: float
    converged: bool


@functools.lru_cache(maxsize=None)
def _stream_collide():
    """The fused pull stream-collide kernel (TRT, magic 3/16, Guo), generated and compiled
    once per process (pystencils also keeps the compiled module on disk)."""
    config = LBMConfig(stencil=LBStencil(Stencil.D3Q19), method=Method.TRT, relaxation_rate=OMEGA,
                       force_model=ForceModel.GUO, force=FORCE, compressible=False,
                       field_name=SRC, temporary_field_name=DST)
    return create_lb_function(lbm_config=config)


def _wall_distances(field: np.ndarray, solid: np.ndarray):
    """lbmpy callback: q of every fluid-solid link from the field, linear along the link."""

    def init(boundary_data, **_):
        # the index array counts cells from the first ghost layer
        cells = boundary_data.index_array
        fluid = tuple((cells["xyz"[a]] - boundary_data.ghost_layers) % solid.shape[a]
                      for a in range(3))
        offsets = boundary_data.link_offsets()
        wall = tuple((fluid[a] + offsets[:, a]) % solid.shape[a] for a in range(3))
        behind = tuple((fluid[a] - offsets[:, a]) % solid.shape[a] for a in range(3))
        f_fluid, f_wall = field[fluid].astype(float), field[wall].astype(float)
        q = f_fluid / (f_fluid - f_wall)
        boundary_data["q"] = np.where(solid[behind] & (q < 0.5), 0.5, q)  # no second fluid node

    return init


#: Relaxation times: with halfway bounce-back k does not depend on tau (measured: at most
#: 3e-7 relative, the stopping level, from tau = 1 to 3), so a large one reaches steady
#: state fastest (the Darcy time k / nu); Bouzidi's interpolation makes k depend on tau
#: (measured on off-face slits: -0.4 ... +1.1 % from tau = 0.8 to 1.5), so it runs at
#: the customary tau = 1 (nu = 1/6).
BOUNCE_BACK_TAU = 3.0
INTERPOLATED_TAU = 1.0


def lbm_permeability(solid, axis: int, *, field=None, tau: float | None = None,
                     force: float = 1e-6, tol: float = 1e-6, check_every: int = 100,
                     max_steps: int = 200_000) -> LbmResult:
    """Permeability of the pore phase of a periodic voxel structure along ``axis``.

    Parameters
    ----------
    solid : (M, N, P) array_like
        1 = solid, 0 = pore, periodic along every axis.
    axis : int
        Direction of the body force and of k.
    field : (M, N, P) float ndarray, optional
        Level-set field with ``solid == (field >= 0)``: interpolated bounce-back at f = 0
        instead of halfway bounce-back on the voxel faces.
    tau : float, optional
        Even relaxation time (nu = (tau - 1/2) / 3); default `BOUNCE_BACK_TAU` without a
        field, `INTERPOLATED_TAU` with one.
    force : float
        Body-force acceleration g in lattice units (keep the flow in the Stokes regime).
    tol : float
        Stop when <u_axis> changes by less than ``tol`` (relative) over ``check_every`` steps.
    max_steps : int
        Give up (``converged=False``) after this many steps.
    """
    solid = np.asarray(solid).astype(bool)
    if solid.ndim != 3:
        raise ValueError(f"lbm_permeability: a 3D structure is needed, not shape {solid.shape}")
    if field is not None:
        field = np.asarray(field)
        if field.shape != solid.shape or not np.array_equal(field >= 0, solid):
            raise ValueError("lbm_permeability: field must have solid == (field >= 0)")
    if tau is None:
        tau = BOUNCE_BACK_TAU if field is None else INTERPOLATED_TAU
    kernel = _stream_collide()
    start = time.perf_counter()
    handling = create_data_handling(solid.shape, periodicity=True, default_ghost_layers=1)
    handling.add_array(SRC, values_per_cell=len(kernel.method.stencil))
    handling.add_array(DST, values_per_cell=len(kernel.method.stencil))
    handling.fill(SRC, 0.0, ghost_layers=True)  # zero-centred pdfs: rho = 1, u = 0
    handling.fill(DST, 0.0, ghost_layers=True)
    synchronise = handling.synchronization_function([SRC], kernel.method.stencil.name)
    boundaries = LatticeBoltzmannBoundaryHandling(kernel.method, handling, SRC, name="walls")
    wall = NoSlip() if field is None else NoSlipLinearBouzidi(
        init_wall_distance=_wall_distances(field, solid))

    def wall_nodes(*centres):  # cell centres, ghost layers included: the periodic image
        return solid[tuple(np.floor(c).astype(int) % n for c, n in zip(centres, solid.shape))]

    with warnings.catch_warnings():  # lbmpy 2.0 still sets pystencils' deprecated cpu_openmp
        warnings.filterwarnings("ignore", message=".*cpu_openmp", category=Warning)
        boundaries.set_boundary(wall, mask_callback=wall_nodes)
        boundaries.prepare()
    params = {"omega": 1.0 / tau, **{f"F_{a}": (force if a == axis else 0.0) for a in range(3)}}
    directions = np.array(kernel.method.stencil, dtype=float)

    def velocity():
        pdfs = handling.gather_array(SRC)
        u = pdfs @ directions
        u[..., axis] -= force / 2
        u[solid] = 0.0
        return u

    steps, previous, converged = 0, None, False
    while steps < max_steps:
        for _ in range(check_every):
            synchronise()
            boundaries(**params)
            handling.run_kernel(kernel, **params)
            handling.swap(SRC, DST)
        steps += check_every
        mean = velocity()[..., axis].mean()
        if previous is not None and abs(mean - previous) < tol * abs(mean):
            converged = True
            break
        previous = mean
    u = velocity()
    nu = (tau - 0.5) / 3
    return LbmResult(k=float(nu * mean / force), steps=steps, seconds=time.perf_counter() - start,
                     max_speed=float(np.sqrt((u**2).sum(axis=-1)).max()), converged=converged)
