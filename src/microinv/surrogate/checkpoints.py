"""Checkpoints of a surrogate training: written atomically, read with care, resumed only by their own training.

The output folder holds the resume state of a training, which the workflow does not declare
(Snakemake deletes declared outputs before it reruns a job, and would take the state with
them):

* ``best.ckpt``: the epoch of the lowest validation MSE so far (model selection);
* ``last.ckpt``: the end of the last epoch, from which the training continues;

and the published checkpoint ``model.ckpt``, a copy of ``best.ckpt`` made when the training
has been tested. A checkpoint continues a training only if that training wrote it: the same
hyper-parameters of network and optimiser, the same data settings (batch size, seed,
augmentation, train limit) and the same dataset, by the SHA-256 of ``dataset.h5``. Anything
else trains afresh and keeps the old ``last.ckpt`` as ``last.stale.ckpt``; a checkpoint that
cannot be read is renamed ``<name>.corrupt.ckpt``. Either gets a warning.
"""

from __future__ import annotations

import io
import logging
import pickle
import shutil
import zipfile
from pathlib import Path

import torch
from lightning.fabric.plugins.io import TorchCheckpointIO
from lightning.pytorch.callbacks import Callback

from microinv.data.atomic import atomic_path
from microinv.errors import InputError

log = logging.getLogger("microinv.surrogate")

BEST, LAST, MODEL = "best.ckpt", "last.ckpt", "model.ckpt"
STALE, CORRUPT = ".stale.ckpt", ".corrupt.ckpt"
#: Data-module settings that change what a training computes (not ``path``, ``num_workers``).
DATA_SETTINGS = ("batch_size", "seed", "augment", "train_limit")
#: Hyper-parameters that checkpoints of earlier versions lack, with the value they had then.
LEGACY_DEFAULTS = {"dim": 3, "target": "diffusivity", "log10_k_floor": None}


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoint I/O that writes through a temporary file in the same folder.

    Lightning's own writer stages the file in the system's temporary folder and moves it;
    across file systems the move is a copy, and a full disk leaves a truncated checkpoint
    under the final name. Here the final name appears only once the file is complete.
    """

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        try:
            with atomic_path(path) as tmp:
                tmp.write_bytes(buffer.getbuffer())
        except OSError as err:
            raise InputError(f"{path}: cannot write checkpoint ({err.strerror})") from err


def read(path) -> dict | None:
    """The checkpoint at ``path`` (memory-mapped), or None if there is none or it is unreadable.

    An unreadable checkpoint (truncated, not a checkpoint) is renamed to
    ``<stem>.corrupt.ckpt`` with a warning, so that the next training starts cleanly.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=False, mmap=True)
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, ValueError) as err:
        aside = path.with_suffix(CORRUPT)
        log.warning("%s: unreadable checkpoint (%s); set aside as %s", path, str(err).split(". ")[0], aside)
        path.replace(aside)
        return None


def publish(best, model) -> None:
    """Copy the checkpoint ``best`` to ``model`` atomically (``model`` is what the workflow declares)."""
    try:
        with atomic_path(model) as tmp:
            shutil.copyfile(best, tmp)
    except OSError as err:
        raise InputError(f"{model}: cannot write checkpoint ({err.strerror})") from err


class TrainingIdentity(Callback):
    """Records in every checkpoint which training wrote it: dataset SHA-256 and settings.

    Parameters
    ----------
    dataset_sha256 : str
        SHA-256 of the dataset file.
    hyper_parameters : dict
        Of the LightningModule (network and optimiser).
    data_settings : dict
        Of the data module, :data:`DATA_SETTINGS`.
    """

    def __init__(self, dataset_sha256: str, hyper_parameters: dict, data_settings: dict):
        self.identity = {"dataset_sha256": dataset_sha256, "hyper_parameters": dict(hyper_parameters),
                         "data": {key: data_settings[key] for key in DATA_SETTINGS}}

    def state_dict(self) -> dict:
        return dict(self.identity)

    def differences(self, checkpoint: dict) -> list[str]:
        """What makes ``checkpoint`` belong to another training (empty: the same training)."""
        saved = checkpoint.get("callbacks", {}).get(self.state_key)
        if saved is None:
            return ["it records no dataset and settings (written by an older microinv)"]
        changes = []
        if saved["dataset_sha256"] != self.identity["dataset_sha256"]:
            changes.append(f"dataset changed (SHA-256 {saved['dataset_sha256'][:12]}... -> "
                           f"{self.identity['dataset_sha256'][:12]}...)")
        for group in ("hyper_parameters", "data"):
            old, new = saved[group], self.identity[group]
            def value(saved_group, key):
                return saved_group.get(key, LEGACY_DEFAULTS.get(key) if group == "hyper_parameters" else None)
            changes += [f"{key}: {value(old, key)!r} -> {value(new, key)!r}" for key in sorted(old.keys() | new.keys())
                        if value(old, key) != value(new, key)]
        return changes

    def resume_path(self, out_dir) -> Path | None:
        """``out_dir/last.ckpt`` if it continues this training, else None (after setting it aside).

        It continues this training when it is readable, was written by this training
        (:meth:`differences`) and its ``best.ckpt`` is there and readable.
        """
        last, best = Path(out_dir) / LAST, Path(out_dir) / BEST
        state = read(last)
        if state is None:
            return None
        reasons = self.differences(state)
        if not reasons and read(best) is None:
            reasons = [f"its {BEST} is missing"]
        if not reasons:
            log.info("resuming from %s", last)
            return last
        log.warning("%s: %s; training afresh, the old checkpoint is kept as %s", last, "; ".join(reasons),
                    last.with_suffix(STALE))
        last.replace(last.with_suffix(STALE))
        return None
