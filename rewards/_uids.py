"""Unprivileged uids for sandbox slots, leased so that no two live slots share one.

The uid is what makes RLIMIT_NPROC bind per run and what the post-run sweep kills by, so
two runs must never share it: not two slots of one sandbox, not two sandboxes of one
process, not two reward-worker processes on one machine. Each uid is leased by holding an
exclusive ``flock`` on ``<lock_dir>/<uid>.lock`` for the sandbox's lifetime; the kernel
drops the lock when the holder dies, so a crashed process leaks nothing. Before a leased
uid is first used, any process still running under it is killed (left by a crash).
"""
from __future__ import annotations

import fcntl
import os

LOCK_DIR = "/tmp/align-sandbox-uids"
_SPAN = 10000


class UidLease:
    """`count` uids from `base` up (skipping ones leased elsewhere); release() or close the process to free."""

    def __init__(self, base: int, count: int, lock_dir: str = LOCK_DIR):
        os.makedirs(lock_dir, mode=0o700, exist_ok=True)
        self.uids: list[int] = []
        self._fds: list[int] = []
        for uid in range(base, base + _SPAN):
            if len(self.uids) == count:
                return
            fd = os.open(os.path.join(lock_dir, f"{uid}.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            self.uids.append(uid)
            self._fds.append(fd)
        self.release()
        raise RuntimeError(f"no {count} free sandbox uids in [{base}, {base + _SPAN})")

    def release(self) -> None:
        for fd in self._fds:
            os.close(fd)
        self._fds.clear()
