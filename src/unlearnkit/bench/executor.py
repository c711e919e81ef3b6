"""Executors map pure job functions over specs: in-process, a local process pool, or Ray tasks.
Results are delivered as they finish (``on_done(spec, result, error)``) so the store can write each.
Keyword arguments (e.g. a progress callback) reach ``fn`` only in-process; workers run ``fn(spec)``.

Every job runs with the same torch thread count (``threads``, default 1 or ``$UNLEARNKIT_THREADS``):
float reductions depend on how many threads split them, so a fixed count is what makes ``--jobs 1`` and
``--jobs N`` (and Ray) give bit-identical rows. In-process the previous count is restored after each job.
Pool workers die with the process that started them (``PR_SET_PDEATHSIG`` on Linux, and a thread that
polls ``os.getppid()`` everywhere), so a killed bench leaves no orphans training on."""

from __future__ import annotations

import concurrent.futures as cf
import ctypes
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Callable

from ..errors import UnlearnkitError
from ..registry import Registry

EXECUTORS: Registry = Registry("executor")

OnDone = Callable[[dict, object, BaseException | None], None]

THREADS_ENV = "UNLEARNKIT_THREADS"
PARENT_POLL_S = 0.5


def default_threads() -> int:
    """Torch threads per job: ``$UNLEARNKIT_THREADS`` if set, else 1."""
    raw = os.environ.get(THREADS_ENV, "").strip()
    if not raw:
        return 1
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise UnlearnkitError(f"${THREADS_ENV}={raw!r} is not a positive integer; set it to e.g. 1 or unset it")
    return n


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads, restoring the previous count afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(PARENT_POLL_S)
        if os.getppid() != parent:  # reparented: the parent is gone
            os._exit(1)


def die_with_parent(parent: int) -> None:
    """Make this (worker) process exit when ``parent`` dies: the kernel's parent-death signal on Linux, and a
    daemon thread polling ``os.getppid()`` as the portable fallback (a reparented process sees another ppid)."""
    if sys.platform.startswith("linux"):
        try:
            PR_SET_PDEATHSIG = 1
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # died before the signal was armed
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), name="unlearnkit-parent-watch", daemon=True).start()


def _init_worker(threads: int, parent: int | None = None) -> None:
    if parent is not None:
        die_with_parent(parent)
    import torch

    torch.set_num_threads(threads)


def _call_with_threads(fn: Callable, threads: int, item):
    """Top-level (picklable) wrapper: ``fn(item)`` under ``threads`` torch threads (Ray tasks)."""
    with torch_threads(threads):
        return fn(item)


@EXECUTORS.register("local")
class LocalExecutor:
    """``jobs == 1``: in this process (progress per epoch is shown). ``jobs > 1``: a spawn-based
    process pool. Either way each job runs with ``threads`` torch threads (default 1, see the module)."""

    def __init__(self, jobs: int = 1, threads: int | None = None, **_):
        if jobs < 1:
            raise UnlearnkitError(f"--jobs must be ≥ 1, got {jobs}")
        self.jobs = jobs
        self.threads = default_threads() if threads is None else threads
        if self.threads < 1:
            raise UnlearnkitError(f"threads per job must be ≥ 1, got {self.threads}")

    def run(self, fn: Callable, specs: list[dict], on_done: OnDone, **kwargs) -> None:
        if self.jobs == 1 or len(specs) <= 1:
            for spec in specs:
                try:
                    with torch_threads(self.threads):
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
            with torch_threads(self.threads):
                return [fn(x) for x in items]
        with self.pool() as pool:
            return list(pool.map(fn, items))

    def pool(self) -> cf.ProcessPoolExecutor:
        """A spawn-based pool of ``jobs`` workers, each with ``threads`` torch threads, each exiting when this
        process dies."""
        return cf.ProcessPoolExecutor(
            self.jobs,
            mp_context=mp.get_context("spawn"),
            initializer=_init_worker,
            initargs=(self.threads, os.getpid()),
        )


@EXECUTORS.register("ray")
class RayExecutor:
    """Ray tasks on an existing cluster (``address``) or a local ``ray.init()``; same rows as local."""

    def __init__(self, jobs: int = 1, address: str | None = None, threads: int | None = None, **_):
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
        self.threads = default_threads() if threads is None else threads

    def run(self, fn: Callable, specs: list[dict], on_done: OnDone, **kwargs) -> None:
        remote = self.ray.remote(num_cpus=1)(_call_with_threads)
        pending = {remote.remote(fn, self.threads, spec): spec for spec in specs}
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


def make_executor(name: str, jobs: int = 1, address: str | None = None, threads: int | None = None):
    return EXECUTORS.get(name)(jobs=jobs, address=address, threads=threads)
