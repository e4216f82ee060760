"""Hyper-parameter search for the surrogate with Optuna.

The objective trains one model (:func:`microinv.surrogate.train.fit`) with the learning
rate, the network widths and the batch size of a trial, and returns its best validation
MSE; a pruning callback reports the validation MSE every epoch and stops unpromising
trials early. The study lives in a journal file (:func:`microinv.data.journal.journal_storage`):
several workers, on one node or on many sharing a file system, can run :func:`tune` on the
same file at once, and a killed search continues where it stopped.
"""

from __future__ import annotations

import logging
from pathlib import Path

import optuna
from lightning.pytorch.callbacks import Callback

from microinv.data.journal import journal_storage
from microinv.surrogate.module import MONITOR
from microinv.surrogate.network import CONV_WIDTHS, FC_WIDTHS
from microinv.surrogate.train import fit

log = logging.getLogger("microinv.surrogate.tuning")

STUDY = "surrogate"
#: Search space; width scales multiply the base widths (default CONV_WIDTHS and FC_WIDTHS).
LR_RANGE = (1e-4, 3e-3)
WIDTH_SCALES = (0.5, 1.0, 1.5)
BATCH_SIZES = (8, 16, 32, 64)


class PruningCallback(Callback):
    """Report ``monitor`` to an Optuna trial after each validation; stop the fit when it is pruned.

    The fit stops cleanly (``trainer.should_stop``); the objective raises
    :class:`optuna.TrialPruned` afterwards when :attr:`pruned` is set.
    """

    def __init__(self, trial: optuna.Trial, monitor: str = MONITOR):
        self.trial, self.monitor, self.pruned = trial, monitor, False

    def on_validation_end(self, trainer, pl_module):
        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        self.trial.report(float(trainer.callback_metrics[self.monitor]), step=trainer.current_epoch)
        if self.trial.should_prune():
            self.pruned = True
            trainer.should_stop = True


def suggest(trial: optuna.Trial, conv_widths=CONV_WIDTHS, fc_widths=FC_WIDTHS) -> dict:
    """Training options of a trial: learning rate, batch size, and widths scaled from the given ones."""
    conv = trial.suggest_categorical("conv_scale", WIDTH_SCALES)
    fc = trial.suggest_categorical("fc_scale", WIDTH_SCALES)
    return {
        "lr": trial.suggest_float("lr", *LR_RANGE, log=True),
        "batch_size": trial.suggest_categorical("batch_size", BATCH_SIZES),
        "conv_widths": [max(1, round(conv * w)) for w in conv_widths],
        "fc_widths": [max(1, round(fc * w)) for w in fc_widths],
    }


def study(storage_path, *, seed: int | None = None) -> optuna.Study:
    """The shared study in the journal file ``storage_path`` (created if absent)."""
    return optuna.create_study(study_name=STUDY, storage=journal_storage(storage_path), direction="minimize",
                               load_if_exists=True, sampler=optuna.samplers.TPESampler(seed=seed),
                               pruner=optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=2))


def tune(dataset_path, out_dir, *, n_trials: int, storage=None, sampler_seed: int | None = None,
         **options) -> dict:
    """Run ``n_trials`` trials of the search and return the best training options so far.

    Parameters
    ----------
    dataset_path : path-like
        Campaign ``dataset.h5``.
    out_dir : path-like
        Trials train into ``out_dir/trials/<number>``.
    n_trials : int
        Trials run by this call (this worker).
    storage : path-like, optional
        Journal file of the study, shared by all workers (default ``out_dir/optuna.journal``).
    sampler_seed : int, optional
        Seed of the TPE sampler; leave None when several workers share the study, so they
        do not propose the same trials.
    **options
        Fixed training options passed to :func:`~microinv.surrogate.train.fit` (max_epochs,
        patience, seed, accelerator ...); ``conv_widths`` and ``fc_widths`` are the base
        widths that trials scale.

    Returns
    -------
    dict
        The options :func:`suggest` derived from the best trial of the whole study.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    search = study(storage or out_dir / "optuna.journal", seed=sampler_seed)
    base = {key: options.pop(key) for key in ("conv_widths", "fc_widths") if key in options}

    def objective(trial: optuna.Trial) -> float:
        pruning = PruningCallback(trial)
        trial_options = {**options, **suggest(trial, **base)}
        _, _, _, checkpoint = fit(dataset_path, out_dir / "trials" / f"{trial.number:04d}", resume=False,
                                  callbacks=[pruning], **trial_options)
        if pruning.pruned:
            raise optuna.TrialPruned()
        return float(checkpoint.best_model_score)

    search.optimize(objective, n_trials=n_trials)
    best = search.best_trial
    log.info("best trial %d: val/mse %.4g with %s", best.number, best.value, best.params)
    return suggest(optuna.trial.FixedTrial(best.params), **base)
