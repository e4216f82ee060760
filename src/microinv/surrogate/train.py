"""Training the surrogate on a campaign dataset with ``lightning.Trainer``.

Output folder (``results/<campaign>/surrogate/``):

* ``model.ckpt``: the checkpoint of the lowest validation MSE (what :func:`~microinv.surrogate.load` reads);
* ``best.ckpt``, ``last.ckpt``: the resume state (:mod:`microinv.surrogate.checkpoints`);
* ``metrics.json``: test metrics pooled and per direction, dataset sizes, epochs, time, device, provenance,
  and the ``calibration`` of the ensemble's spread on the test split
  (:func:`microinv.uncertainty.calibration`; null for a single network);
* ``parity.png``, ``calibration.png``, ``learning_curves.png``; ``logs/version_*/metrics.csv`` (one version per run).

Settings not given take the defaults of the ``surrogate`` section of the campaign schema
(``config.schema.yaml``). The dataset fixes the dimension (2D or 3D structures) and the
target: the diffusivity (logit eta) where the dataset holds it, else the permeability
(log10 k with the floor ``log10_k_floor``, config ``process_design.log10_k_floor``;
:mod:`microinv.surrogate.targets`). On a CUDA device training runs in bf16 mixed precision
with channels-last 3D tensors (3D networks); on a CPU in float32. Seeds fix the initial weights, the training
order and the augmentation. An ensemble (``ensemble`` = M members, config
``surrogate.ensemble``) trains its members side by side in one module and one checkpoint;
each member starts from its own weights and draws its own order and augmentation. Every
epoch logs one line: epoch, training and validation MSE (the loss), validation MAPE and
the epoch's wall time.
"""

from __future__ import annotations

import logging
import os
import pickle
import platform
import time
import warnings
from pathlib import Path

import lightning as L
import torch
from lightning.fabric.plugins.environments import LightningEnvironment
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.utilities import rank_zero_only

from microinv import config
from microinv.data import provenance
from microinv.data.atomic import write_json
from microinv.data.dataset import SPLITS
from microinv.surrogate.labels import read_layout
from microinv.errors import InputError
from microinv.surrogate import checkpoints
from microinv.surrogate.callbacks import LearningCurves, TestPredictions
from microinv.surrogate.data import StructureDataModule
from microinv.surrogate.module import MONITOR, SurrogateModule
from microinv.uncertainty import calibration

log = logging.getLogger("microinv.surrogate")

METRICS_FORMAT = "microinv.surrogate-metrics/1"
#: Keys of the schema's ``surrogate`` section that are workflow resources, not training settings.
RESOURCES = ("gpus",)


def settings(section: dict | None = None) -> dict:
    """Training settings of a config's ``surrogate`` section (default: the schema's defaults)."""
    section = config.resolve({})["surrogate"] if section is None else section
    return {key: value for key, value in section.items() if key not in RESOURCES}


def use_cuda(accelerator: str) -> bool:
    """Whether ``accelerator`` ("auto", "gpu", "cuda" or "cpu") means a CUDA device here."""
    return accelerator != "cpu" and torch.cuda.is_available()


def device_name(cuda: bool) -> str:
    if cuda:
        return torch.cuda.get_device_name(0)
    return f"cpu {platform.machine()} ({torch.get_num_threads()} threads)"


class EpochLog(Callback):
    """One log line per training epoch: epoch, train and val MSE of the target, val MAPE (or MAE), wall time.

    An epoch resumed after its last batch (from the checkpoint written at its end) trains
    nothing and logs nothing.
    """

    def on_train_epoch_start(self, trainer, pl_module):
        self.start, self.batches = time.perf_counter(), 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.batches += 1

    @rank_zero_only
    def on_train_epoch_end(self, trainer, pl_module):
        if not self.batches:
            return
        metric = {name: float(value) for name, value in trainer.callback_metrics.items()}
        name, scale, unit, label = pl_module.target.summary
        log.info("epoch %d/%d: train loss %.4g, val loss %.4g, val %s %.*f %s, %.1f s", trainer.current_epoch + 1,
                 trainer.max_epochs, metric.get("train/mse", float("nan")), metric.get(MONITOR, float("nan")),
                 label, 2 if unit == "%" else 4, scale * metric.get(f"val/{name}", float("nan")),
                 "%" if unit == "%" else unit, time.perf_counter() - self.start)


