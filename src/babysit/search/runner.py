"""Running trials: in the driver, in a pool of worker processes, or on any Executor (Dask).

The driver asks for trials and records them (storage, pruning bars); workers only train:
each runs :func:`~babysit.search.trial.run_trial` on a picklable spec and sends back a
:class:`~babysit.search.records.TrialRecord`.

- ``n_jobs=1`` and no executor: trials run one after the other in the driver process.
- ``n_jobs > 1``: a :class:`~concurrent.futures.ProcessPoolExecutor` of ``n_jobs`` workers
  started with ``forkserver`` (``spawn`` where there is none, e.g. Windows). Not ``fork``:
  the driver holds threads (progress bar, Dask) and database connections, which a fork
  would copy mid-use. The fork server is a clean single-threaded process that imports
  NumPy and babysit once (``set_forkserver_preload``); workers fork from it in
  milliseconds, so a pool recreated after a crash is ready at once (a ``spawn`` worker
  re-imports everything: about a second). The price, as with ``spawn``: the objective
  must be importable (a module-level function, or an instance of a module-level class)
  and a script must start its search under ``if __name__ == "__main__":``. Each worker
  limits BLAS to one thread (threadpoolctl), so ``n_jobs`` workers on ``n_jobs`` cores do
  not oversubscribe them.
- ``executor=``: any :class:`concurrent.futures.Executor`, e.g.
  ``dask.distributed.Client(address).get_executor()`` for a Dask cluster. The search keeps
  ``n_jobs`` trials in flight on it (default 1: pass the number of worker threads, or
  ``n_jobs=-1`` to ask the executor: a Dask client's total threads, a pool's
  ``_max_workers``). The executor is the caller's: it is neither shut down nor recreated.

A worker that dies (``os._exit``, a segfault, the out-of-memory killer) breaks a process
pool: every trial in flight on it gets ``BrokenProcessPool``. The pool is recreated, and
when several trials were in flight, each is run again alone, so only the one that kills
its worker is recorded ``failed``; the search goes on. On Dask, a lost worker's task is
retried by Dask, then raises (``KilledWorker``): that trial is recorded ``failed``.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from babysit.search.records import TrialRecord
from babysit.search.trial import describe_error, run_trial

#: What the fork server imports once, so that its workers start with it loaded.
PRELOAD = ["babysit.search.trial"]
_limits = None  # keeps the worker's threadpool limits alive


def _init_worker() -> None:
    """In each worker process: one BLAS/OpenMP thread."""
    global _limits
    from threadpoolctl import threadpool_limits  # noqa: PLC0415 - only in worker processes

    _limits = threadpool_limits(limits=1)


def mp_context():
    """``forkserver`` (with :data:`PRELOAD`) where the platform has it, else ``spawn``."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)  # no effect once the server runs: it has them then
        return context
    return multiprocessing.get_context("spawn")


class InlineExecutor(Executor):
    """Runs each call at once in the calling thread: ``n_jobs=1`` with the Executor interface."""

    def submit(self, fn, /, *args, **kwargs):
        future = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def executor_capacity(executor) -> int:
    """How many tasks ``executor`` runs at once, where it says (Dask client threads, pool workers), else 1."""
    client = getattr(executor, "_client", None)
    if client is not None and hasattr(client, "nthreads"):
        return max(1, sum(client.nthreads().values()))
    return max(1, int(getattr(executor, "_max_workers", 1) or 1))


