"""One progress bar (``microinv.progress``) for the long loops: ``generate`` and
``aggregate`` show it on a terminal and keep captured output and job logs free of it."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import termios

import pytest

from conftest import BIN, run_cli
from microinv.mpi_env import launcher_environment
from test_reliability_io import chunk  # noqa: F401  (the fixture: config, samples, structures, diffusivity)


def on_terminal(*args) -> str:
    """Run ``microinv *args`` with stderr on a pseudo-terminal; what the terminal showed."""
    main, side = pty.openpty()
    fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))  # as a terminal window
    proc = subprocess.Popen([str(BIN / "microinv"), *map(str, args)], stdout=subprocess.DEVNULL,
                            stderr=side, env=launcher_environment())
    os.close(side)
    shown = b""
    while True:
        try:
            data = os.read(main, 4096)
        except OSError:  # the terminal closed: the command ended
            break
        if not data:
            break
        shown += data
    os.close(main)
    assert proc.wait(timeout=300) == 0, shown.decode(errors="replace")
    return shown.decode(errors="replace")


@pytest.mark.parametrize("stage", ["generate", "aggregate"])
def test_long_stages_show_progress_on_a_terminal(chunk, tmp_path, stage):
    cfg = chunk / "tiny.yaml"
    args = {"generate": ["generate", chunk / "samples.json", "--config", cfg, "-o", tmp_path / "s.h5"],
            "aggregate": ["aggregate", "--config", cfg, "--structures", chunk / "structures.h5",
                          "--property", "diffusivity", chunk / "diffusivity.h5", "-o", tmp_path / "d.h5"]}[stage]
    assert f"{stage}: 100%" in on_terminal(*args)
    captured = run_cli(*args[:-1], tmp_path / "again.h5", check=True)
    assert "100%" not in captured.stderr
