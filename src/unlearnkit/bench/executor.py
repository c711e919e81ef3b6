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
from collections import deque
from queue import Empty, SimpleQueue
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


def _warm() -> int:
    """Pool warm-up task: import what every job imports (torch, the job module) so a worker that answers
    is ready to take jobs at full speed."""
    from . import job  # noqa: F401

    return os.getpid()


def run_here(fn: Callable, spec: dict, on_done: OnDone, threads: int, **kwargs) -> None:
    """Run one job in this process with ``threads`` torch threads and report it; a job's own failure
    (UnlearnkitError, RuntimeError, ValueError) is reported as its error, anything else propagates."""
    try:
        with torch_threads(threads):
            result, error = fn(spec, **kwargs), None
    except (UnlearnkitError, RuntimeError, ValueError) as e:
        result, error = None, e
    on_done(spec, result, error)


def run_hybrid(
    fn: Callable,
    specs: list[dict],
    on_done: OnDone,
    threads: int,
    submit: Callable[[dict], cf.Future],
    capacity: Callable[[], int],
    **kwargs,
) -> None:
    """Run ``specs`` with this process as one of the workers. A feeder thread hands the next job to each
    warm remote slot as soon as one is free (``capacity()`` = slots ready now); this thread takes the next
    job itself whenever none is, so jobs start at once, remote workers join as they finish starting up,
    and a run that ends before they are ready is never slower than ``--jobs 1``. ``on_done`` is always
    called on this thread (the result store is not shared across threads). Every job runs with ``threads``
    torch threads wherever it runs, so rows do not depend on where."""
    queue = deque(specs)
    lock = threading.Lock()
    finished: SimpleQueue = SimpleQueue()  # (spec, result, error) from remote slots
    inflight: dict[cf.Future, dict] = {}
    stop = threading.Event()

    def feed() -> None:
        while not stop.is_set():
            with lock:
                while queue and len(inflight) < capacity():
                    spec = queue.popleft()
                    try:
                        inflight[submit(spec)] = spec
                    except Exception as e:  # a broken pool: report the job rather than hang the run
                        finished.put((spec, None, e))
                if not queue and not inflight:
                    return
                waiting = list(inflight)
            done, _ = cf.wait(waiting, timeout=0.05, return_when=cf.FIRST_COMPLETED) if waiting else ((), ())
            if not waiting:
                time.sleep(0.05)  # no warm slot yet
            with lock:
                for fut in done:
                    spec = inflight.pop(fut)
                    err = fut.exception()
                    finished.put((spec, None if err else fut.result(), err))

    feeder = threading.Thread(target=feed, name="unlearnkit-feeder", daemon=True)
    feeder.start()
    reported = 0
    try:
        while reported < len(specs):
            while not finished.empty():
                on_done(*finished.get())
                reported += 1
            with lock:
                spec = queue.popleft() if queue else None
            if spec is None:
                if reported < len(specs):
                    try:
                        on_done(*finished.get(timeout=0.1))
                        reported += 1
                    except Empty:
                        pass
                continue
            run_here(fn, spec, on_done, threads, **kwargs)
            reported += 1
    except BaseException:
        stop.set()
        with lock:
            for f in inflight:
                f.cancel()
        raise
    finally:
        stop.set()
        feeder.join(timeout=5)


def start_method() -> str:
    """``fork`` on Linux while CUDA is not initialised in this process: a forked worker starts with torch, the
    package and the data this process already loaded (ready in milliseconds instead of the ~3 s a spawned
    one spends importing); the pool forks all its workers at once, before its own threads start, and each
    worker sets its torch thread count before any work. ``spawn`` elsewhere (macOS, Windows, and after CUDA
    is initialised: a forked child cannot use the parent's CUDA context)."""
    import torch

    if sys.platform.startswith("linux") and not torch.cuda.is_initialized():
        return "fork"
    return "spawn"


