"""How a dataset's usable rows divide into the train, val and test splits: the one
rounding rule, shared by the dataset (:func:`microinv.data.dataset.split_rows`) and the
config check that every split gets a row (:func:`microinv.config.campaign_errors`)."""

from __future__ import annotations


def split_sizes(fractions, count: int) -> dict:
    """Rows per split of ``count`` rows: ``round(f_train count)`` train, ``round(f_val count)``
    val, the rest test (so the three always add up to ``count``)."""
    train = int(round(fractions["train"] * count))
    val = int(round(fractions["val"] * count))
    return {"train": train, "val": val, "test": count - train - val}
