"""Training throughput of the CNN surrogate, samples per second.

Synthetic random 0/1 structures of N^3 voxels (default 192^3: 96^3 after the network's
2x2x2 downsampling, the reference setting) go through ``lightning.Trainer`` with the
training step of :class:`~microinv.surrogate.module.SurrogateModule` (forward, loss,
metrics, backward, AdamW). Batches are built once in (pinned) host memory, so the figure
is the model's throughput including the host-to-device copy, without disk or decompression.
On a GPU it runs in bf16 mixed precision with channels-last 3D tensors unless told otherwise.

    python benchmarks/bench_surrogate.py --batch-size 64            # GPU
    python benchmarks/bench_surrogate.py --batch-size 2 --steps 3   # CPU smoke run

Reference: about 72 samples/s (340 s per epoch of 24,576 samples on an A100).
Prints one JSON line with the figures, the machine and the command.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time

import lightning as L
import torch
from torch.utils.data import Dataset

from microinv.surrogate.module import SurrogateModule


class SyntheticBatches(Dataset):
    """``length`` batches cycling over ``distinct`` pre-built random batches (B, N, N, N)."""

    def __init__(self, batch_size: int, n: int, length: int, *, distinct: int = 2, pin: bool = False):
        g = torch.Generator().manual_seed(0)
        self.batches = []
        for _ in range(distinct):
            solid = torch.randint(0, 2, (batch_size, n, n, n), dtype=torch.uint8, generator=g)
            eta = torch.rand(batch_size, generator=g) * 0.6 + 0.2
            direction = torch.randint(0, 3, (batch_size,), generator=g)
            batch = (solid, eta, direction)
            self.batches.append(tuple(t.pin_memory() for t in batch) if pin else batch)
        self.length = length

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        return self.batches[index % len(self.batches)]


class StepTimer(L.Callback):
    """Wall time of the training steps after ``warmup`` (device synchronised)."""

    def __init__(self, warmup: int):
        self.warmup, self.start, self.end, self.steps = warmup, None, None, 0

    def _sync(self, pl_module):
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize(pl_module.device)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == self.warmup:
            self._sync(pl_module)
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if batch_idx >= self.warmup:
            self._sync(pl_module)
            self.end, self.steps = time.perf_counter(), batch_idx + 1 - self.warmup


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--n", type=int, default=192, help="structure side, voxels (network input n/2)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (cuDNN autotuning)")
    parser.add_argument("--accelerator", choices=("auto", "cpu", "gpu"), default="auto")
    parser.add_argument("--precision", help="Lightning precision (default bf16-mixed on GPU, 32-true on CPU)")
    parser.add_argument("--no-channels-last", dest="channels_last", action="store_false")
    parser.add_argument("--padding", choices=("circular", "zeros"), default="circular")
    args = parser.parse_args(argv)

    cuda = args.accelerator != "cpu" and torch.cuda.is_available()
    precision = args.precision or ("bf16-mixed" if cuda else "32-true")
    L.seed_everything(0, verbose=False)
    module = SurrogateModule(args.n, padding_mode=args.padding)
    if cuda and args.channels_last:
        module = module.to(memory_format=torch.channels_last_3d)
    # one batch more than the run, so it stops mid-epoch (no epoch-end validation needed)
    data = SyntheticBatches(args.batch_size, args.n, args.warmup + args.steps + 1, pin=cuda)
    timer = StepTimer(args.warmup)
    trainer = L.Trainer(accelerator="gpu" if cuda else "cpu", devices=1, precision=precision,
                        max_steps=args.warmup + args.steps, limit_val_batches=0, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        benchmark=cuda, callbacks=[timer])
    loader = torch.utils.data.DataLoader(data, batch_size=None, shuffle=False)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    trainer.fit(module, loader)
    seconds = timer.end - timer.start
    result = {
        "samples_per_s": round(timer.steps * args.batch_size / seconds, 2),
        "seconds_per_step": round(seconds / timer.steps, 4),
        "batch_size": args.batch_size, "n": args.n, "network_input": args.n // 2, "steps": timer.steps,
        "precision": precision, "channels_last": cuda and args.channels_last, "padding": args.padding,
        "device": torch.cuda.get_device_name(0) if cuda else f"cpu {platform.processor() or platform.machine()}",
        "threads": torch.get_num_threads(),
        "peak_gpu_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
        "torch": torch.__version__, "lightning": L.__version__, "host": platform.node(),
        "command": " ".join([sys.executable.rsplit("/", 1)[-1], *sys.argv]),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
