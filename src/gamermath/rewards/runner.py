"""The one way rewards are called: isolated worker processes, per-sample timeouts, a cache.

``RewardRunner.score(reward, completions, columns)`` takes a batch and returns one float per
sample, in input order. For each sample it first computes the reward's cheap ``cache_key``
in this process; a key already verified (earlier, or by another sample of the same GRPO group)
never leaves the process, nor does one the reward's optional ``key_verdict`` decides
(``gamermath.rewards.module_hooks``). The rest goes to a pool of long-lived worker
processes, one sample at a time per worker. A worker still busy after the reward's
``timeout`` is killed (SIGKILL, which also stops C-level sympy work that ``signal.alarm``
cannot) and replaced; the sample gets the fallback value and counts as a timeout. An
exception, a non-float or a NaN gets the fallback and counts as an error. Workers run
under an address-space limit (``RLIMIT_AS``, ``memory_limit_mb``) and a per-sample CPU-time
limit (``RLIMIT_CPU``, ``cpu_time_limit_s``): a sample that exceeds either gets the fallback
and counts as ``oom`` or ``cpu_limit``, and the worker is replaced. Workers ignore SIGINT, so
Ctrl-C in a terminal reaches only the trainer, which decides what it means; a sample is never
scored as an error because of it. Nothing a reward does can hang, crash or exhaust the memory
of the caller.

Workers come from a ``forkserver`` that imports math-verify once, so a replacement worker
starts in milliseconds and no worker is forked from a process that holds CUDA or torch threads.
"""

from __future__ import annotations

import importlib.util
import math
import multiprocessing
import multiprocessing.spawn as spawn
import pickle
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from gamermath.errors import GmrError
from gamermath.recipe.schema import REWARD_CPU_S, REWARD_MEMORY_MB
from gamermath.rewards.cache import VerdictCache, freeze_options, text_digest
from gamermath.rewards.module_hooks import module_function
from gamermath.rewards.options import resolve_options
from gamermath.rewards.worker import check_value
from gamermath.specs import Reward

#: Statuses a sample can end with.
STATUSES = ("ok", "timeout", "error", "oom", "cpu_limit")
#: Per-reward counters: samples seen, outcomes other than ok, and cache hits.
COUNTERS = ("calls", "timeouts", "errors", "oom", "cpu_limit", "cache_hits")
#: The counter each failed status adds to.
STATUS_COUNTER = {"timeout": "timeouts", "error": "errors", "oom": "oom", "cpu_limit": "cpu_limit"}
#: Most samples sent to a worker in one message.
CHUNK_MAX = 16


@dataclass(frozen=True)
class SampleResult:
    """One sample's outcome: the reward used for training and how it was obtained."""

    reward: float
    status: str
    seconds: float
    detail: str = ""
    cached: bool = False


def default_workers() -> int:
    """One worker per available CPU core, at most 8."""
    try:
        import os

        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = multiprocessing.cpu_count()
    return max(1, min(8, cores))


_PRELOAD_LOCK = threading.Lock()
_STARTING = threading.local()
_original_preparation_data = spawn.get_preparation_data


def _preparation_data(name: str) -> dict[str, Any]:
    """multiprocessing's preparation data, minus the parent's ``__main__`` for our workers.

    Without this, a worker would re-run a training script that lacks an
    ``if __name__ == "__main__"`` guard. Other processes the program starts are unaffected
    (the flag is thread-local and only set while one of our workers starts).
    """
    data = _original_preparation_data(name)
    if getattr(_STARTING, "worker", False):
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
    return data


spawn.get_preparation_data = _preparation_data


def preload_modules(rewards: Sequence[Reward]) -> list[str]:
    """Modules the worker forkserver imports once, so that every worker inherits them.

    SIGINT off (``forkserver_init``), the worker loop, each reward's own module, and whatever
    that module lists in an optional ``GMR_PRELOAD`` sequence (``sympy-equivalence`` lists a
    math-verify warm-up).
    """
    modules = ["gamermath.rewards.forkserver_init", "gamermath.rewards.worker"]
    for reward in rewards:
        name = getattr(reward.score, "__module__", None)
        if not name or name == "__main__" or name in modules:
            continue
        module = sys.modules.get(name)
        extra = list(getattr(module, "GMR_PRELOAD", ())) if module else []
        modules.extend(m for m in [name, *extra] if importlib.util.find_spec(m) is not None)
    return list(dict.fromkeys(modules))


