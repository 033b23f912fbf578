"""Optuna as the storage engine: one study per stage, ask-and-tell, trials read back as records.

``storage=None`` keeps the study in memory; a path (``"runs/search.db"``) becomes
``sqlite:///<absolute path>``; a URL (anything with ``"://"``, e.g.
``postgresql://user@host/db``) is handed to Optuna as is.

What is stored per trial: the parameters (Optuna's params, with the space's
distributions), the state (``complete`` -> COMPLETE, ``pruned``/``diverged`` -> PRUNED,
``failed`` -> FAIL), the per-epoch scores as intermediate values (for Optuna's own
tools), and our record's fields (``number``, ``stage``, ``status``, ``score``,
``epochs``, ``curve``, ``seed``, ``seconds``, ``error``) as user attributes of those
names (Optuna's dashboard shows them as columns). The study keeps, as its user attribute
``"babysit"``, what the search was run with (space, budget, seed, strategy, direction), so
a resume with other settings is refused (:class:`SettingsMismatch`) instead of mixing two
searches. An objective that has a ``fingerprint`` attribute (a string, e.g. a digest of the
training config it runs) has it stored too, so resuming with an edited objective is refused.

Resume: a trial is *finished* once told. Trials a killed driver left RUNNING (or
WAITING) are told FAIL, keeping ``status="running"``, and are ignored when reading back; the
search runs their numbers again, with the same parameters and seed. So no finished trial
is lost or repeated, and no trial appears twice. One driver per study at a time.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path

from babysit.errors import BabysitError
from babysit.search.records import SearchResult, TrialRecord
from babysit.search.spaces import space_from_config


class SettingsMismatch(BabysitError, ValueError):
    """A resumed study was run with other settings (space, budget, seed, strategy, objective)."""


#: The Optuna state each of our statuses is told with.
STATES = {"complete": "COMPLETE", "pruned": "PRUNED", "diverged": "PRUNED", "failed": "FAIL"}
_FIELDS = ("number", "stage", "status", "score", "epochs", "curve", "seed", "seconds", "error")


def storage_url(storage) -> str | None:
    """``None`` (in memory), a URL as given, or a file path as an absolute ``sqlite:///`` URL."""
    if storage is None:
        return None
    text = str(storage)
    if "://" in text:
        return text
    path = Path(text).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


@contextlib.contextmanager
def quiet_optuna():
    """Optuna logs every study it creates at INFO; a search says what matters itself."""
    import optuna  # noqa: PLC0415 - optuna loads only where studies are

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield optuna
    finally:
        optuna.logging.set_verbosity(level)


def rdb_storage(url: str):
    """Optuna's RDBStorage for ``url``; for SQLite, in WAL mode with ``synchronous=NORMAL``.

    SQLite's default syncs the disk at every commit, and a trial takes about ten (ask,
    attributes, intermediate values, tell): 10-20 ms each on a busy disk. In WAL mode with
    ``synchronous=NORMAL`` a commit costs no sync: a killed process (SIGKILL, a crash)
    loses nothing committed; a power cut or OS crash may lose the last commits, never the
    database's consistency (those trials would run again on resume). WAL also lets readers
    (``babysit search`` reports, plots) read while the driver writes.
    """
    import optuna  # noqa: PLC0415 - optuna loads only where studies are

    storage = optuna.storages.RDBStorage(url)
    if url.startswith("sqlite"):
        import sqlalchemy  # noqa: PLC0415 - comes with optuna

        def pragmas(connection, _record):
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        sqlalchemy.event.listen(storage.engine, "connect", pragmas)
        storage.engine.dispose()  # pooled connections made before the listener: reopen them with it
    return storage


def study_names(storage) -> list[str]:
    """The studies in a storage (none for ``None``)."""
    url = storage_url(storage)
    if url is None:
        return []
    with quiet_optuna() as optuna:
        return optuna.get_all_study_names(storage=rdb_storage(url))


