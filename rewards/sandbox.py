"""A sandbox for model-generated Python: one process tree per run, isolated, limited, killed.

Backends, best first (``SandboxConfig.backend="auto"`` picks the first that works):

- ``bwrap`` (bubblewrap): new pid, net, ipc, uts and mount namespaces; the filesystem
  is read-only and shows only /usr, /etc and the Python installation, plus a private,
  size-capped tmpfs at /tmp that is the working directory; the environment is cleared.
  As root, the program runs as an unprivileged uid of its own (leased from ``uid_base``
  up, see `rewards/_uids.py`: two concurrent runs never share a uid, even across processes) with every capability dropped and no_new_privs,
  so RLIMIT_NPROC binds and it cannot signal the caller; as a normal user a user
  namespace is used instead. The whole tree dies with the pid namespace.
- ``unshare`` (root only, util-linux): namespaces and the uid switch, but NO read-only
  filesystem: the program can write wherever its uid may (/tmp, /var/tmp, /dev/shm).
- ``none``: a plain child process with rlimits (and a uid switch when root). No
  network, filesystem or pid isolation.

Anything below ``bwrap`` logs a warning and emits a RuntimeWarning; with
``require_isolation=True`` (the default) it is refused with ``SandboxUnavailable``.

Limits (``Limits``): CPU seconds, address space, processes, open files and file size are
rlimits set inside the sandbox by the trusted harness before untrusted code runs. Memory
of the whole run (processes, tmpfs, memfd) is bounded by a per-slot memory cgroup when the
machine allows one (``cgroup="auto"`` warns when it does not, ``"require"`` refuses; see
`rewards/_cgroup.py`). Wall time and output size are enforced here: stdout/stderr are read
incrementally, only the last ``output_bytes`` are kept, past ``output_kill_bytes`` the tree
is killed. After every run, every process left in the slot's cgroup or owned by the run's
uid is SIGKILLed (that catches ``setsid`` daemons and SIGTERM-ignorers even where no pid
namespace exists).

Speed: a run costs ~20-30 ms of process start (bwrap ~7 ms, Python with -S ~12 ms, the
harness ~3 ms) plus ~15 ms when it joins a memory cgroup (the kernel's cgroup migration
waits; measured on the CI machine kind). Runs go in parallel on ``max_workers`` threads
(default 2 x cpus, since much of a run is waiting on the kernel).

Departures and gaps: no seccomp filter (the kernel surface is that of any unprivileged
user); under root ``bwrap`` the program may create nested user namespaces (bwrap's
--disable-userns needs --unshare-user, which as root would map the program to uid 0
outside); a test covers that a nested namespace cannot remount the filesystem writable.
"""
from __future__ import annotations

import dataclasses
import logging
import marshal
import os
import queue
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import warnings
import weakref
from concurrent.futures import ThreadPoolExecutor

from ._cgroup import SlotCgroups
from ._config import BACKENDS, Limits, SandboxConfig
from ._commands import SAFE_ENV, backend_candidates, command, is_root, site_paths
from ._pump import Pump, parse_reports, sweep_uid
from ._uids import UidLease

logger = logging.getLogger(__name__)

HARNESS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_harness.py")
__all__ = ["BACKENDS", "Limits", "RunResult", "Sandbox", "SandboxConfig", "SandboxUnavailable", "get_sandbox", "sweep_uid"]


class SandboxUnavailable(RuntimeError):
    """The isolation the configuration requires is not available on this machine."""


@dataclasses.dataclass
class RunResult:
    reports: list[dict]
    output: str
    output_bytes: int
    output_truncated: bool
    returncode: int | None
    timed_out: bool
    killed: str | None  # "wall" | "output" | None
    wall_s: float
    backend: str
    forged_lines: int = 0
    oom_killed: bool = False


# ----------------------------------------------------------------------------- the sandbox


