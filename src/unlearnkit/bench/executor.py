"""Executors map pure job functions over specs: in-process, a local process pool, or Ray tasks.
Results are delivered as they finish (``on_done(spec, result, error)``) so the store can write each.
Keyword arguments (e.g. a progress callback) reach ``fn`` only in-process; workers run ``fn(spec)``."""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
from typing import Callable

from ..errors import UnlearnkitError
from ..registry import Registry

EXECUTORS: Registry = Registry("executor")

OnDone = Callable[[dict, object, BaseException | None], None]


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


@EXECUTORS.register("local")
class LocalExecutor:
    """``jobs == 1``: in this process (progress per epoch is shown). ``jobs > 1``: a spawn-based
    process pool, each worker with ``cpu_count // jobs`` torch threads."""

    def __init__(self, jobs: int = 1, **_):
        if jobs < 1:
            raise UnlearnkitError(f"--jobs must be ≥ 1, got {jobs}")
        self.jobs = jobs

    def run(self, fn: Callable, specs: list[dict], on_done: OnDone, **kwargs) -> None:
        if self.jobs == 1 or len(specs) <= 1:
            for spec in specs:
                try:
                    result, error = fn(spec, **kwargs), None
                except (UnlearnkitError, RuntimeError, ValueError) as e:
                    result, error = None, e
                on_done(spec, result, error)
            return
        with self.pool() as pool:
            futures = {pool.submit(fn, spec): spec for spec in specs}
            try:
                for fut in cf.as_completed(futures):
                    err = fut.exception()
                    on_done(futures[fut], None if err else fut.result(), err)
            except BaseException:
                for f in futures:
                    f.cancel()
                raise

    @staticmethod
    def inner_map(fn: Callable, items: list) -> list:
        """Map inside a running job (shadow models): sequential; local parallelism is across jobs."""
        return [fn(x) for x in items]

    def map(self, fn: Callable, items: list) -> list:
        """Plain ordered map over a process pool of ``jobs`` workers."""
        if self.jobs == 1:
            return [fn(x) for x in items]
        with self.pool() as pool:
            return list(pool.map(fn, items))

    def pool(self) -> cf.ProcessPoolExecutor:
        """A spawn-based pool of ``jobs`` workers sharing the CPU cores between their torch threads."""
        threads = max(1, (os.cpu_count() or 1) // self.jobs)
        return cf.ProcessPoolExecutor(self.jobs, mp_context=mp.get_context("spawn"),
                                      initializer=_init_worker, initargs=(threads,))


@EXECUTORS.register("ray")
class RayExecutor:
    """Ray tasks on an existing cluster (``address``) or a local ``ray.init()``; same rows as local."""

    def __init__(self, jobs: int = 1, address: str | None = None, **_):
        try:
            import ray
        except ImportError:
            raise UnlearnkitError("--executor ray needs Ray: pip install 'unlearnkit[ray]'") from None
        self.ray = ray
        if not ray.is_initialized():
            kwargs = dict(include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
            if address:
                ray.init(address=address, **kwargs)
            else:
                ray.init(num_cpus=max(jobs, 1), **kwargs)
        self.jobs = jobs

    def run(self, fn: Callable, specs: list[dict], on_done: OnDone, **kwargs) -> None:
        remote = self.ray.remote(num_cpus=1)(fn)
        pending = {remote.remote(spec): spec for spec in specs}
        try:
            while pending:
                ready, _ = self.ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    spec = pending.pop(ref)
                    try:
                        on_done(spec, self.ray.get(ref), None)
                    except self.ray.exceptions.RayTaskError as e:
                        on_done(spec, None, e.as_instanceof_cause())
        except BaseException:
            for ref in pending:
                self.ray.cancel(ref, force=True)
            raise

    @staticmethod
    def inner_map(fn: Callable, items: list) -> list:
        """Map inside a running job (shadow models): nested Ray tasks on the same cluster."""
        import ray

        remote = ray.remote(num_cpus=1)(fn)
        return ray.get([remote.remote(x) for x in items])

    def map(self, fn: Callable, items: list) -> list:
        return self.inner_map(fn, items)


def make_executor(name: str, jobs: int = 1, address: str | None = None):
    return EXECUTORS.get(name)(jobs=jobs, address=address)
