"""CPU thread policy: how many torch threads to use on a machine that other work may be using too.

The default number of torch intra-op threads is

    threads = max(1, (cpus - busy) // local_processes),   busy = ceil(max(0, others - 0.25))

where ``cpus`` is the number of CPUs this process may run on (``os.sched_getaffinity``, so ``taskset``,
cgroup cpusets and ``docker --cpuset-cpus`` are respected), ``others`` the mean number of runnable tasks that
are not ours (ten reads of ``procs_running`` in ``/proc/stat``, 10 ms apart, each minus our own threads in
state R from ``/proc/self/task``), and ``local_processes`` torchrun's ``LOCAL_WORLD_SIZE`` (1 without
torchrun). A CPU counts as busy once other tasks keep it busy more than a quarter of the time. The count is
never above ``cpus``: no oversubscription. Inter-op threads are set to 1 (no code here uses inter-op
parallelism, ``torch.jit.fork``).

Why not simply all CPUs (torch's default): the renderers (bezier13, oil, curve, dots) run many small parallel
regions, and each region ends at a barrier that waits for every thread. When another process takes a core,
the thread on it is descheduled for a scheduler time slice and every barrier waits for it. Measured on this
project's 2-core CPU (issue 16): the bezier13 workload (fwd+bwd, 16 windows of 128 px x 64 strokes, 5 times)
took 8.5 s with 2 threads and 13.7 s with 1 thread on the quiet machine, and with one busy process beside it
36.9 s with 2 threads (4.4x slower than quiet) but 15.2 s with 1 thread. ``scripts/bench_load.py`` re-measures
this; its table is in ``common/README.md``.

How the threads wait: a thread that reaches a barrier first spins, then sleeps. libgomp (torch's OpenMP on
Linux) spins 300000 times by default, milliseconds of burnt CPU per barrier whenever a partner thread is
descheduled, CPU time taken from the partner itself on a loaded machine. The policy sets
``GOMP_SPINCOUNT`` = :data:`SPIN_COUNT` (1000 spins, tens of microseconds; libgomp itself uses 100 when
threads outnumber CPUs) unless the user set ``GOMP_SPINCOUNT`` or ``OMP_WAIT_POLICY``. Measured with the pure
PyTorch bezier13 path (its many small regions; the issue's workload, 14:08-14:32 UTC, load average 8-11 from
other users): 2 threads with libgomp's default spin did not finish in 150 s (47.8 CPU-s), with 1000 spins
39.5 s (19.2 CPU-s), passive (``OMP_WAIT_POLICY=PASSIVE``, no spin) 30.9 s (15.3 CPU-s), 1 thread 57.9 s
(15.0 CPU-s). Passive waits cost a wake-up at every region on a quiet machine; the short spin is the middle.
Nearly quiet (15:19-15:29 UTC, ``bench_load.py --quick``): default spin 73.5 s (78.7 CPU-s), 1000 spins
16.5 s (17.3), 1 thread 12.2 s (12.2); with one busy process 1000 spins 35.0 s, default spin > 120 s.

Order of precedence: ``--threads N`` > ``OMP_NUM_THREADS`` set by the user > the policy above. The choice is
made right after the flags are parsed (``common.cli.ArgumentParser.parse_args``), before torch is imported:
it is written to ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` (read by torch when it starts, and inherited by
child processes, marked as the policy's with ``STROKELAB_POLICY_THREADS`` so that a child entry script
decides afresh) and, when torch is already imported, applied with ``torch.set_num_threads``. Long runs may
call :func:`recheck_threads` between passes to follow a load that changed.

This module imports nothing heavy (no torch, no numpy) and does nothing at import time.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from dataclasses import asdict, dataclass

__all__ = [
    "ThreadChoice",
    "usable_cpus",
    "other_runnable_tasks",
    "load_average",
    "choose_threads",
    "configure_threads",
    "recheck_threads",
    "last_thread_choice",
]

BUSY_FRACTION = 0.25  # a CPU counts as busy when others use more than this fraction of it
# libgomp's spins before a thread waiting at a barrier sleeps (its default, 300000, is milliseconds of
# spinning: the CPU time a descheduled partner costs at every barrier); see the module docstring
SPIN_COUNT = 1000
POLICY_ENV = "STROKELAB_POLICY_THREADS"  # marks an OMP_NUM_THREADS that the policy (not the user) wrote

_last_choice: ThreadChoice | None = None


@dataclass(frozen=True)
class ThreadChoice:
    """What :func:`configure_threads` decided, and from what.

    Attributes:
        threads: torch intra-op threads (>= 1).
        source: ``"--threads"``, ``"OMP_NUM_THREADS"`` (set by the user) or ``"policy"``.
        cpus: CPUs this process may use (affinity).
        others: mean runnable tasks that are not ours (tasks; ``None`` when not measured).
        load1: 1-minute load average (``None`` where ``/proc/loadavg`` is absent).
    """

    threads: int
    source: str
    cpus: int
    others: float | None
    load1: float | None

    def to_dict(self) -> dict:
        """The fields as a JSON-able dict (for ``metrics.json`` and benchmark logs)."""
        return asdict(self)

    def describe(self) -> str:
        """One line for a log, e.g. ``threads: 1 of 2 CPUs (policy; 1.0 other runnable tasks, load 1.3)``."""
        parts = [self.source]
        if self.others is not None:
            parts.append(f"{self.others:.1f} other runnable tasks")
        if self.load1 is not None:
            parts.append(f"load {self.load1:.2f}")
        return f"threads: {self.threads} of {self.cpus} CPUs ({'; '.join(parts)})"


def usable_cpus() -> int:
    """Number of CPUs this process may run on: ``len(os.sched_getaffinity(0))``, else ``os.cpu_count()``
    (platforms without affinity, e.g. macOS), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _procs_running(stat_path: str) -> int | None:
    try:
        with open(stat_path) as f:
            for line in f:
                if line.startswith("procs_running"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _own_running(task_dir: str) -> int:
    """Our threads in state R (running or runnable); 1 (the reading thread) when it cannot be read."""
    count = 0
    try:
        names = os.listdir(task_dir)
    except OSError:
        return 1
    for name in names:
        try:
            with open(os.path.join(task_dir, name, "stat")) as f:
                text = f.read()
        except OSError:
            continue  # the thread ended meanwhile
        # "pid (comm) S ..."; comm may contain spaces or parentheses: the state follows the last ')'
        state = text[text.rfind(")") + 2 : text.rfind(")") + 3]
        count += state == "R"
    return max(1, count)


def other_runnable_tasks(
    samples: int = 10,
    interval: float = 0.01,
    stat_path: str = "/proc/stat",
    task_dir: str = "/proc/self/task",
) -> float | None:
    """Mean number of runnable tasks (threads) on the machine that are not ours.

    Args:
        samples: reads of ``procs_running`` (>= 1); interval: seconds between reads.
        stat_path, task_dir: the files read (arguments so that tests can point them at fakes).

    Returns:
        A float >= 0 in tasks, or ``None`` where ``/proc/stat`` is unavailable (not Linux).
    """
    values = []
    for k in range(max(1, samples)):
        if k:
            time.sleep(interval)
        running = _procs_running(stat_path)
        if running is None:
            return None
        values.append(max(0, running - _own_running(task_dir)))
    return sum(values) / len(values)


def load_average(path: str = "/proc/loadavg") -> float | None:
    """The 1-minute load average (runnable + uninterruptible tasks, exponentially averaged), or ``None``."""
    try:
        with open(path) as f:
            return float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        with contextlib.suppress(AttributeError, OSError):
            return os.getloadavg()[0]
        return None


def choose_threads(cpus: int, others: float | None, local_processes: int = 1) -> int:
    """The policy's thread count (pure function; see the module docstring).

    Args:
        cpus: CPUs this process may use (>= 1).
        others: mean runnable tasks that are not ours (``None``: unknown, treated as 0).
        local_processes: processes of this job on the machine (torchrun's ``LOCAL_WORLD_SIZE``).

    Returns:
        ``max(1, (cpus - ceil(max(0, others - 0.25))) // local_processes)``, never above ``cpus``.

    Example: 2 CPUs, 0.1 others -> 2; 2 CPUs, 1.0 others (one busy process) -> 1; 16 CPUs, 3.0 others -> 13.
    """
    cpus = max(1, int(cpus))
    busy = math.ceil(max(0.0, (others or 0.0) - BUSY_FRACTION))
    return max(1, min(cpus, (cpus - busy) // max(1, int(local_processes))))


def _user_omp_threads() -> int | None:
    """``OMP_NUM_THREADS`` when the user set it (not when an earlier policy decision wrote it)."""
    value = os.environ.get("OMP_NUM_THREADS")
    if not value or value == os.environ.get(POLICY_ENV):
        return None
    try:
        n = int(value.split(",")[0])
    except ValueError:
        return None
    return n if n > 0 else None


def _apply(threads: int) -> None:
    """Make ``threads`` torch's intra-op count: env vars for a torch not imported yet (and children), and
    ``torch.set_num_threads`` when it is. Inter-op threads: 1, when torch still allows it. A short OpenMP
    spin (``GOMP_SPINCOUNT`` = :data:`SPIN_COUNT`) unless the user set ``GOMP_SPINCOUNT`` or
    ``OMP_WAIT_POLICY``; libgomp reads it when torch loads it: it takes effect only before torch's import."""
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    if "GOMP_SPINCOUNT" not in os.environ and "OMP_WAIT_POLICY" not in os.environ:
        os.environ["GOMP_SPINCOUNT"] = str(SPIN_COUNT)
    torch = sys.modules.get("torch")
    if torch is None or not hasattr(torch, "set_num_threads"):
        return
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    if torch.get_num_interop_threads() != 1:
        with contextlib.suppress(RuntimeError):  # allowed only before any inter-op work has started
            torch.set_num_interop_threads(1)


def configure_threads(threads: int | None = None, measure: bool = True) -> ThreadChoice:
    """Choose and apply the number of torch CPU threads for this process.

    Args:
        threads: ``--threads N`` (> 0) to force N; ``None`` for ``OMP_NUM_THREADS`` when the user set it, else
            the policy of the module docstring (costs about 0.1 s of sampling).
        measure: sample the machine's load (``False``: treat it as idle; for tests and timing).

    Returns:
        The :class:`ThreadChoice` (also kept for :func:`last_thread_choice` and :func:`recheck_threads`).

    Raises:
        ValueError: ``threads`` is not a positive integer.
    """
    global _last_choice
    cpus, load1 = usable_cpus(), load_average()
    user_omp = _user_omp_threads()
    if threads is not None:
        if int(threads) != threads or threads <= 0:
            raise ValueError(f"threads must be a positive integer, got {threads!r}")
        choice = ThreadChoice(int(threads), "--threads", cpus, None, load1)
    elif user_omp is not None:
        choice = ThreadChoice(user_omp, "OMP_NUM_THREADS", cpus, None, load1)
    else:
        others = other_runnable_tasks() if measure else 0.0
        local = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
        choice = ThreadChoice(choose_threads(cpus, others, local), "policy", cpus, others, load1)
    _apply(choice.threads)
    if choice.source == "policy":
        os.environ[POLICY_ENV] = str(choice.threads)
    else:
        os.environ.pop(POLICY_ENV, None)
    _last_choice = choice
    return choice


def recheck_threads(log=None) -> ThreadChoice | None:
    """Re-run the policy between passes of a long run, when the last choice was the policy's (a user's
    ``--threads`` / ``OMP_NUM_THREADS`` is never changed). Call it while no torch work is running.

    Args:
        log: optional ``print``-like callable, told when the count changes.

    Returns:
        The new :class:`ThreadChoice`, or ``None`` when the policy is not in charge.
    """
    if _last_choice is None or _last_choice.source != "policy":
        return None
    before = _last_choice.threads
    choice = configure_threads(None)
    if log is not None and choice.threads != before:
        log(f"{choice.describe()}, was {before}")
    return choice


def last_thread_choice() -> ThreadChoice | None:
    """The most recent :class:`ThreadChoice` of this process (``None`` before the first)."""
    return _last_choice
