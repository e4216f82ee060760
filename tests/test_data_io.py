"""Atomic writes, provenance records and chunk readers that name the file and field."""

import json

import h5py
import numpy as np
import pytest

from microinv.data import provenance
from microinv.data.atomic import atomic_path, write_json
from microinv.data.chunks import open_h5, read_samples
from microinv.errors import InputError


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.h5"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_keeps_previous_file_on_failure(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("{")
            raise RuntimeError
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_unwritable_output_names_the_path(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="file/sub/out.json: cannot write"):
        write_json(blocker / "sub" / "out.json", {})


def test_provenance_roundtrip(tmp_path):
    src = tmp_path / "in.bin"
    src.write_bytes(b"abc")
    prov = provenance.Provenance(inputs=[src], config={"seed": 1}, extra={"solver": {"rtol": 1e-6}})
    with h5py.File(tmp_path / "o.h5", "w") as fh:
        provenance.attach(fh, prov.finish())
    with h5py.File(tmp_path / "o.h5", "r") as fh:
        record = provenance.read(fh)
    assert record["inputs_sha256"][str(src)] == \
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # sha256("abc")
    assert record["config_sha256"] == provenance.sha256_json({"seed": 1})
    assert record["solver"] == {"rtol": 1e-6}
    for key in ("microinv_version", "git_commit", "command", "host", "started_utc", "ended_utc"):
        assert record[key]


def test_corrupt_h5_is_named(tmp_path):
    bad = tmp_path / "chunk-0000.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(InputError, match="chunk-0000.h5: corrupt or unreadable"):
        open_h5(bad)
    with pytest.raises(InputError, match="missing.h5: HDF5 file does not exist"):
        open_h5(tmp_path / "missing.h5")


def test_missing_dataset_is_named(tmp_path):
    path = tmp_path / "c.h5"
    with h5py.File(path, "w") as fh:
        fh["seed"] = np.arange(3)
    with pytest.raises(InputError, match="lacks dataset.*structures"):
        open_h5(path, required=("structures",))


@pytest.mark.parametrize("doc, field", [
    ("{not json", "invalid JSON"),
    ('{"format": "other"}', "format"),
    ('{"format": "microinv.samples/1", "n": 8, "dim": 3, "samples": [{"index": 0, "seed": 1}]}',
     r"samples\[0\]: missing field 'theta'"),
    ('{"format": "microinv.samples/1", "n": 8, "dim": 3, "samples": [{"index": 0, "seed": 1, "theta": [1, 2]}]}',
     r"samples\[0\].theta: expected 4 values"),
])
def test_bad_samples_chunk(tmp_path, doc, field):
    path = tmp_path / "chunk-0001.json"
    path.write_text(doc)
    with pytest.raises(InputError, match=f"chunk-0001.json: .*{field}"):
        read_samples(path)


def test_atomic_output_honours_umask(tmp_path):
    import os
    old = os.umask(0o022)
    try:
        write_json(tmp_path / "a.json", {})
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644
