"""Per-slot memory cgroups for sandbox runs, when this machine lets us make them.

rlimits bound each process; a memory cgroup bounds the whole run: the sum of its
processes' memory, its tmpfs and its memfd pages. One cgroup per sandbox slot,
made once and reused (a run joins it before ``exec`` through a tiny ``sh`` wrapper, so
no untrusted code ever runs outside it). Its member list is also a kill list that no
``setsid``/double fork escapes.

The process count is bounded by RLIMIT_NPROC on the run's own uid, not by the ``pids``
controller: on this kernel a run in a new pid namespace leaves one ``pids.current`` charge
behind for a second or two after every process is gone, so back-to-back runs in a slot
hit any tight ``pids.max`` (measured: +1 per run, back to 0 about 2 s later).

cgroup v1 (a ``memory`` hierarchy) is what the CI machines have and is tested; cgroup v2 is
supported when the current cgroup's subtree can enable ``memory`` (systemd ``Delegate=yes``),
but that path is untested here. When neither works the sandbox reports it
(``describe()["cgroup"]``) and runs with rlimits only.
"""
from __future__ import annotations

import os
import signal

def _own_paths() -> dict[str, str]:
    """controller ("memory", ..., or "" for v2) -> this process's cgroup path."""
    out = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for c in controllers.split(",") if controllers else [""]:
                out[c] = path
    return out


def _mounts() -> dict[str, tuple[str, str]]:
    """controller (or "" for the v2 hierarchy) -> (mount root, mount point)."""
    out = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields, (fstype, _src, opts) = left.split(), right.split()[:3]
            if fstype == "cgroup2":
                out.setdefault("", (fields[3], fields[4]))
            elif fstype == "cgroup":
                for opt in opts.split(","):
                    if opt == "memory":
                        out[opt] = (fields[3], fields[4])
    return out


def _dir_for(controller: str, paths: dict, mounts: dict) -> str | None:
    if controller not in paths or controller not in mounts:
        return None
    root, point = mounts[controller]
    path = paths[controller]
    rel = path[len(root):] if root != "/" and path.startswith(root) else path
    return os.path.join(point, rel.lstrip("/"))


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


class SlotCgroups:
    """cgroups named `tag`-<slot>; `problem` says why there are none."""

    def __init__(self, tag: str, slots: int, memory_bytes: int):
        self.version: str | None = None
        self.problem: str | None = None
        self.dirs: dict[int, list[str]] = {}
        try:
            self._make(tag, slots, memory_bytes)
        except OSError as exc:
            self.close()
            self.version, self.problem = None, f"cannot create cgroups: {exc}"

    def _make(self, tag: str, slots: int, memory_bytes: int) -> None:
        paths, mounts = _own_paths(), _mounts()
        mem = _dir_for("memory", paths, mounts)
        if mem and os.path.exists(os.path.join(mem, "memory.limit_in_bytes")):
            self.version = "v1"
            for slot in range(slots):
                # No swap inside a slot: with swap on, a run past its limit pages out for
                # seconds (tmpfs and memfd pages are swappable) instead of being OOM-killed.
                # memsw is lifted first so a reused cgroup accepts any new memory limit.
                self.dirs[slot] = [self._child(mem, f"{tag}-{slot}", (
                    ("memory.memsw.limit_in_bytes", -1), ("memory.limit_in_bytes", memory_bytes),
                    ("memory.memsw.limit_in_bytes", memory_bytes), ("memory.swappiness", 0)))]
            return
        v2 = _dir_for("", paths, mounts)
        if v2 and os.path.exists(os.path.join(v2, "cgroup.controllers")):
            with open(os.path.join(v2, "cgroup.subtree_control")) as f:
                if "memory" not in f.read().split():
                    _write(os.path.join(v2, "cgroup.subtree_control"), "+memory")
            self.version = "v2"
            for slot in range(slots):
                self.dirs[slot] = [self._child(v2, f"{tag}-{slot}", (("memory.max", memory_bytes), ("memory.swap.max", 0)))]
            return
        self.problem = "no writable memory cgroup hierarchy found"

    @staticmethod
    def _child(base: str, name: str, settings: tuple) -> str:
        """Make cgroup `name` under `base` and write (file, value) `settings` in order; a
        file this kernel lacks (memsw without swap accounting) is skipped."""
        d = os.path.join(base, name)
        os.makedirs(d, exist_ok=True)
        for key, value in settings:
            if os.path.exists(os.path.join(d, key)):
                _write(os.path.join(d, key), str(value))
        return d

    def procs_files(self, slot: int) -> list[str]:
        return [os.path.join(d, "cgroup.procs") for d in self.dirs.get(slot, [])]

    def members(self, slot: int) -> set[int]:
        pids = set()
        for path in self.procs_files(slot):
            try:
                with open(path) as f:
                    pids.update(int(x) for x in f.read().split())
            except OSError:
                pass
        return pids

    def kill_members(self, slot: int, rounds: int = 50) -> int:
        killed = 0
        for _ in range(rounds):
            pids = self.members(slot)
            if not pids:
                break
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                    killed += 1
                except OSError:
                    pass
            os.sched_yield()
        return killed

    def oom_kills(self, slot: int) -> int:
        """Cumulative OOM kills in the slot's memory cgroup."""
        dirs = self.dirs.get(slot) or []
        if not dirs:
            return 0
        name = "memory.oom_control" if self.version == "v1" else "memory.events"
        try:
            with open(os.path.join(dirs[0], name)) as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except OSError:
            pass
        return 0

    def close(self) -> None:
        for slot, dirs in list(self.dirs.items()):
            self.kill_members(slot)
            for d in dirs:
                try:
                    os.rmdir(d)
                except OSError:
                    pass
        self.dirs.clear()
