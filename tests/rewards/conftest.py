"""Shared fixtures for the rewards tests: a sandbox configuration with short limits."""
import os

import pytest

from rewards.sandbox import Limits, SandboxConfig, get_sandbox

FAST = SandboxConfig(limits=Limits(wall_s=6.0, cpu_s=4.0))


@pytest.fixture(scope="session")
def fast_cfg() -> SandboxConfig:
    return FAST


@pytest.fixture(scope="session")
def fast_box(fast_cfg):
    """The shared sandbox for FAST (full isolation required: fails loudly without bubblewrap)."""
    return get_sandbox(fast_cfg)


@pytest.fixture(scope="session")
def leftovers():
    """A function listing the processes still alive that belong to a sandbox (its uids or cgroups)."""
    return _sandbox_processes


def _sandbox_processes(box) -> list[int]:
    pids = set()
    if os.geteuid() == 0:
        uids = set(box.uids)
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    if os.stat(f"/proc/{name}").st_uid in uids:
                        pids.add(int(name))
                except OSError:
                    pass
    if box.cgroups:
        for slot in range(box.workers):
            pids |= box.cgroups.members(slot)
    return sorted(pids)