class Sandbox:
    """Runs harness jobs in isolated process trees, up to `max_workers` at a time."""

    def __init__(self, config: SandboxConfig | None = None):
        self.config = config or SandboxConfig()
        self.static_dir = tempfile.mkdtemp(prefix="align-sandbox-")
        os.chmod(self.static_dir, 0o755)
        shutil.copy(HARNESS, os.path.join(self.static_dir, "_harness.py"))
        os.chmod(os.path.join(self.static_dir, "_harness.py"), 0o644)
        self.workers = self.config.max_workers or 2 * (os.cpu_count() or 1)
        self._sys_path = site_paths(self.config)
        self.cgroups = self._make_cgroups()
        self._uids = UidLease(self.config.uid_base, self.workers) if is_root() else None
        self.uids: list[int] = list(self._uids.uids) if self._uids else []  # one per slot (root only)
        self._finalizer = weakref.finalize(self, _release, self.static_dir, self.cgroups, self._uids)
        try:
            for uid in self._uids.uids if self._uids else ():
                sweep_uid(uid)  # a crashed holder of this uid may have left processes behind
            self.backend, self.problems = self._choose_backend()
            self._announce()
        except BaseException:
            self._finalizer()
            raise
        self._slots: queue.Queue[int] = queue.Queue()
        for slot in range(self.workers):
            self._slots.put(slot)
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="sandbox")

    # -- setup
    def _make_cgroups(self) -> SlotCgroups | None:
        if self.config.cgroup == "off":
            return None
        lim = self.config.limits
        groups = SlotCgroups(f"align-sandbox-{os.getpid()}-{id(self):x}", self.workers,
                             lim.memory_bytes + lim.tmpfs_bytes)
        if groups.version is None:
            msg = f"sandbox: no cgroup ({groups.problem}); memory is bounded per process only"
            if self.config.cgroup == "require":
                raise SandboxUnavailable(msg + ". Refusing because cgroup='require'.")
            logger.warning(msg)
            warnings.warn(msg, RuntimeWarning, stacklevel=3)
            return None
        return groups

    def _choose_backend(self) -> tuple[str, list[str]]:
        wanted = self.config.backend
        problems = []
        for name, why in backend_candidates():
            if wanted not in ("auto", name):
                continue
            why = why or self._probe(name)
            if why is None:
                return name, problems
            problems.append(f"{name}: {why}")
        raise SandboxUnavailable(f"sandbox backend {wanted!r} cannot run here: " + "; ".join(problems))

    def _probe(self, backend: str) -> str | None:
        self.backend = backend
        try:
            result = self._run_once({"mode": "exec", "code": "pass"}, slot=0, wall_s=30.0)
        except OSError as exc:
            return f"probe failed to start: {exc}"
        if any(r.get("exit") for r in result.reports):
            return None
        return f"probe failed (returncode {result.returncode}): {result.output[-500:].strip()}"

    def _announce(self) -> None:
        if self.backend == "bwrap":
            logger.info("sandbox: bubblewrap isolation (%s)", "uid switch" if is_root() else "user namespace")
            return
        msg = (f"SANDBOX ISOLATION INCOMPLETE: using backend {self.backend!r} "
               f"({'; '.join(self.problems) or 'requested'}). "
               + ("No read-only filesystem. " if self.backend == "unshare" else
                  "No network, filesystem or pid isolation. ")
               + "Untrusted code can harm this machine.")
        if self.config.require_isolation:
            raise SandboxUnavailable(msg + " Refusing because require_isolation=True; install bubblewrap "
                                     "or set require_isolation=False to accept the risk.")
        logger.warning(msg)
        warnings.warn(msg, RuntimeWarning, stacklevel=3)

    def describe(self) -> dict:
        full = self.backend == "bwrap"
        uid_switch = is_root()
        return {
            "backend": self.backend, "workers": self.workers, "problems": list(self.problems),
            "network_isolated": self.backend in ("bwrap", "unshare"),
            "pid_namespace": self.backend in ("bwrap", "unshare"),
            "read_only_filesystem": full,
            "private_tmp": full,
            "clean_environment": True,
            "unprivileged_uid": uid_switch or full,
            "process_limit": uid_switch or full,
            "cgroup": self.cgroups.version if self.cgroups else None,
            "limits": dataclasses.asdict(self.config.limits),
        }

    # -- running
    def run(self, job: dict, wall_s: float | None = None) -> RunResult:
        slot = self._slots.get()
        try:
            return self._run_once(job, slot, wall_s)
        finally:
            self._slots.put(slot)

    def map(self, jobs: list[dict], wall_s: float | None = None) -> list[RunResult]:
        return list(self._pool.map(lambda job: self.run(job, wall_s), jobs))

    def _run_once(self, job: dict, slot: int, wall_s: float | None) -> RunResult:
        limits = self.config.limits
        nonce = secrets.token_hex(16)
        payload = marshal.dumps({**job, "nonce": nonce, "limits": self._harness_limits(), "sys_path": self._sys_path})
        uid = self.uids[slot] if self.uids else None
        workdir = None if self.backend == "bwrap" else self._make_workdir(uid)
        cgroup_files = self.cgroups.procs_files(slot) if self.cgroups else []
        ooms = self.cgroups.oom_kills(slot) if self.cgroups else 0
        res_r, res_w = os.pipe()
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                command(self.backend, self.config, self.static_dir, uid, res_w, cgroup_files),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                pass_fds=(res_w,), env=dict(SAFE_ENV), cwd=workdir or "/", start_new_session=True)
        except BaseException:
            os.close(res_r)
            os.close(res_w)
            self._cleanup(None, uid, workdir, slot)
            raise
        os.close(res_w)
        pump = Pump(proc, payload, res_r, limits)
        try:
            pump.run(start + (wall_s or limits.wall_s))
        finally:
            pump.close()
            os.close(res_r)
            self._cleanup(proc, uid, workdir, slot)
        reports, forged = parse_reports(bytes(pump.result), nonce)
        return RunResult(
            reports=reports, output=bytes(pump.tail).decode("utf-8", "replace"), output_bytes=pump.total,
            output_truncated=pump.total > len(pump.tail), returncode=proc.returncode,
            timed_out=pump.killed == "wall", killed=pump.killed, wall_s=time.monotonic() - start,
            backend=self.backend, forged_lines=forged,
            oom_killed=bool(self.cgroups) and self.cgroups.oom_kills(slot) > ooms)

    def _harness_limits(self) -> dict:
        lim = self.config.limits.for_harness()
        if self.backend == "none" and not is_root():
            lim.pop("nproc")  # shared with every process of this user: would break the caller
        return lim

    def _make_workdir(self, uid: int | None) -> str:
        path = tempfile.mkdtemp(prefix="run-", dir=self.static_dir)
        if uid is not None:
            os.chown(path, uid, uid)
        return path

    def _cleanup(self, proc: subprocess.Popen | None, uid: int | None, workdir: str | None, slot: int) -> None:
        if proc is not None:
            for kill in (lambda: os.killpg(proc.pid, signal.SIGKILL), proc.kill):
                try:
                    kill()
                except OSError:
                    pass
            proc.wait()
            for stream in (proc.stdin, proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
        if self.cgroups:
            self.cgroups.kill_members(slot)
        if uid is not None:
            sweep_uid(uid)
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._finalizer()


def _release(static_dir: str, cgroups: SlotCgroups | None, uids: UidLease | None) -> None:
    if cgroups:
        cgroups.close()
    if uids:
        for uid in uids.uids:
            sweep_uid(uid)
        uids.release()
    shutil.rmtree(static_dir, ignore_errors=True)


_SHARED: dict[SandboxConfig, Sandbox] = {}
_SHARED_LOCK = threading.Lock()


def get_sandbox(config: SandboxConfig | dict | None = None) -> Sandbox:
    """One shared Sandbox per configuration in this process."""
    config = SandboxConfig.from_dict(config)
    with _SHARED_LOCK:
        if config not in _SHARED:
            _SHARED[config] = Sandbox(config)
        return _SHARED[config]
