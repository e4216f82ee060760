"""Training the surrogate on a campaign dataset with ``lightning.Trainer``.

Output folder (``results/<campaign>/surrogate/``):

* ``model.ckpt``: the checkpoint of the lowest validation MSE (what :func:`~microinv.surrogate.load` reads);
* ``last.ckpt``: the end of the last epoch, from which a killed training resumes;
* ``metrics.json``: test metrics pooled and per direction, dataset sizes, epochs, time, device, provenance;
* ``parity.png``, ``learning_curves.png``; ``logs/version_*/metrics.csv`` (one version per run).

On a CUDA device training runs in bf16 mixed precision with channels-last 3D tensors; on a
CPU in float32. Seeds fix the initial weights, the training order and the augmentation.
"""

from __future__ import annotations

import logging
import os
import platform
import time
import warnings
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from microinv.data import provenance
from microinv.data.atomic import write_json
from microinv.errors import InputError
from microinv.surrogate.data import SPLITS, StructureDataModule, read_layout
from microinv.surrogate.module import MONITOR, SurrogateModule
from microinv.surrogate.network import CONV_WIDTHS, FC_WIDTHS
from microinv.surrogate.callbacks import LearningCurves, ParityPlot

log = logging.getLogger("microinv.surrogate")

METRICS_FORMAT = "microinv.surrogate-metrics/1"
BEST, LAST = "model.ckpt", "last.ckpt"


def use_cuda(accelerator: str) -> bool:
    """Whether ``accelerator`` ("auto", "gpu", "cuda" or "cpu") means a CUDA device here."""
    return accelerator != "cpu" and torch.cuda.is_available()


def device_name(cuda: bool) -> str:
    if cuda:
        return torch.cuda.get_device_name(0)
    return f"cpu {platform.machine()} ({torch.get_num_threads()} threads)"


def _resumable(ckpt: Path, module: SurrogateModule) -> bool:
    """Whether ``ckpt`` was trained with this run's hyper-parameters (else it cannot resume)."""
    saved = torch.load(ckpt, map_location="cpu", weights_only=False, mmap=True).get("hyper_parameters", {})
    changed = [f"{key}: {saved[key]!r} -> {value!r}" for key, value in module.hparams.items()
               if key in saved and saved[key] != value]
    if changed:
        log.warning("%s: hyper-parameters changed (%s); training from scratch, the old checkpoint "
                    "is kept as %s", ckpt, "; ".join(changed), ckpt.with_suffix(".stale.ckpt"))
    return not changed


