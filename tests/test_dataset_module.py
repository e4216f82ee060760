"""The dataset format has one home, ``microinv.data.dataset``, that nothing below the commands
reaches past: ``microinv aggregate`` writes it from real chunks, the surrogate reads it."""

from __future__ import annotations

import ast
import json
import subprocess

import h5py
import numpy as np
import pytest
import yaml

from conftest import BIN, ROOT, TINY_CONFIG, run_cli
from microinv.data import provenance
from microinv.data.dataset import PER_SAMPLE, PROPERTY_FIELDS, SPLITS, assemble, split_rows
from microinv.surrogate.labels import read_layout
from microinv.errors import InputError
from microinv.mpi_env import launcher_environment
from microinv.physics.result import CONVERGED

PACKAGE = ROOT / "src" / "microinv"


def test_no_module_below_the_commands_imports_them():
    """Imports run down: the stage commands use the library, never the other way round."""
    upward = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == "commands" or rel.name == "cli.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            upward += [f"{rel}: {n}" for n in names if n.startswith("microinv.commands")]
    assert upward == []


@pytest.fixture(scope="module")
def chunks(tmp_path_factory):
    """Two chunks (samples 0..3) of the tiny campaign: structures and solved diffusivity."""
    folder = tmp_path_factory.mktemp("chunks")
    cfg = folder / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY_CONFIG))
    for c in (0, 1):
        run_cli("sample", "--config", cfg, "--chunk", c, "-o", folder / f"samples-{c}.json", check=True)
        run_cli("generate", folder / f"samples-{c}.json", "--config", cfg, "-o", folder / f"structures-{c}.h5",
                check=True)
        proc = subprocess.run(["mpiexec", "-n", "2", str(BIN / "microinv"), "solve", "diffusivity",
                               str(folder / f"structures-{c}.h5"), "--config", str(cfg),
                               "-o", str(folder / f"diffusivity-{c}.h5")],
                              capture_output=True, text=True, timeout=300, env=launcher_environment())
        assert proc.returncode == 0, proc.stderr
    return folder


def test_aggregate_writes_the_documented_layout(chunks, tmp_path):
    structures = [chunks / f"structures-{c}.h5" for c in (0, 1)]
    properties = [chunks / f"diffusivity-{c}.h5" for c in (0, 1)]
    out = tmp_path / "dataset.h5"
    run_cli("aggregate", "--config", chunks / "tiny.yaml", "--structures", *structures,
            "--property", "diffusivity", *properties, "-o", out, check=True)
    with h5py.File(out, "r") as fh:
        assert fh["structures"].dtype == np.uint8 and fh["structures"].shape == (4, 32, 32, 32)
        assert fh["structures"].chunks == (1, 32, 32, 32) and fh["structures"].compression == "gzip"
        row = 0
        for path, prop in zip(structures, properties):
            with h5py.File(path, "r") as src, h5py.File(prop, "r") as pc:
                for r in range(len(src["sample_index"])):  # stored bytes copied unchanged
                    assert (src["structures"].id.read_direct_chunk((r, 0, 0, 0))
                            == fh["structures"].id.read_direct_chunk((row + r, 0, 0, 0)))
                for name in PER_SAMPLE:
                    np.testing.assert_array_equal(fh[name][row:row + 2], src[name][()])
                for name in src["descriptors"]:
                    np.testing.assert_array_equal(fh[f"descriptors/{name}"][row:row + 2], src["descriptors"][name][()])
                for field in PROPERTY_FIELDS:
                    np.testing.assert_array_equal(fh[f"properties/diffusivity/{field}"][row:row + 2], pc[field][()])
                settings = pc.attrs["solver_settings"]
            row += 2
        assert fh["properties/diffusivity"].attrs["solver_settings"] == settings  # the last chunk's
        np.testing.assert_array_equal(fh["sample_index"][()], [0, 1, 2, 3])
        usable = np.all(fh["properties/diffusivity/status"][()] == CONVERGED, axis=1)
        np.testing.assert_array_equal(fh["usable"][()], usable)
        expected = split_rows(np.flatnonzero(usable), TINY_CONFIG["splits"], TINY_CONFIG["seed"])
        for split in SPLITS:
            assert fh[f"splits/{split}"].dtype == np.int64
            np.testing.assert_array_equal(fh[f"splits/{split}"][()], expected[split])
        manifest = fh["manifest"][()].astype(str)
        assert [name for name, _ in manifest] == [f"../{p.parent.name}/{p.name}" for p in structures + properties]
        assert manifest[0, 1] == provenance.sha256_file(structures[0])
        assert json.loads(fh.attrs["provenance.config"])["seed"] == TINY_CONFIG["seed"]
    layout = read_layout(out)
    assert layout.n == 32 and sum(layout.sizes().values()) == int(usable.sum())


def test_assemble_names_the_chunk_at_fault(chunks, tmp_path):
    structures = [chunks / f"structures-{c}.h5" for c in (0, 1)]
    swapped = [chunks / "diffusivity-1.h5", chunks / "diffusivity-0.h5"]
    prov = provenance.Provenance(inputs=[])
    kwargs = {"fractions": TINY_CONFIG["splits"], "seed": 1, "prov": prov}
    with pytest.raises(InputError, match="diffusivity-1.h5: sample_index does not match its structures chunk"):
        assemble(tmp_path / "d.h5", structures, {"diffusivity": swapped}, **kwargs)
    with pytest.raises(InputError, match="diffusivity: 1 properties chunks for 2 structures chunks"):
        assemble(tmp_path / "d.h5", structures, {"diffusivity": swapped[:1]}, **kwargs)
    with pytest.raises(InputError, match="sample-index order"):
        assemble(tmp_path / "d.h5", structures[::-1], {}, **kwargs)
    assert list(tmp_path.iterdir()) == []