class Executor:
    """What the runner needs of an executor: ``run(fn, specs, on_done)`` and, as a context manager, ``close()``
    at the end of the run."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        """Start workers ahead of :meth:`run` (the runner calls it before it starts any thread of its own)."""

    def close(self) -> None:
        """Release what the executor holds (worker processes)."""

    def run(self, fn: Callable, specs: list[dict], on_done: OnDone, **kwargs) -> None:
        raise NotImplementedError


@EXECUTORS.register("local")
class LocalExecutor(Executor):
    """``jobs == 1``: in this process (progress per epoch is shown). ``jobs > 1``: this process plus a
    pool of ``jobs − 1`` workers (:func:`run_hybrid`; started as :func:`start_method` says), started once and
    reused by every phase of the run (θ_o/θ_r training, then the jobs); each worker loads the data once
    (``job.dataset_for``). Either way each job runs with ``threads`` torch threads (default 1, see the module). Call
    :meth:`close` (or use the executor as a context manager) to stop the workers."""

    def __init__(self, jobs: int = 1, threads: int | None = None, **_):
        if jobs < 1:
            raise UnlearnkitError(f"--jobs must be ≥ 1, got {jobs}")
        self.jobs = jobs
        self.threads = default_threads() if threads is None else threads
        if self.threads < 1:
            raise UnlearnkitError(f"threads per job must be ≥ 1, got {self.threads}")
        self._pool: cf.ProcessPoolExecutor | None = None
        self._warm: list[cf.Future] = []

    def close(self) -> None:
        """Stop the pool's workers (queued work is cancelled); the executor can start a new pool later."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool, self._warm = None, []

    def start(self) -> None:
        """Start the ``jobs − 1`` pool workers in the background (idempotent; :meth:`run` calls it too). Forked
        workers must start before this process has threads that may hold a lock at fork time (the
        progress display's refresh thread), so the runner calls it first."""
        if self._pool is None and self.jobs > 1:
            self._pool = self.pool(self.jobs - 1)
            self._warm = [self._pool.submit(_warm) for _ in range(self.jobs - 1)]

    def ready(self) -> int:
        """Pool workers that have finished starting up."""
        return sum(f.done() and f.exception() is None for f in self._warm)

    def run(self, fn: Callable, specs: list[dict], on_done: OnDone, **kwargs) -> None:
        if self.jobs == 1 or len(specs) <= 1:
            for spec in specs:
                run_here(fn, spec, on_done, self.threads, **kwargs)
            return
        self.start()
        pool = self._pool
        assert pool is not None
        run_hybrid(fn, specs, on_done, self.threads, lambda spec: pool.submit(fn, spec), self.ready, **kwargs)

    @staticmethod
    def inner_map(fn: Callable, items: list) -> list:
        """Map inside a running job (shadow models): sequential; local parallelism is across jobs."""
        return [fn(x) for x in items]

    def pool(self, workers: int | None = None) -> cf.ProcessPoolExecutor:
        """A pool of ``workers`` (default ``jobs``) processes, each with ``threads`` torch threads, each exiting
        when this process dies; started as :func:`start_method` says."""
        return cf.ProcessPoolExecutor(
            workers or self.jobs,
            mp_context=mp.get_context(start_method()),
            initializer=_init_worker,
            initargs=(self.threads, os.getpid()),
        )


@EXECUTORS.register("ray")
class RayExecutor(Executor):
    """Ray tasks on an existing cluster (``address``: every job is a task) or a local ``ray.init()`` (this
    process plus ``jobs − 1`` task slots, as :class:`LocalExecutor`); same rows as local."""

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
        self.address = address
        self.threads = default_threads() if threads is None else threads
        self._warm: list[cf.Future] = []

    def close(self) -> None:
        """Nothing to stop: Ray keeps its worker processes (and their loaded data) for the next run."""

    def ready(self) -> int:
        """Local task slots whose worker has finished starting up (at most ``jobs − 1``)."""
        if not self._warm and self.jobs > 1:
            warm = self.ray.remote(num_cpus=1)(_warm)
            self._warm = [warm.remote().future() for _ in range(self.jobs - 1)]
        return sum(f.done() and f.exception() is None for f in self._warm)

    def run(self, fn: Callable, specs: list[dict], on_done: OnDone, **kwargs) -> None:
        remote = self.ray.remote(num_cpus=1)(_call_with_threads)
        refs: dict[cf.Future, object] = {}

        def submit(spec: dict) -> cf.Future:
            ref = remote.remote(fn, self.threads, spec)
            fut = ref.future()
            refs[fut] = ref
            return fut

        def done(spec: dict, result, error: BaseException | None) -> None:
            if isinstance(error, self.ray.exceptions.RayTaskError):
                error = error.as_instanceof_cause()
            on_done(spec, result, error)

        capacity = (lambda: len(specs)) if self.address else self.ready
        try:
            run_hybrid(fn, specs, done, self.threads, submit, capacity, **kwargs)
        except BaseException:
            for ref in refs.values():
                self.ray.cancel(ref, force=True)
            raise

    @staticmethod
    def inner_map(fn: Callable, items: list) -> list:
        """Map inside a running job (shadow models): nested Ray tasks on the same cluster."""
        import ray

        remote = ray.remote(num_cpus=1)(fn)
        return ray.get([remote.remote(x) for x in items])


def make_executor(name: str, jobs: int = 1, address: str | None = None, threads: int | None = None):
    return EXECUTORS.get(name)(jobs=jobs, address=address, threads=threads)