def fit(dataset_path, out_dir, *, max_epochs: int = 40, batch_size: int = 32, lr: float = 1e-3,
        weight_decay: float = 1e-4, conv_widths=CONV_WIDTHS, fc_widths=FC_WIDTHS, convs_per_block: int = 2,
        padding_mode: str = "circular", patience: int = 10, seed: int = 0, num_workers: int | None = None,
        accelerator: str = "auto", deterministic: bool = False, resume: bool = True, progress: bool = False,
        train_limit: int | None = None, callbacks=()):
    """Build data, model and Trainer, and fit (resuming from ``out_dir/last.ckpt`` if asked).

    Returns ``(trainer, module, datamodule, checkpoint_callback)``. See :func:`train`.
    """
    out_dir = Path(out_dir)
    cuda = use_cuda(accelerator)
    if num_workers is None:
        num_workers = min(8, len(os.sched_getaffinity(0)) - 1) if cuda else 0
    L.seed_everything(seed, workers=True, verbose=False)
    data = StructureDataModule(dataset_path, batch_size=batch_size, num_workers=num_workers, seed=seed,
                               train_limit=train_limit)
    try:
        module = SurrogateModule(data.layout.n, conv_widths=conv_widths, fc_widths=fc_widths,
                                 convs_per_block=convs_per_block, padding_mode=padding_mode,
                                 lr=lr, weight_decay=weight_decay)
    except ValueError as err:
        raise InputError(f"{dataset_path}: structures: {err}") from err
    if cuda:
        module = module.to(memory_format=torch.channels_last_3d)
    checkpoint = ModelCheckpoint(dirpath=out_dir, filename=Path(BEST).stem, monitor=MONITOR, mode="min",
                                 save_last=True, enable_version_counter=False)
    steps_per_epoch = -(-3 * data.layout.sizes()["train"] // batch_size)
    trainer = L.Trainer(
        max_epochs=max_epochs, accelerator="gpu" if cuda else "cpu", devices=1,
        precision="bf16-mixed" if cuda else "32-true", deterministic=deterministic,
        benchmark=cuda and not deterministic,
        callbacks=[checkpoint, EarlyStopping(MONITOR, mode="min", patience=patience), *callbacks],
        logger=CSVLogger(out_dir, name="logs"), default_root_dir=out_dir,
        log_every_n_steps=min(50, steps_per_epoch), enable_progress_bar=progress, enable_model_summary=progress)
    last = out_dir / LAST
    ckpt_path = last if resume and last.exists() else None
    if ckpt_path is not None and not _resumable(last, module):
        last.replace(last.with_suffix(".stale.ckpt"))
        ckpt_path = None
    if ckpt_path is not None:
        log.info("resuming from %s", last)
    with warnings.catch_warnings():  # the folder holds our own logs and checkpoints
        warnings.filterwarnings("ignore", "Checkpoint directory .* exists and is not empty")
        trainer.fit(module, datamodule=data, ckpt_path=ckpt_path)
    return trainer, module, data, checkpoint


def train(dataset_path, out_dir, *, config: dict | None = None, **options) -> dict:
    """Train the surrogate on the train split, select by validation MSE, test on the test split.

    Parameters
    ----------
    dataset_path : path-like
        Campaign ``dataset.h5`` (docs/data-format.md).
    out_dir : path-like
        Output folder (created); see the module docstring for its contents.
    config : dict, optional
        Resolved campaign config, recorded in the provenance of ``metrics.json``.
    max_epochs, batch_size, lr, weight_decay : optional
        Optimisation: epochs in all (a resumed run continues up to ``max_epochs``), samples
        per batch, AdamW learning rate and weight decay.
    conv_widths, fc_widths, convs_per_block, padding_mode : optional
        Network (:class:`~microinv.surrogate.network.SurrogateNet`).
    patience : int, optional
        Early stopping after this many epochs without a lower validation MSE.
    seed : int, optional
        Seed of weights, order and augmentation.
    num_workers : int, optional
        DataLoader workers (default: 0 on CPU, up to 8 with a GPU).
    accelerator : {"auto", "cpu", "gpu"}, optional
    deterministic : bool, optional
        Deterministic kernels (slower on GPU).
    resume : bool, optional
        Continue from ``out_dir/last.ckpt`` when it exists.
    progress : bool, optional
        Show a progress bar.
    train_limit : int, optional
        Train on the first ``train_limit`` structures of the train split only.

    Returns
    -------
    dict
        The content of ``metrics.json``.
    """
    read_layout(dataset_path)  # a clear error before anything is hashed or written
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    prov = provenance.Provenance(inputs=[dataset_path], config=config)
    start = time.perf_counter()
    callbacks = [ParityPlot(out_dir / "parity.png"), LearningCurves(out_dir / "learning_curves.png", out_dir / "logs")]
    trainer, module, data, checkpoint = fit(dataset_path, out_dir, callbacks=callbacks, **options)
    seconds = time.perf_counter() - start
    epochs, steps, stopped_early = trainer.current_epoch, trainer.global_step, trainer.should_stop
    best = Path(checkpoint.best_model_path or out_dir / BEST)
    test = trainer.test(module, datamodule=data, ckpt_path=best, verbose=False)[0]
    sizes = data.layout.sizes()
    metrics = {
        "format": METRICS_FORMAT,
        "test": {name.removeprefix("test/"): value for name, value in sorted(test.items())},
        "best_val_mse": float(checkpoint.best_model_score) if checkpoint.best_model_score is not None else None,
        "units": {"mse": "squared error of logit(eta)", "mape": "fraction (0.01 = 1 %)"},
        "structures": sizes,
        "samples": {split: 3 * sizes[split] for split in SPLITS},
        "n": data.layout.n,
        "epochs": epochs,
        "global_step": steps,
        "stopped_early": bool(stopped_early and epochs < trainer.max_epochs),
        "seconds": round(seconds, 2),
        "device": device_name(trainer.strategy.root_device.type == "cuda"),
        "precision": trainer.precision,
        "batch_size": data.hparams.batch_size,
        "seed": data.hparams.seed,
        "hyperparameters": dict(module.hparams),
        "checkpoint": best.name,
        "provenance": prov.finish(),
    }
    if trainer.is_global_zero:
        write_json(out_dir / "metrics.json", metrics)
    return metrics
