"""Bad input and bad disks meet one line naming the file, a non-zero exit and no output.

Real chunks of a tiny campaign (``microinv sample`` + ``generate``), real byte flips in a
structure's compressed data, real ``mpiexec -n 2 microinv solve``, a real full file system
(a small tmpfs, mounted where this runs as root) and a real file-size limit (RLIMIT_FSIZE).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess

import h5py
import numpy as np
import pytest
import yaml

from conftest import BIN, TINY_CONFIG, run_cli
from microinv import config as campaign_config
from microinv.mpi_env import launcher_environment


@pytest.fixture(scope="module")
def chunk(tmp_path_factory):
    """A config and the structures and properties chunks of its first two samples."""
    folder = tmp_path_factory.mktemp("chunk")
    cfg = folder / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY_CONFIG))
    run_cli("sample", "--config", cfg, "--chunk", 0, "-o", folder / "samples.json", check=True)
    run_cli("generate", folder / "samples.json", "--config", cfg, "-o", folder / "structures.h5", check=True)
    solve(folder / "structures.h5", "--config", cfg, "-o", folder / "diffusivity.h5", check=True)
    return folder


def solve(structures, *args, check=False):
    """``mpiexec -n 2 microinv solve diffusivity structures ...``: the CompletedProcess."""
    proc = subprocess.run(["mpiexec", "-n", "2", str(BIN / "microinv"), "solve", "diffusivity", str(structures),
                           *map(str, args)], capture_output=True, text=True, timeout=120,
                          env=launcher_environment())
    assert not check or proc.returncode == 0, proc.stderr
    return proc


def one_error_line(proc) -> str:
    """The single ``microinv:`` line of a failed command (no traceback, no second rank's copy)."""
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("microinv")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def flip_bytes(path, row):
    """Flip 16 bytes in the middle of the stored (compressed) data of structure ``row``."""
    with h5py.File(path, "r") as fh:
        info = fh["structures"].id.get_chunk_info_by_coord((row, 0, 0, 0))
    data = bytearray(path.read_bytes())
    for k in range(16):
        data[info.byte_offset + info.size // 2 + k] ^= 0xFF
    path.write_bytes(bytes(data))


def test_corrupt_structure_is_one_line_from_solve_and_show_before_any_solve(chunk, tmp_path):
    bad = tmp_path / "structures.h5"
    bad.write_bytes((chunk / "structures.h5").read_bytes())
    flip_bytes(bad, 1)
    proc = solve(bad, "--config", chunk / "tiny.yaml", "-o", tmp_path / "p.h5")
    line = one_error_line(proc)
    assert proc.returncode == 2 and f"{bad}: structures[1] (sample 1): unreadable" in line
    assert "[1/2] sample 0" not in proc.stderr  # the chunk is checked before sample 0 is solved
    assert not (tmp_path / "p.h5").exists()
    proc = run_cli("show", bad, "--rows", 0, 1, "-o", tmp_path / "slices.png")
    assert proc.returncode == 2 and "structures[1] (sample 1): unreadable" in one_error_line(proc)
    assert not (tmp_path / "slices.png").exists()


def test_float32_structures_are_refused(chunk, tmp_path):
    floats = tmp_path / "float32.h5"
    with h5py.File(chunk / "structures.h5", "r") as src, h5py.File(floats, "w") as out:
        for name in src:
            if name != "structures":
                src.copy(name, out)
        out["structures"] = src["structures"][()].astype(np.float32)
    proc = solve(floats, "--config", chunk / "tiny.yaml", "-o", tmp_path / "p.h5")
    assert proc.returncode == 2
    assert f"{floats}: structures: dtype float32, expected uint8" in one_error_line(proc)
    assert not (tmp_path / "p.h5").exists()


def test_unwritable_output_fails_before_solving(chunk, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    proc = solve(chunk / "structures.h5", "--config", chunk / "tiny.yaml", "-o", blocker / "p.h5")
    assert proc.returncode == 2 and f"{blocker / 'p.h5'}: cannot write output" in one_error_line(proc)
    assert "[1/2] sample 0" not in proc.stderr


def test_solve_defaults_and_checks_come_from_the_schema(chunk, tmp_path):
    proc = solve(chunk / "structures.h5", "-o", tmp_path / "p.h5", check=True)  # no --config
    with h5py.File(tmp_path / "p.h5", "r") as fh:
        settings = json.loads(fh.attrs["solver_settings"])
    defaults = campaign_config.resolve({})["solve"]
    assert settings["rtol"] == defaults["rtol"]
    assert (settings["bc"], settings["sides"]) == (defaults["diffusivity"]["bc"], defaults["diffusivity"]["sides"])
    proc = solve(chunk / "structures.h5", "--rtol", 0, "-o", tmp_path / "q.h5")
    assert proc.returncode == 2 and "solve.rtol: 0" in one_error_line(proc)
    assert not (tmp_path / "q.h5").exists()


@pytest.fixture
def full_disk(tmp_path):
    """A mount point of a tmpfs of ``size`` kB (a factory); unmounted afterwards."""
    mounted = []

    def mount(size_kb):
        point = tmp_path / f"tmpfs-{size_kb}k"
        point.mkdir()
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(point)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", str(point)], check=True)


def aggregate(chunk, output, **popen):
    return subprocess.run([str(BIN / "microinv"), "aggregate", "--config", str(chunk / "tiny.yaml"),
                           "--structures", str(chunk / "structures.h5"), "--property", "diffusivity",
                           str(chunk / "diffusivity.h5"), "-o", str(output)],
                          capture_output=True, text=True, timeout=120, env=launcher_environment(), **popen)


def test_aggregate_onto_a_full_disk(chunk, full_disk):
    disk = full_disk(16)  # less than the chunks the dataset copies
    proc = aggregate(chunk, disk / "dataset.h5")
    assert proc.returncode == 2
    assert f"{disk / 'dataset.h5'}: needs about" in one_error_line(proc)
    assert os.listdir(disk) == []


def test_aggregate_past_a_file_size_limit(chunk, tmp_path):
    limit = 8000  # bytes; the dataset is larger, so a write fails with EFBIG half-way

    def limited():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = aggregate(chunk, tmp_path / "dataset.h5", preexec_fn=limited)
    assert proc.returncode == 2
    assert f"{tmp_path / 'dataset.h5'}: cannot write output (File too large)" in one_error_line(proc)
    assert [p.name for p in tmp_path.iterdir()] == []


def test_solve_onto_a_full_disk_stops_every_rank(chunk, full_disk):
    disk = full_disk(8)  # room to start the output, none to finish it
    proc = solve(chunk / "structures.h5", "--config", chunk / "tiny.yaml", "-o", disk / "p.h5")
    assert proc.returncode == 2  # and no rank waits for rank 0 forever (timeout)
    assert f"{disk / 'p.h5'}: cannot write output (No space left on device)" in one_error_line(proc)
    assert os.listdir(disk) == []