class StudyStore:
    """One stage's study: opened (or resumed), asked, told, read back.

    Parameters
    ----------
    storage : None, path or URL
    study_name : str
    settings : dict
        JSON-able description of the stage (space config, epochs, seed, strategy,
        direction); stored on creation and compared on resume.
    direction : {"maximize", "minimize"}
    resume : bool
        Required to open a study that already has trials.
    """

    def __init__(self, storage, study_name: str, settings: dict, direction: str = "maximize", resume: bool = False):
        self.url, self.name = storage_url(storage), study_name
        with quiet_optuna() as optuna:
            # one storage object for both calls (each RDBStorage made from a URL checks the schema);
            # the in-memory one is made here so that a study never outlives its search
            target = optuna.storages.InMemoryStorage() if self.url is None else rdb_storage(self.url)
            exists = study_name in optuna.get_all_study_names(storage=target)
            self.study = optuna.create_study(storage=target, study_name=study_name, direction=direction,
                                             load_if_exists=True)
        if exists:
            self._check_existing(settings, resume)
        else:
            self.study.set_user_attr("babysit", settings)

    def _check_existing(self, settings, resume):
        if not resume and self.study.get_trials(deepcopy=False):
            raise FileExistsError(f"study {self.name!r} already exists in {self.url} with "
                                  f"{len(self.study.get_trials(deepcopy=False))} trials; pass resume=True to "
                                  f"continue it, or another study_name or storage")
        stored = self.study.user_attrs.get("babysit")
        if stored is None:
            self.study.set_user_attr("babysit", settings)
            return
        different = {key: (stored.get(key), value) for key, value in settings.items() if stored.get(key) != value}
        if different:
            details = "; ".join(f"{key}: stored {old!r}, now {new!r}" for key, (old, new) in different.items())
            raise SettingsMismatch(f"study {self.name!r} in {self.url} was run with other settings ({details}); "
                             f"resume it with the same ones, or use another study_name")

    # ------------------------------------------------------------------ reading back
    def records(self) -> list[TrialRecord]:
        """The finished trials (interrupted ones left out), by number."""
        return records_of(self.study)

    def interrupt_stale(self) -> list[int]:
        """Tell FAIL the trials a killed driver left RUNNING or WAITING; returns their numbers.

        Their ``status`` user attribute stays ``running`` (a finished trial's never is), which
        is how :func:`records_of` leaves them out.
        """
        from optuna.trial import TrialState  # noqa: PLC0415 - optuna loads only where studies are

        numbers = []
        for frozen in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING)):
            if frozen.state == TrialState.WAITING:  # enqueued but never asked: ask it, to close it
                self.study.tell(self.study.ask(), state=TrialState.FAIL)
            else:
                self.study.tell(frozen.number, state=TrialState.FAIL)
            if "number" in frozen.user_attrs:
                numbers.append(frozen.user_attrs["number"])
        return sorted(numbers)

    # ------------------------------------------------------------------ asking and telling
    def start(self, spec, space: dict):
        """Ask for a trial with ``spec.params`` (fixed) and mark it running; returns the Optuna trial."""
        self.study.enqueue_trial(spec.params)
        trial = self.study.ask({name: dimension.to_optuna() for name, dimension in space.items()})
        for key, value in (("number", spec.number), ("stage", spec.stage), ("status", "running"),
                           ("epochs", spec.epochs), ("seed", spec.seed)):
            trial.set_user_attr(key, value)
        return trial

    def finish(self, trial, record: TrialRecord) -> None:
        """Store ``record`` on the Optuna ``trial`` and tell its state."""
        from optuna.trial import TrialState  # noqa: PLC0415 - optuna loads only where studies are

        for row in record.curve:
            if row["score"] is not None and math.isfinite(row["score"]):
                trial.report(row["score"], row["epoch"])
        for key in _FIELDS:
            trial.set_user_attr(key, getattr(record, key))
        state = getattr(TrialState, STATES[record.status])
        if state == TrialState.COMPLETE:
            self.study.tell(trial, record.score)
        else:
            self.study.tell(trial, state=state)


def records_of(study) -> list[TrialRecord]:
    """The finished trials of an Optuna study written by a search, by number."""
    from optuna.trial import TrialState  # noqa: PLC0415 - optuna loads only where studies are

    records = []
    for frozen in study.get_trials(deepcopy=False):
        attrs = frozen.user_attrs
        # "running" left in a told trial: interrupted (see StudyStore.interrupt_stale); none: not ours
        if frozen.state in (TrialState.RUNNING, TrialState.WAITING) or attrs.get("status") in (None, "running"):
            continue
        fields = {key: attrs.get(key) for key in _FIELDS}
        fields["curve"] = [dict(row) for row in fields["curve"] or []]
        fields["seconds"] = float(fields["seconds"] or 0.0)
        records.append(TrialRecord(params=dict(frozen.params), **fields))
    return sorted(records, key=lambda record: record.number)


def load_search(storage, study_name: str = "search"):
    """Read a finished or interrupted search back as a :class:`~babysit.search.records.SearchResult`.

    Finds the study ``study_name`` (one stage) or ``study_name-stage1``, ``-stage2``, ...
    (:func:`~babysit.search.coarse_to_fine.coarse_to_fine`).
    """
    names = study_names(storage)
    staged = sorted((name for name in names if name.startswith(f"{study_name}-stage")
                     and name[len(study_name) + 6:].isdigit()), key=lambda name: int(name[len(study_name) + 6:]))
    chosen = [study_name] if study_name in names else staged
    if not chosen:
        raise ValueError(f"no study {study_name!r} (nor {study_name}-stage1, ...) in {storage_url(storage)}; "
                         f"it holds {names}")
    trials, spaces, direction = [], [], "maximize"
    with quiet_optuna() as optuna:
        for name in chosen:
            study = optuna.load_study(study_name=name, storage=rdb_storage(storage_url(storage)))
            settings = study.user_attrs.get("babysit", {})
            direction = settings.get("direction", direction)
            spaces.append(space_from_config(settings.get("space", {})))
            trials += records_of(study)
    return SearchResult(trials=trials, spaces=spaces, direction=direction)
