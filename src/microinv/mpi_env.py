"""The environment for a child ``mpiexec`` started by a process that may hold MPI itself.

Open MPI's singleton start-up (``MPI_Init`` in a process that ``mpiexec`` did not launch, as
when petsc4py or mpi4py is imported) exports PMIx/ORTE variables (``PMIX_SERVER_URI*``,
``OMPI_MCA_ess=singleton``, ...) into the C environment. A nested ``mpiexec`` that inherits
them takes itself for part of that job and exits 1 without a word. Python's ``os.environ`` is a
snapshot that never sees those C-level additions, so a child started with an explicit copy
of it, less any such variables inherited from outside, launches cleanly.

Open MPI also refuses to start as root unless told; containers and CI run as root.
"""

from __future__ import annotations

import os

#: variables an MPI runtime sets for the processes of one job (never user settings)
RUNTIME_PREFIXES = ("PMIX_", "PRTE_", "ORTE_", "OMPI_COMM_WORLD_", "OMPI_APP_CTX_",
                    "OMPI_MCA_ess", "OMPI_MCA_orte_", "OMPI_MCA_pmix", "OMPI_FIRST_RANKS",
                    "OMPI_FILE_LOCATION", "OMPI_UNIVERSE_SIZE", "OMPI_NUM_APP_CTX")


def root_permission() -> dict[str, str]:
    """The variables that let Open MPI's ``mpiexec`` run as root, when this process is root."""
    if os.geteuid() != 0:
        return {}
    return {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}


def launcher_environment(**extra: str) -> dict[str, str]:
    """``os.environ`` without MPI runtime variables, with :func:`root_permission` unless
    set otherwise, plus ``extra``: the ``env`` to pass to ``subprocess`` for anything that
    may run ``mpiexec``."""
    env = root_permission()
    env.update((key, value) for key, value in os.environ.items() if not key.startswith(RUNTIME_PREFIXES))
    env.update(extra)
    return env