class TrialRunner:
    """Runs trials with ``n_jobs`` in flight, on its own pool or the given ``executor``.

    Use as a context manager (the pool it owns is shut down on exit).
    """

    def __init__(self, n_jobs: int = 1, executor: Executor | None = None):
        if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
            raise ValueError(f"n_jobs must be an int >= 1, or -1 for all cores, got {n_jobs!r}")
        if executor is not None and not isinstance(executor, Executor):
            raise TypeError(f"executor must be a concurrent.futures.Executor, got {type(executor).__name__}")
        self.user_executor = executor
        if executor is not None:
            self.capacity = executor_capacity(executor) if n_jobs == -1 else n_jobs
        else:
            self.capacity = (os.cpu_count() or 1) if n_jobs == -1 else n_jobs
        self._pool = None
        self.generation = 0  # bumped each time our pool is recreated

    def __enter__(self):
        return self

    def __exit__(self, kind, error, trace):
        self.close(cancel=error is not None)

    def close(self, cancel: bool = False) -> None:
        if self._pool is not None and not isinstance(self._pool, InlineExecutor):
            self._pool.shutdown(wait=not cancel, cancel_futures=cancel)
        self._pool = None

    @property
    def executor(self) -> Executor:
        if self.user_executor is not None:
            return self.user_executor
        if self._pool is None:
            self._pool = InlineExecutor() if self.capacity == 1 else ProcessPoolExecutor(
                max_workers=self.capacity, mp_context=mp_context(),
                initializer=_init_worker)
        return self._pool

    def _recreate(self, generation: int) -> None:
        if self.user_executor is None and generation == self.generation:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool, self.generation = None, self.generation + 1

    def run(self, objective, numbers, make_spec, on_start, on_finish) -> None:
        """Run trial ``numbers``: ``make_spec(number)`` just before submitting (fresh pruning
        bars), ``on_start(spec) -> handle`` (storage), ``on_finish(handle, record)``."""
        pending, suspects, in_flight = deque(numbers), deque(), {}
        while pending or suspects or in_flight:
            isolating = suspects or any(item[2] for item in in_flight.values())
            limit = 1 if isolating else self.capacity  # suspects of a crash run alone, one by one
            while len(in_flight) < limit and (suspects or pending):
                if suspects:
                    spec, handle, alone = *suspects.popleft(), True
                else:
                    spec = make_spec(pending.popleft())
                    handle, alone = on_start(spec), False
                in_flight[self._submit(objective, spec)] = (spec, handle, alone, self.generation)
            done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
            for future in done:
                if future not in in_flight:  # collected with a broken pool's other trials
                    continue
                spec, handle, alone, generation = in_flight.pop(future)
                try:
                    record = future.result()
                except BrokenProcessPool:
                    self._broken(future, (spec, handle, alone, generation), in_flight, suspects, on_finish)
                    continue
                except Exception as error:  # a lost Dask worker, a cancelled task: the trial failed
                    record = failed_record(spec, f"the trial's worker failed: {describe_error(error)}")
                on_finish(handle, record)

    def _submit(self, objective, spec) -> Future:
        try:
            return self.executor.submit(run_trial, objective, spec)
        except BrokenProcessPool as error:
            if self.user_executor is not None:
                raise RuntimeError(f"the executor passed to the search is broken ({error}); "
                                   "start a new one and resume the search") from error
            self._recreate(self.generation)
            return self.executor.submit(run_trial, objective, spec)

    def _broken(self, future, info, in_flight, suspects, on_finish) -> None:
        """A pool broke: collect every trial that was on it; a lone one is the culprit."""
        generation = info[3]
        victims = [info]
        for other in [other for other, item in in_flight.items() if item[3] == generation]:
            item = in_flight.pop(other)
            try:
                on_finish(item[1], other.result())  # it finished before the pool broke
            except BrokenProcessPool:
                victims.append(item)
        self._recreate(generation)
        if len(victims) == 1:  # it was alone on the pool: it killed its worker
            spec, handle = victims[0][:2]
            on_finish(handle, failed_record(spec, "the worker process running this trial died (BrokenProcessPool: "
                                                  "os._exit, a crash in native code, or out of memory)"))
            return
        if self.user_executor is not None:  # not ours to recreate: no isolation possible
            for spec, handle, _, _ in victims:
                on_finish(handle, failed_record(spec, "a worker process of the executor died (BrokenProcessPool)"))
            return
        suspects.extend((spec, handle) for spec, handle, _, _ in victims)


def failed_record(spec, error: str) -> TrialRecord:
    """The record of a trial whose worker never answered."""
    return TrialRecord(number=spec.number, stage=spec.stage, params=dict(spec.params), status="failed",
                       epochs=spec.epochs, seed=spec.seed, error=error)


class Progress:
    """A tqdm bar over trials: best score so far and counts of diverged / pruned / failed."""

    def __init__(self, total: int, done: list, direction: str, description: str, verbose: bool):
        self.direction, self.records = direction, list(done)
        self.bar = None
        if verbose:
            from tqdm.auto import tqdm  # noqa: PLC0415 - only when showing progress

            # disable=None: no bar when stderr is not a terminal (logs, CI)
            self.bar = tqdm(total=total, initial=len(done), desc=description, unit="trial", file=sys.stderr,
                            dynamic_ncols=True, disable=None)
            self._postfix()

    def update(self, record: TrialRecord) -> None:
        self.records.append(record)
        if self.bar is not None:
            self.bar.update(1)
            self._postfix()

    def _postfix(self) -> None:
        self.bar.set_postfix_str(self.summary(), refresh=False)

    def summary(self) -> str:
        """``best 0.912  diverged 3  pruned 5``: the bar's text."""
        scores = [record.score for record in self.records if record.status == "complete" and record.score is not None]
        best = (max if self.direction == "maximize" else min)(scores) if scores else None
        counts = {status: sum(record.status == status for record in self.records)
                  for status in ("diverged", "pruned", "failed")}
        text = f"best {best:.4g}" if best is not None else "best -"
        return text + "".join(f"  {status} {count}" for status, count in counts.items() if count)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