def _context(rewards: Sequence[Reward]) -> Any:
    """The forkserver context, preloading ``preload_modules(rewards)`` if it is not running."""
    ctx = multiprocessing.get_context("forkserver")
    with _PRELOAD_LOCK:
        ctx.set_forkserver_preload(preload_modules(rewards))  # ignored once the server runs
    return ctx


class _Worker:
    """One worker process and the chunk of samples it is busy with."""

    def __init__(self, ctx: Any, limits: tuple[int | None, float | None]) -> None:
        from gamermath.rewards import worker

        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=worker.serve, args=(child, *limits), daemon=True)
        _STARTING.worker = True
        try:
            self.process.start()
        finally:
            _STARTING.worker = False
        child.close()
        self.chunk: list[Hashable] = []
        self.next = 0
        self.deadline = 0.0
        self.started = 0.0

    def send(self, chunk: list[Hashable], payload: bytes, timeout: float) -> None:
        """Hand over a chunk of samples; the timeout restarts at every reported result."""
        self.conn.send_bytes(payload)
        self.chunk, self.next = chunk, 0
        self.progress(timeout)

    def progress(self, timeout: float) -> None:
        self.started = time.perf_counter()
        self.deadline = self.started + timeout

    def kill(self) -> None:
        try:
            self.process.kill()
            self.process.join(timeout=2)
        except Exception:  # already gone
            pass
        self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.process.join(timeout=0.5)
        if self.process.is_alive():
            self.kill()
        else:
            self.conn.close()


def _check_limits(memory_limit_mb: Any, cpu_time_limit_s: Any) -> None:
    if memory_limit_mb is not None and (
        isinstance(memory_limit_mb, bool) or not isinstance(memory_limit_mb, int)
        or memory_limit_mb < 64
    ):
        raise GmrError(
            f"reward memory limit {memory_limit_mb!r} must be a whole number of MiB (at least "
            "64) or none"
        )
    if cpu_time_limit_s is not None and (
        isinstance(cpu_time_limit_s, bool) or not isinstance(cpu_time_limit_s, (int, float))
        or not math.isfinite(cpu_time_limit_s) or cpu_time_limit_s <= 0
    ):
        raise GmrError(
            f"reward CPU-time limit {cpu_time_limit_s!r} must be a positive number of seconds "
            "or none"
        )