class StayStopped(EarlyStopping):
    """Early stopping that a resumed training remembers: a training stopped early stays finished.

    The patience is this run's, not the checkpoint's: with a larger one a training stopped
    early continues.
    """

    def load_state_dict(self, state_dict) -> None:
        patience = self.patience
        super().load_state_dict(state_dict)
        self.patience = patience

    def on_train_start(self, trainer, pl_module):
        if self.stopped_epoch and self.wait_count >= self.patience:
            trainer.should_stop = True


def _lightning_logs_once() -> None:
    """Let Lightning's log records reach the application's handlers, once.

    The ``lightning`` package logger brings a console handler of its own (and
    ``lightning.pytorch`` and ``lightning.fabric`` do when imported before logging was
    configured): beside the root handler of ``microinv`` every line came out twice. Done
    only where the root logger has handlers, i.e. the application configured logging.
    """
    if not logging.getLogger().hasHandlers():
        return
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logger = logging.getLogger(name)
        for handler in [h for h in logger.handlers if type(h) is logging.StreamHandler]:
            logger.removeHandler(handler)
        logger.propagate = True


def fit(dataset_path, out_dir, *, seed: int = 0, num_workers: int | None = None, accelerator: str = "auto",
        deterministic: bool = False, resume: bool = True, progress: bool = False, train_limit: int | None = None,
        dataset_sha256: str | None = None, callbacks=(), init_from=None, log10_k_floor: float | None = None,
        **options):
    """Build data, model and Trainer, and fit (continuing the same training from ``out_dir`` if asked).

    ``options`` are the settings of :func:`settings` (defaults from the schema) and further
    keywords of :class:`~microinv.surrogate.module.SurrogateModule`. ``dataset_sha256``
    saves hashing the dataset again. Returns ``(trainer, module, datamodule,
    checkpoint_callback)``. See :func:`train`.
    """
    out_dir = Path(out_dir)
    options = {**settings(), **options}
    max_epochs, patience, batch_size = (options.pop(key) for key in ("max_epochs", "patience", "batch_size"))
    cuda = use_cuda(accelerator)
    if num_workers is None:
        num_workers = min(8, len(os.sched_getaffinity(0)) - 1) if cuda else 0
    L.seed_everything(seed, workers=True, verbose=False)
    data = StructureDataModule(dataset_path, batch_size=batch_size, num_workers=num_workers, seed=seed,
                               train_limit=train_limit, members=options["ensemble"], log10_k_floor=log10_k_floor)
    layout = data.layout
    options = {"dim": layout.dim, "target": layout.target.name, **layout.target.hparams(), **options}
    try:
        module = SurrogateModule(layout.n, **options)
    except ValueError as err:
        raise InputError(f"{dataset_path}: structures: {err}") from err
    if init_from is not None:  # fine-tuning: the weights of a surrogate of the same settings
        try:
            module.load_state_dict(torch.load(init_from, map_location="cpu", weights_only=False)["state_dict"])
        except (OSError, RuntimeError, KeyError, ValueError, EOFError, pickle.UnpicklingError) as err:
            raise InputError(f"{init_from}: --init-from: not a checkpoint of a surrogate with these settings "
                             f"({type(err).__name__}: {str(err).splitlines()[0]})") from err
    if cuda and layout.dim == 3:
        module = module.to(memory_format=torch.channels_last_3d)
    identity = checkpoints.TrainingIdentity(dataset_sha256 or provenance.sha256_file(dataset_path),
                                            module.hparams, data.hparams)
    checkpoint = ModelCheckpoint(dirpath=out_dir, filename=Path(checkpoints.BEST).stem, monitor=MONITOR, mode="min",
                                 enable_version_counter=False)
    # every epoch (Lightning's save_last saves only with a new best)
    last = ModelCheckpoint(dirpath=out_dir, filename=Path(checkpoints.LAST).stem, enable_version_counter=False)
    steps_per_epoch = -(-layout.dim * layout.sizes()["train"] // batch_size)
    _lightning_logs_once()
    trainer = L.Trainer(
        max_epochs=max_epochs, accelerator="gpu" if cuda else "cpu", devices=1,
        precision="bf16-mixed" if cuda else "32-true", deterministic=deterministic,
        benchmark=cuda and not deterministic,
        plugins=[checkpoints.AtomicCheckpointIO(), LightningEnvironment()],  # one process, wherever it runs
        callbacks=[checkpoint, last, StayStopped(MONITOR, mode="min", patience=patience), identity, EpochLog(),
                   *callbacks],
        logger=CSVLogger(out_dir, name="logs"), default_root_dir=out_dir,
        log_every_n_steps=min(50, steps_per_epoch), enable_progress_bar=progress, enable_model_summary=progress)
    ckpt_path = identity.resume_path(out_dir) if resume else None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Checkpoint directory .* exists and is not empty")  # our own files
        # a fresh fit asks SLURMEnvironment about HPC auto-resume whatever the cluster environment
        warnings.filterwarnings("ignore", "The `srun` command is available on your system but is not used")
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
    max_epochs, batch_size, lr, patience, conv_widths, fc_widths, ensemble : optional
        Settings of the schema's ``surrogate`` section, with its defaults: epochs in all (a
        resumed run continues up to ``max_epochs``), samples per batch, AdamW learning rate,
        early stopping after ``patience`` epochs without a lower validation MSE, the
        network's widths (:class:`~microinv.surrogate.network.SurrogateNet`) and the
        ensemble's members.
    weight_decay, convs_per_block, padding_mode, lr_factor, lr_patience : optional
        Further keywords of :class:`~microinv.surrogate.module.SurrogateModule`, with its defaults.
    seed : int, optional
        Seed of weights, order and augmentation.
    num_workers : int, optional
        DataLoader workers (default: 0 on CPU, up to 8 with a GPU).
    accelerator : {"auto", "cpu", "gpu"}, optional
    deterministic : bool, optional
        Deterministic kernels (slower on GPU).
    resume : bool, optional
        Continue the training that ``out_dir/last.ckpt`` holds if it is this training (same
        dataset, same settings but ``max_epochs`` and ``patience``); else train afresh.
    progress : bool, optional
        Show a progress bar.
    train_limit : int, optional
        Train on the first ``train_limit`` structures of the train split only.
    init_from : path-like, optional
        Start from the weights of this checkpoint (a surrogate of the same settings) instead
        of fresh ones: fine-tuning on a grown dataset (``microinv train --init-from``).
    log10_k_floor : float, optional
        Label of a non-flowing axis of a permeability dataset (config
        ``process_design.log10_k_floor``; default the schema's).

    Returns
    -------
    dict
        The content of ``metrics.json``.
    """
    read_layout(dataset_path, log10_k_floor=options.get("log10_k_floor"))  # a clear error before anything is written
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    prov = provenance.Provenance(inputs=[dataset_path], config=config)
    start = time.perf_counter()
    predictions = TestPredictions(out_dir / "parity.png", out_dir / "calibration.png")
    callbacks = [predictions, LearningCurves(out_dir / "learning_curves.png", out_dir / "logs")]
    trainer, module, data, checkpoint = fit(dataset_path, out_dir, callbacks=callbacks,
                                            dataset_sha256=prov.inputs[str(dataset_path)], **options)
    seconds = time.perf_counter() - start
    epochs, steps, stopped_early = trainer.current_epoch, trainer.global_step, trainer.should_stop
    best = Path(checkpoint.best_model_path or out_dir / checkpoints.BEST)
    test = trainer.test(module, datamodule=data, ckpt_path=best, verbose=False)[0]
    sizes = data.layout.sizes()
    members, target, dim = module.hparams.ensemble, module.target, data.layout.dim
    eta, mean, std, direction = predictions.rows.T
    spread = calibration(eta, mean, std, direction.astype(int), members=members) if members > 1 else None
    if spread is not None:
        spread["space"] = target.space
    metrics = {
        "format": METRICS_FORMAT,
        "test": {name.removeprefix("test/"): value for name, value in sorted(test.items())},
        "calibration": spread,
        "best_val_mse": float(checkpoint.best_model_score) if checkpoint.best_model_score is not None else None,
        "units": dict(target.units),
        "structures": sizes,
        "samples": {split: dim * sizes[split] for split in SPLITS},
        "n": data.layout.n,
        "dim": dim,
        "target": target.name,
        "epochs": epochs,
        "global_step": steps,
        "stopped_early": bool(stopped_early and epochs < trainer.max_epochs),
        "seconds": round(seconds, 2),
        "device": device_name(trainer.strategy.root_device.type == "cuda"),
        "precision": trainer.precision,
        "batch_size": data.hparams.batch_size,
        "seed": data.hparams.seed,
        "hyperparameters": dict(module.hparams),
        "checkpoint": checkpoints.MODEL,
        "provenance": prov.finish(),
    }
    if trainer.is_global_zero:
        checkpoints.publish(best, out_dir / checkpoints.MODEL)
        write_json(out_dir / "metrics.json", metrics)
    return metrics
