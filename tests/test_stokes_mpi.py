"""Stokes permeability on 1 and 2 MPI ranks: same answer, on every rank."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from conftest import gathered_rows
from microinv.physics.stokes import permeability_tensor

pytestmark = pytest.mark.mpi

SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import petsc4py
    petsc4py.init(sys.argv)
    from petsc4py import PETSc
    from microinv.microstructure import spinodoid
    from microinv.physics.stokes import permeability, permeability_tensor

    solid = spinodoid((0.5, 0.6, 0.7, 0.6), 24, 11)[:23, :21, :19].copy()
    tensor = permeability_tensor(solid, rtol=1e-10)
    result = permeability(solid, 1, rtol=1e-10)
    row = {"rank": PETSc.COMM_WORLD.getRank(), "tensor": tensor.tolist(), "k": result.k,
           "status": result.status, "ranks": result.settings["ranks"]}
    rows = PETSc.COMM_WORLD.tompi4py().gather(row)
    if rows is not None:
        print(json.dumps(rows), flush=True)
""")


def test_two_ranks_give_the_serial_tensor_on_every_rank(tmp_path):
    from microinv.microstructure import spinodoid

    rows = gathered_rows(SCRIPT, tmp_path, timeout=300)
    assert all(r["ranks"] == 2 and r["status"] == 0 for r in rows)

    solid = spinodoid((0.5, 0.6, 0.7, 0.6), 24, 11)[:23, :21, :19].copy()
    serial = permeability_tensor(solid, rtol=1e-10)
    for row in rows:
        assert np.allclose(row["tensor"], serial, rtol=1e-7, atol=1e-10)
        assert row["k"] == pytest.approx(serial[1, 1], rel=1e-7)
