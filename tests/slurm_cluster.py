"""A real single-node SLURM cluster on this machine, started and stopped by the tests.

Uses Debian's slurm-wlm and munge (installed by envs/setup.sh): a munge key, munged,
then slurmctld and slurmd with a slurm.conf for this host (proctrack/linuxproc,
task/none, select/cons_tres, no accounting). Daemons this module starts are stopped by
their pid files; a munged that was already running is left alone.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from microinv.mpi_env import launcher_environment

MARKER = "# written by microinv's test suite"
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")
SLURM_CONF = MARKER + """
ClusterName=microinv
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=pmix
MinJobAge=3600
ReturnToService=2
SchedulerType=sched/backfill
InactiveLimit=0
KillWait=5
NodeName={host} CPUs={cpus} RealMemory={mem_mb} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pid_alive(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().split()[0])
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError, IndexError):
        return None


class SlurmCluster:
    """Start/stop slurmctld + slurmd; ``env`` holds SLURM_CONF for clients."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.host = socket.gethostname().split(".")[0]
        # Job steps (srun inside sbatch) read the system path, not SLURM_CONF.
        self.conf = SYSTEM_CONF
        self.env = launcher_environment(SLURM_CONF=str(self.conf))
        self._started_munge = False

    @staticmethod
    def available() -> bool:
        return all(shutil.which(t) for t in ("slurmctld", "slurmd", "munged", "sbatch", "squeue"))

    def _start_munge(self):
        key = Path("/etc/munge/munge.key")
        if not key.exists():
            key.parent.mkdir(parents=True, exist_ok=True)
            key.write_bytes(os.urandom(1024))
            key.chmod(0o400)
        for d in ("/run/munge", "/var/log/munge", "/var/lib/munge"):
            Path(d).mkdir(parents=True, exist_ok=True)
        if subprocess.run(["munge", "-n"], capture_output=True).returncode == 0:
            return  # a munged is already running
        subprocess.run(["munged", "--force"], check=True, capture_output=True)
        self._started_munge = True

    def start(self, timeout=60):
        if self.conf.exists() and not self.conf.read_text().startswith(MARKER):
            raise RuntimeError(f"{self.conf} belongs to a real cluster; not overwriting it")
        self.conf.parent.mkdir(parents=True, exist_ok=True)
        for d in ("state", "spool"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        mem_mb = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20 * 0.9)
        self.conf.write_text(SLURM_CONF.format(
            host=self.host, root=self.root, cpus=os.cpu_count(), mem_mb=mem_mb,
            ctld_port=_free_port(), d_port=_free_port()))
        self._start_munge()
        subprocess.run(["slurmctld", "-f", str(self.conf), "-i"], check=True, env=self.env)
        subprocess.run(["slurmd", "-f", str(self.conf)], check=True, env=self.env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, env=self.env)
            if out.returncode == 0 and out.stdout.strip() in ("idle", "mixed"):
                return self
            time.sleep(1)
        self.stop()
        raise RuntimeError(f"SLURM did not come up within {timeout}s; see {self.root}/slurmctld.log")

    def stop(self):
        for name in ("slurmd", "slurmctld"):
            pid = _pid_alive(self.root / f"{name}.pid")
            if pid:
                os.kill(pid, 15)
                for _ in range(50):
                    if not _pid_alive(self.root / f"{name}.pid"):
                        break
                    time.sleep(0.1)
        if self._started_munge:
            subprocess.run(["pkill", "-x", "munged"], capture_output=True)
