"""The sandbox's settings (leaf module: the sandbox, its command builder and its output pump all read them)."""
from __future__ import annotations

import dataclasses
import sys

BACKENDS = ("bwrap", "unshare", "none")


@dataclasses.dataclass(frozen=True)
class Limits:
    wall_s: float = 10.0
    cpu_s: float = 10.0
    memory_bytes: int = 1 << 30
    nproc: int = 32
    nofile: int = 64
    fsize_bytes: int = 16 << 20
    tmpfs_bytes: int = 64 << 20
    output_bytes: int = 64 << 10
    output_kill_bytes: int = 16 << 20

    def for_harness(self) -> dict:
        keys = ("cpu_s", "memory_bytes", "nproc", "nofile", "fsize_bytes")
        return {k: getattr(self, k) for k in keys}


@dataclasses.dataclass(frozen=True)
class SandboxConfig:
    backend: str = "auto"
    require_isolation: bool = True
    max_workers: int = 0  # 0: 2 * os.cpu_count() (a run spends much of its time waiting on the kernel)
    python: str = sys.executable
    # -S: no site processing (~20 ms of a venv's .pth imports per run); the harness puts
    # `sys_path` (default: this interpreter's site-packages) on sys.path itself.
    python_flags: tuple[str, ...] = ("-I", "-S")
    sys_path: tuple[str, ...] | None = None
    uid_base: int = 61000
    cgroup: str = "auto"  # "auto": use one when possible, warn when not; "require": refuse without; "off"
    limits: Limits = Limits()

    @classmethod
    def from_dict(cls, data: "SandboxConfig | dict | None") -> "SandboxConfig":
        """Build from a recipe mapping; limits may be nested under "limits" or given flat."""
        if data is None or isinstance(data, cls):
            return data or cls()
        data = dict(data)
        limit_keys = {f.name for f in dataclasses.fields(Limits)}
        limits = dict(data.pop("limits", None) or {})
        limits.update({k: data.pop(k) for k in list(data) if k in limit_keys})
        for key in ("python_flags", "sys_path"):
            if data.get(key) is not None:
                data[key] = tuple(data[key])
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown sandbox settings {sorted(unknown)}; known: "
                             f"{sorted({f.name for f in dataclasses.fields(cls)} | limit_keys)}")
        return cls(limits=Limits(**limits), **data)

    def __post_init__(self):
        if self.backend not in ("auto",) + BACKENDS:
            raise ValueError(f"SandboxConfig.backend must be one of auto, {', '.join(BACKENDS)}; got {self.backend!r}")
        if self.cgroup not in ("auto", "require", "off"):
            raise ValueError(f"SandboxConfig.cgroup must be auto, require or off; got {self.cgroup!r}")
