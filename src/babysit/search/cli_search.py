"""What ``babysit search CONFIG.yaml`` does: storage, resume rules, the executor, then the search.

The trials are stored in ``OUT/search.db`` (SQLite) unless ``--storage`` names another file
or a database URL. The study is named after the config file; a storage that already holds
it is refused without ``--resume`` (so two searches are never mixed up), and with
``--resume`` the search continues: finished trials are kept, interrupted ones run again.
``--scheduler ADDRESS`` sends the trials to a Dask cluster
(``dask.distributed.Client(ADDRESS).get_executor()``).
"""

from __future__ import annotations

import contextlib
import re
import sys
from pathlib import Path

from babysit.config.loading import ConfigError
from babysit.search.config_search import ConfigSearchRun, run_config_search
from babysit.search.storage import SettingsMismatch


def run_search_command(config_path: Path, out: Path, *, storage: str | None = None, jobs: int | None = None,
                       resume: bool = False, scheduler: str | None = None, verbose: bool = True) -> ConfigSearchRun:
    """Run the search of ``config_path`` into ``out`` (see :func:`run_config_search`) as the CLI does.

    Raises
    ------
    ConfigError
        The config, ``--jobs`` or ``--scheduler`` is unusable.
    FileExistsError
        The storage already holds this search and ``resume`` is off.
    FileNotFoundError
        No such config file.
    """
    if not Path(config_path).is_file():
        raise FileNotFoundError(f"config file {str(config_path)!r} does not exist")
    if jobs is not None and jobs < 1:
        raise ConfigError(f"--jobs: the number of trials in parallel must be >= 1, got {jobs}")
    storage = storage if storage is not None else str(Path(out) / "search.db")
    study = Path(config_path).stem
    found = existing_studies(storage, study)
    if found and not resume:
        raise FileExistsError(f"{_where(storage)} already holds the search {study!r} ({', '.join(found)}): pass "
                              "--resume to continue it, or choose another --out (or --storage)")
    if resume and not found:
        print(f"nothing to resume in {_where(storage)}: starting the search {study!r}", file=sys.stderr)
    with _executor(scheduler) as executor:
        n_jobs = jobs if jobs is not None else (-1 if executor is not None else 1)
        try:
            return run_config_search(config_path, out, storage=storage, study_name=study,
                                     resume=resume and bool(found), n_jobs=n_jobs, executor=executor, verbose=verbose)
        except SettingsMismatch as error:
            # the stored search had another space, budget, seed or training config: say which, as a usage error
            raise ConfigError(f"--resume: {error}") from error


def existing_studies(storage, study: str) -> list[str]:
    """The studies of the search ``study`` in ``storage``: ``study`` itself or ``study-stage1``, ``-stage2``..."""
    from babysit.search.storage import study_names  # noqa: PLC0415 - optuna loads only here

    if "://" not in str(storage) and not Path(storage).exists():
        return []  # a file not made yet: nothing stored (and no empty database left behind)
    pattern = re.compile(rf"{re.escape(study)}(-stage\d+)?")
    return sorted(name for name in study_names(storage) if pattern.fullmatch(name))


@contextlib.contextmanager
def _executor(scheduler: str | None):
    """``None``, or a Dask cluster's executor (the client is closed afterwards)."""
    if scheduler is None:
        yield None
        return
    try:
        from dask.distributed import Client  # noqa: PLC0415 - only for a cluster
    except ImportError as error:
        raise ConfigError(f"--scheduler: dask.distributed is not installed ({error}); "
                          "pip install 'babysit[cluster]'") from error
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError, ValueError) as error:
        raise ConfigError(f"--scheduler: cannot reach the Dask scheduler at {scheduler!r} ({error}); start one with "
                          "`dask scheduler` and give its address (tcp://HOST:8786)") from error
    try:
        yield client.get_executor()
    finally:
        client.close()


def _where(storage) -> str:
    return str(storage) if "://" in str(storage) else f"the storage file {storage}"
