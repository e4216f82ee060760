"""``microinv train``: fit the CNN surrogate on a campaign dataset and test it.

Settings come from the command line, else from the ``surrogate`` section of ``--config``,
else from the schema's defaults. A killed training started again with the same output
folder, dataset and settings resumes from its ``last.ckpt``; other data or settings train
afresh (:mod:`microinv.surrogate.checkpoints`). The log has one line per epoch; a progress
bar shows on a terminal only. ``--tune N`` first runs
N trials of the Optuna search (study journal in the output folder, shareable by several
workers) and then trains with the best settings found.
"""

from __future__ import annotations

import argparse
import logging
import sys

from microinv.commands.common import add_config_argument, load_config

log = logging.getLogger("microinv.train")

#: Command-line options that override ``surrogate.<key>`` of the config.
OVERRIDES = ("max_epochs", "batch_size", "lr", "patience", "conv_widths", "fc_widths", "ensemble")


def _number(kind, *, zero_ok=False):
    """An argparse type: a positive (or, with ``zero_ok``, non-negative) ``kind``."""
    def parse(text):
        value = kind(text)
        if value < 0 or (value == 0 and not zero_ok):
            raise argparse.ArgumentTypeError(f"{text}: must be {'non-negative' if zero_ok else 'positive'}")
        return value
    parse.__name__ = kind.__name__  # argparse names the type in "invalid int value" messages
    return parse


def register(sub):
    p = sub.add_parser("train", help="train the CNN surrogate on dataset.h5 and test it")
    p.add_argument("dataset", help="campaign dataset (HDF5) from `microinv aggregate`")
    p.add_argument("-o", "--output", required=True, help="surrogate folder (model.ckpt, metrics.json, plots)")
    add_config_argument(p)
    p.add_argument("--max-epochs", type=_number(int), help="maximum epochs in all (config: surrogate.max_epochs)")
    p.add_argument("--batch-size", type=_number(int), help="samples per batch (config: surrogate.batch_size)")
    p.add_argument("--lr", type=_number(float), help="AdamW learning rate (config: surrogate.lr)")
    p.add_argument("--patience", type=_number(int),
                   help="early-stopping patience in epochs (config: surrogate.patience)")
    p.add_argument("--conv-widths", type=_number(int), nargs="+", metavar="W",
                   help="filters of each convolution block (config: surrogate.conv_widths)")
    p.add_argument("--fc-widths", type=_number(int), nargs="+", metavar="W",
                   help="hidden fully connected layers (config: surrogate.fc_widths)")
    p.add_argument("--ensemble", type=_number(int), metavar="M",
                   help="members of the deep ensemble (config: surrogate.ensemble)")
    p.add_argument("--init-from", metavar="CKPT",
                   help="start from the weights of this checkpoint (a surrogate of the same settings): "
                        "fine-tuning on a grown dataset")
    p.add_argument("--train-limit", type=_number(int), metavar="N",
                   help="train on the first N structures of the train split only (error versus data size)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights, order and augmentation (default 0)")
    p.add_argument("--workers", type=_number(int, zero_ok=True),
                   help="DataLoader workers (default: 0 on CPU, up to 8 with a GPU)")
    p.add_argument("--accelerator", choices=("auto", "cpu", "gpu"), default="auto",
                   help="device (default: a GPU when present)")
    p.add_argument("--no-resume", dest="resume", action="store_false",
                   help="start afresh even if OUTPUT/last.ckpt holds this training")
    p.add_argument("--tune", type=_number(int, zero_ok=True), default=0, metavar="N",
                   help="first run N Optuna trials over lr, widths and batch size, then train with the best")
    p.add_argument("--tune-storage", metavar="FILE",
                   help="Optuna journal shared by tuning workers (default OUTPUT/optuna.journal)")
    p.set_defaults(func=run)


def options_from(args, cfg) -> dict:
    """Training options: command line over ``surrogate`` of the config (:func:`fit` fills the defaults)."""
    from microinv.surrogate.train import settings

    options = settings((cfg or {}).get("surrogate", {}))
    for key in OVERRIDES:
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    options.update(seed=args.seed, accelerator=args.accelerator, num_workers=args.workers,
                   train_limit=args.train_limit, init_from=args.init_from)
    floor = ((cfg or {}).get("process_design") or {}).get("log10_k_floor")
    if floor is not None:  # the label of a non-flowing axis of a permeability dataset
        options["log10_k_floor"] = floor
    return options


def run(args) -> int:
    from microinv.surrogate.train import train

    cfg = load_config(args)
    options = options_from(args, cfg)
    if args.tune:
        from microinv.surrogate.tuning import tune

        options.update(tune(args.dataset, args.output, n_trials=args.tune, storage=args.tune_storage, **options))
        log.info("training with the best settings found: %s", options)
    metrics = train(args.dataset, args.output, config=cfg, resume=args.resume, progress=sys.stdout.isatty(),
                    **options)
    test = metrics["test"]
    if metrics["target"] == "permeability":
        axes = ", ".join(f"{a} {test[f'mae_{a}']:.3f}" for a in "xyz"[:metrics["dim"]])
        log.info("test: MAE %.3f decades (%s), RMSE %.3f decades of log10 k, on %d test structures; wrote %s",
                 test["mae"], axes, test["rmse"], metrics["structures"]["test"], args.output)
        return 0
    log.info("test: MAPE %.2f %% (x %.2f, y %.2f, z %.2f), MSE(logit) %.3g, on %d test structures; wrote %s",
             100 * test["mape"], 100 * test["mape_x"], 100 * test["mape_y"], 100 * test["mape_z"], test["mse"],
             metrics["structures"]["test"], args.output)
    return 0
