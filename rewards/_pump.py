"""Process plumbing for sandbox runs: feed stdin, read capped output and the result channel,
parse the harness's reports, and kill whatever a run leaves behind.

Output is read incrementally and only a tail is kept, so a program printing without end
costs the caller a fixed buffer, never its memory. Reports are dict literals after a nonce;
``ast.literal_eval`` parses them, so nothing the program writes is ever executed here.
"""
from __future__ import annotations

import ast
import logging
import os
import selectors
import signal
import subprocess
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._config import Limits

logger = logging.getLogger("rewards.sandbox")
_RESULT_CAP = 1 << 20


def parse_reports(data: bytes, nonce: str) -> tuple[list[dict], int]:
    """Dict literals after the nonce; anything else is counted as forged. literal_eval never runs code."""
    reports, forged = [], 0
    prefix = nonce.encode() + b" "
    for line in data.splitlines():
        if not line.startswith(prefix) or len(line) > 65536:
            forged += 1
            continue
        try:
            msg = ast.literal_eval(line[len(prefix):].decode("utf-8"))
        except (ValueError, SyntaxError, UnicodeDecodeError, MemoryError, RecursionError, TypeError):
            forged += 1
            continue
        if isinstance(msg, dict):
            reports.append(msg)
    return reports, forged


class Pump:
    """Feed stdin, read output (capped, tail kept) and the result pipe until EOF or a limit."""

    def __init__(self, proc: subprocess.Popen, payload: bytes, res_fd: int, limits: Limits):
        self.proc, self.limits = proc, limits
        self.payload, self.pos = memoryview(payload), 0
        self.tail, self.total, self.result = bytearray(), 0, bytearray()
        self.killed: str | None = None
        self.sel = selectors.DefaultSelector()
        self._add(proc.stdin.fileno(), selectors.EVENT_WRITE, "in")
        self._add(proc.stdout.fileno(), selectors.EVENT_READ, "out")
        self._add(res_fd, selectors.EVENT_READ, "res")

    def _add(self, fd, events, tag):
        os.set_blocking(fd, False)
        self.sel.register(fd, events, tag)

    def run(self, deadline: float) -> None:
        exited_at = None
        while self.sel.get_map() and not self.killed:
            now = time.monotonic()
            if now >= deadline:
                self.killed = "wall"
                break
            if exited_at is None and self.proc.poll() is not None:
                exited_at = now
            if exited_at is not None and now - exited_at > 0.5:
                break  # main process gone, a leftover still holds a pipe: the sweep kills it
            for key, _ in self.sel.select(min(deadline - now, 0.1)):
                self._step(key.fd, key.data)

    def _step(self, fd, tag) -> None:
        if tag == "in":
            try:
                self.pos += os.write(fd, self.payload[self.pos:self.pos + 65536])
            except (BrokenPipeError, BlockingIOError) as exc:
                if isinstance(exc, BlockingIOError):
                    return
                self.pos = len(self.payload)
            if self.pos >= len(self.payload):
                self.sel.unregister(fd)
                self.proc.stdin.close()
            return
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        if not data:
            self.sel.unregister(fd)
            return
        if tag == "res":
            self.result += data[: max(0, _RESULT_CAP - len(self.result))]
            return
        self.total += len(data)
        self.tail += data
        if len(self.tail) > self.limits.output_bytes:
            del self.tail[: len(self.tail) - self.limits.output_bytes]
        if self.total > self.limits.output_kill_bytes:
            self.killed = "output"

    def close(self) -> None:
        for key in list(self.sel.get_map().values()):
            self.sel.unregister(key.fd)
        self.sel.close()


def _processes_of(uid: int) -> list[int]:
    """Live (non-zombie) processes of `uid`. Zombies hold no resources but a pid; who reaps
    them is the host's init outside a pid namespace (the "none" backend)."""
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:
                    with open(f"/proc/{name}/stat", "rb") as f:
                        state = f.read().rpartition(b")")[2].split()[0]
                    if state != b"Z":
                        pids.append(int(name))
            except (OSError, IndexError):
                pass
    return pids


def sweep_uid(uid: int, rounds: int = 50) -> int:
    """SIGKILL every process of `uid` until none is left; return how many were killed."""
    if uid < 1000:
        raise ValueError(f"refusing to sweep system uid {uid}")
    killed = 0
    for _ in range(rounds):
        pids = _processes_of(uid)
        if not pids:
            return killed
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
        time.sleep(0.005)
    logger.error("sandbox: processes of uid %d survive %d kill rounds", uid, rounds)
    return killed