class RewardRunner:
    """Scores batches of completions with any ``Reward``, isolated, cached and counted.

    ``workers``: worker processes (default: one per core, at most 8), started lazily.
    ``fallback``: the score of a sample that timed out or failed.
    ``cache_size``: verdicts remembered (0 disables the cache).
    ``memory_limit_mb``: each worker's address-space limit (``RLIMIT_AS``) in MiB; None: none.
    ``cpu_time_limit_s``: CPU seconds one sample may use (``RLIMIT_CPU``, rounded up to whole
    seconds); None: none. The wall-clock ``timeout`` of each reward applies as well.
    ``initial_counters``: counters to start from (``{reward: {counter: n}}``), e.g. those of
    the run being resumed; see ``restore_counters``.
    """

    def __init__(
        self,
        workers: int | None = None,
        fallback: float = 0.0,
        cache_size: int = 200_000,
        memory_limit_mb: int | None = REWARD_MEMORY_MB,
        cpu_time_limit_s: float | None = REWARD_CPU_S,
        initial_counters: Mapping[str, Mapping[str, float]] | None = None,
    ) -> None:
        _check_limits(memory_limit_mb, cpu_time_limit_s)
        self.max_workers = workers if workers and workers > 0 else default_workers()
        self.fallback = float(fallback)
        self.cache = VerdictCache(cache_size)
        self.memory_limit_mb = memory_limit_mb
        self.cpu_time_limit_s = cpu_time_limit_s
        self.counters: dict[str, dict[str, int]] = {}
        #: Per reward, the detail of its latest failed sample (for warnings and errors).
        self.last_failure: dict[str, str] = {}
        #: Rewards a term scores under ``timeout_policy = "skip"`` (``make_reward_funcs`` fills
        #: it): their timeouts leave samples unscorable, a failure for the health guard.
        self.skip_on_timeout: set[str] = set()
        if initial_counters:
            self.restore_counters(initial_counters)
        self._workers: list[_Worker] = []
        self._ctx: Any = None
        self._lock = threading.Lock()
        self._closed = False

    # -- public API -------------------------------------------------------------------------

    def score(
        self,
        reward: Reward,
        completions: Sequence[str],
        columns: Sequence[Mapping[str, Any]],
        options: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> list[float]:
        """One float per completion, in order; timeouts and errors score ``fallback``."""
        return [r.reward for r in self.results(reward, completions, columns, options, timeout)]

    def results(
        self,
        reward: Reward,
        completions: Sequence[str],
        columns: Sequence[Mapping[str, Any]],
        options: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        use_cache: bool = True,
    ) -> list[SampleResult]:
        """Like ``score`` but with each sample's status (ok/timeout/error), time and detail.

        ``use_cache=False`` runs every sample in a worker: no cache, no de-duplication.
        """
        if len(completions) != len(columns):
            raise GmrError(
                f"reward '{reward.name}': {len(completions)} completions but "
                f"{len(columns)} rows of columns"
            )
        resolved = resolve_options(reward, options)
        limit = float(timeout if timeout is not None else reward.timeout)
        if not (math.isfinite(limit) and limit > 0):
            raise GmrError(
                f"reward '{reward.name}': timeout {limit:g} must be a positive number of seconds"
            )
        frozen = freeze_options(resolved)
        fn = reward.score
        identity = f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', '')}"
        counter = self._counter(reward.name)
        verdict = module_function(reward, "key_verdict") if use_cache else None
        rows = [self._columns_for(reward, row) for row in columns]
        texts = [text if isinstance(text, str) else str(text) for text in completions]

        out: list[SampleResult | None] = [None] * len(texts)
        pending: dict[Hashable, list[int]] = {}
        for i, (text, row) in enumerate(zip(texts, rows, strict=True)):
            if not use_cache:
                pending[("uncached", i)] = [i]
                continue
            ck = self._cache_key(reward, text, row, resolved)
            key = (reward.name, reward.plugin, identity, frozen, ck)
            if key[-1] is None:
                key = ("uncached", i)
            else:
                hit = self.cache.get(key)
                if hit is not None:
                    out[i] = SampleResult(hit, "ok", 0.0, cached=True)
                    counter["cache_hits"] += 1
                    continue
            if key in pending:
                counter["cache_hits"] += 1
            elif verdict is not None and ck is not None:
                value = self._key_verdict(reward, verdict, ck, resolved)
                if value is not None:  # decided from the key: no worker needed
                    self.cache.put(key, value)
                    out[i] = SampleResult(value, "ok", 0.0)
                    continue
            pending.setdefault(key, []).append(i)
        counter["calls"] += len(texts)

        if pending:
            if getattr(fn, "__module__", None) == "__main__":
                raise GmrError(
                    f"reward '{reward.name}': its score function lives in the __main__ script; "
                    "move it to an importable module so worker processes can load it"
                )
            try:
                pickle.dumps(fn)
            except (pickle.PicklingError, AttributeError, TypeError) as exc:
                raise GmrError(
                    f"reward '{reward.name}' from {reward.plugin or 'an unknown package'} "
                    f"cannot be sent to a worker process ({type(exc).__name__}); its score "
                    "must be a module-level function"
                ) from None
            items = {
                key: (fn, texts[indices[0]], rows[indices[0]], resolved)
                for key, indices in pending.items()
            }
            groups = {key: repr(rows[indices[0]]) for key, indices in pending.items()}
            with self._lock:
                done = self._dispatch(reward, items, groups, limit)
            for key in pending:
                if key not in done:  # cannot happen; never let a sample go missing
                    done[key] = SampleResult(self.fallback, "error", 0.0, "no result")
            for key, result in done.items():
                if result.status in STATUS_COUNTER:
                    counter[STATUS_COUNTER[result.status]] += len(pending[key])
                    self.last_failure[reward.name] = result.detail or result.status
                elif key[0] != "uncached":
                    self.cache.put(key, result.reward)
                first, *rest = pending[key]
                out[first] = result
                for j in rest:
                    out[j] = SampleResult(
                        result.reward, result.status, 0.0, result.detail, cached=True
                    )
        return [r for r in out if r is not None]

    def close(self) -> None:
        """Stop every worker process."""
        self._closed = True
        for w in self._workers:
            w.stop()
        self._workers.clear()

    def __enter__(self) -> RewardRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            for w in self._workers:
                w.kill()
        except Exception:
            pass

    def restore_counters(self, counts: Mapping[str, Mapping[str, float]]) -> None:
        """Continue counting from earlier totals (a resumed run): ``{reward: {"calls": n,
        "errors": n, ...}}`` (see ``trl_adapter.counters_from_logs``); unknown kinds are
        ignored."""
        for name, kinds in counts.items():
            counter = self._counter(str(name))
            for kind, value in kinds.items():
                if kind in counter:
                    counter[kind] = int(value)

    # -- internals --------------------------------------------------------------------------

    def _counter(self, name: str) -> dict[str, int]:
        return self.counters.setdefault(name, dict.fromkeys(COUNTERS, 0))

    @staticmethod
    def _columns_for(reward: Reward, row: Mapping[str, Any]) -> dict[str, Any]:
        missing = [c for c in reward.columns if c not in row]
        if missing:
            present = ", ".join(sorted(map(str, row))) or "none"
            raise GmrError(
                f"reward '{reward.name}' needs column '{missing[0]}', which the data lacks "
                f"(columns present: {present})"
            )
        return {c: row[c] for c in reward.columns}

    @staticmethod
    def _cache_key(
        reward: Reward, text: str, row: Mapping[str, Any], options: Mapping[str, Any]
    ) -> Hashable | None:
        if reward.cache_key is None:
            return ("digest", text_digest(text, row))
        try:
            key = reward.cache_key(text, row, options)
            hash(key)
        except Exception:  # a broken cache_key only costs the cache, never the run
            return None
        return ("key", key)

    @staticmethod
    def _key_verdict(
        reward: Reward, verdict: Any, key: Hashable, options: Mapping[str, Any]
    ) -> float | None:
        """The module's ``key_verdict`` on a ``("key", k)`` cache key, if it gives a finite
        value inside the reward's range; None (ask a worker) otherwise, or if it fails."""
        if not (isinstance(key, tuple) and key[0] == "key"):
            return None
        try:
            value = verdict(key[1], options)
        except Exception:
            return None
        if value is None or check_value(value)[0] != "ok":
            return None
        low, high = reward.output_range
        return float(value) if low <= value <= high else None

    def prepare(self, rewards: Sequence[Reward]) -> None:
        """Name the rewards this runner will serve before its first worker starts, so the
        worker forkserver preloads (and warms) what they need. Optional."""
        if self._ctx is None:
            self._ctx = _context(rewards)

    def _new_worker(self, reward: Reward) -> _Worker:
        if self._closed:
            raise GmrError("this RewardRunner is closed")
        if self._ctx is None:
            self._ctx = _context([reward])
        worker = _Worker(self._ctx, (self.memory_limit_mb, self.cpu_time_limit_s))
        self._workers.append(worker)
        return worker

    def _retire(self, worker: _Worker) -> None:
        worker.kill()
        if worker in self._workers:
            self._workers.remove(worker)

    def _chunks(self, keys: list[Hashable], groups: Mapping[Hashable, str]) -> list[list]:
        """Consecutive samples with the same columns (the same gold) travel together, so a
        worker parses each gold once; chunks stay small enough to keep every worker busy."""
        size = max(1, min(CHUNK_MAX, -(-len(keys) // (2 * self.max_workers))))
        chunks: list[list[Hashable]] = []
        for key in keys:
            last = chunks[-1] if chunks else None
            if last and len(last) < size and groups[last[-1]] == groups[key]:
                last.append(key)
            else:
                chunks.append([key])
        return chunks

    def _dispatch(
        self,
        reward: Reward,
        items: Mapping[Hashable, tuple],
        groups: Mapping[Hashable, str],
        limit: float,
    ) -> dict[Hashable, SampleResult]:
        """Run every item on the worker pool; one ``SampleResult`` per item key.

        If the caller is interrupted (Ctrl-C's KeyboardInterrupt in the trainer), workers
        still busy are replaced, so no stale result can reach a later batch.
        """
        busy: dict[Connection, _Worker] = {}
        try:
            return self._run_queue(reward, items, groups, limit, busy)
        except BaseException:
            for worker in list(busy.values()):
                self._retire(worker)
            raise

    def _death(self, worker: _Worker) -> tuple[str, str]:
        """The status and detail of a sample whose worker process died."""
        worker.process.join(timeout=1)
        code = worker.process.exitcode
        if code == -signal.SIGXCPU and self.cpu_time_limit_s is not None:
            return "cpu_limit", f"over the CPU-time limit of {self.cpu_time_limit_s:g} s"
        return "error", f"worker process died (exit {code})"

    def _run_queue(
        self,
        reward: Reward,
        items: Mapping[Hashable, tuple],
        groups: Mapping[Hashable, str],
        limit: float,
        busy: dict[Connection, _Worker],
    ) -> dict[Hashable, SampleResult]:
        queue = deque(self._chunks(list(items), groups))
        done: dict[Hashable, SampleResult] = {}
        idle = [w for w in self._workers if w.process.is_alive()]
        for w in list(self._workers):
            if w not in idle:
                self._retire(w)

        def replace(worker: _Worker) -> None:
            """Retire a worker; the samples of its chunk not yet done go back to the queue."""
            rest = worker.chunk[worker.next :]
            if rest:
                queue.appendleft(rest)
            busy.pop(worker.conn, None)
            self._retire(worker)

        def fail(worker: _Worker, status: str, detail: str) -> None:
            """The current sample fails and its worker is replaced."""
            now = time.perf_counter()
            done[worker.chunk[worker.next]] = SampleResult(
                self.fallback, status, now - worker.started, detail
            )
            worker.next += 1
            replace(worker)

        while queue or busy:
            while queue and (idle or len(self._workers) < self.max_workers):
                worker = idle.pop() if idle else self._new_worker(reward)
                chunk = queue.popleft()
                try:
                    worker.send(chunk, pickle.dumps([items[k] for k in chunk]), limit)
                except (OSError, ValueError):  # died while idle: replace it, retry the chunk
                    self._retire(worker)
                    queue.appendleft(chunk)
                    continue
                busy[worker.conn] = worker
            if not busy:
                continue
            now = time.perf_counter()
            wait_for = max(0.0, min(w.deadline for w in busy.values()) - now)
            for conn in wait(list(busy), timeout=wait_for):
                worker = busy[conn]
                try:
                    while worker.next < len(worker.chunk) and conn.poll():
                        index, status, value, detail, seconds = conn.recv()
                        if index < 0:  # the chunk could not be loaded at all
                            for key in worker.chunk[worker.next :]:
                                done[key] = SampleResult(self.fallback, status, 0.0, detail)
                            worker.next = len(worker.chunk)
                            break
                        value = value if status == "ok" else self.fallback
                        done[worker.chunk[index]] = SampleResult(value, status, seconds, detail)
                        worker.next = index + 1
                        worker.progress(limit)
                        if status == "oom":  # a worker that ran out of memory is replaced
                            replace(worker)
                            break
                except (EOFError, OSError):
                    fail(worker, *self._death(worker))
                    continue
                if worker.conn not in busy:
                    continue
                if worker.next >= len(worker.chunk):
                    del busy[conn]
                    idle.append(worker)
            now = time.perf_counter()
            for worker in list(busy.values()):
                if now >= worker.deadline:
                    fail(worker, "timeout", f"no result within {limit:g} s; worker killed")
        return done
