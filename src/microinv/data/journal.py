"""Optuna studies in a journal file: the one storage of every study of a campaign.

A journal (``optuna.storages.journal.JournalFileBackend``) is an append-only log of study
operations; every write takes a lock file beside it, so workers on one node or on many
hosts sharing a file system can add trials to the same study at once, and a killed worker
leaves every operation it finished on disk. The BO design (``design/<t>/bo/study.journal``)
and the surrogate's hyper-parameter search (``optuna.journal``) open theirs here.
"""

from __future__ import annotations

from pathlib import Path

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

from microinv.errors import InputError

__all__ = ["journal_storage", "read_study"]


def journal_storage(path) -> JournalStorage:
    """Optuna storage in the journal file ``path`` (created with its folder if absent),
    safe for concurrent processes (``open(O_EXCL)`` lock file, which works on NFS)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path))))


def read_study(path, study_name: str | None = None) -> optuna.Study:
    """An existing study of the journal ``path``: ``study_name``, or the newest one.

    Raises
    ------
    InputError
        Naming the file when it does not exist, holds no study or none of that name.
    """
    if not Path(path).is_file():
        raise InputError(f"{path}: no such study journal")
    storage = journal_storage(path)
    if study_name is None:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)]
        if not names:
            raise InputError(f"{path}: the journal holds no study")
        study_name = names[-1]
    try:
        return optuna.load_study(study_name=study_name, storage=storage)
    except KeyError as err:
        raise InputError(f"{path}: no study named {study_name!r}") from err
