"""Command lines for the sandbox backends (bubblewrap, unshare, plain), and which ones exist here.

Kept apart from `rewards/sandbox.py` so the isolation itself reads in one place: what is
visible (read-only /usr, /etc and the Python installation; a private tmpfs at /tmp), which
namespaces are new, how root drops to the run's uid (setpriv: no groups, no capabilities,
empty bounding set, no_new_privs), and how a run joins its cgroup before anything runs.
"""
from __future__ import annotations

import os
import shutil
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._config import SandboxConfig

SAFE_ENV = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
# Joins the cgroups named before "--", then becomes the real command: nothing runs outside them.
_JOIN = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"'


def is_root() -> bool:
    return os.geteuid() == 0


def site_paths(config: SandboxConfig) -> list[str]:
    if config.sys_path is not None:
        return list(config.sys_path)
    if os.path.realpath(config.python) != os.path.realpath(sys.executable):
        return []
    return [p for p in sys.path if p.endswith(("site-packages", "dist-packages")) and os.path.isdir(p)]


def _python_roots(python: str) -> list[str]:
    """Directories the interpreter needs that are not under /usr."""
    real = os.path.realpath(python)
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, os.path.dirname(os.path.dirname(real))}
    roots.add(os.path.dirname(os.path.dirname(os.path.abspath(python))))
    keep = sorted(r for r in roots if r and os.path.isdir(r) and r != "/" and not (r + "/").startswith("/usr/"))
    return [r for r in keep if not any(r != o and r.startswith(o + "/") for o in keep)]


def _ancestors(path: str) -> list[str]:
    parts = path.strip("/").split("/")[:-1]
    return ["/" + "/".join(parts[:i + 1]) for i in range(len(parts))]


def _bwrap_args(config: SandboxConfig, static_dir: str, uid: int | None) -> list[str]:
    lim = config.limits
    args = ["bwrap", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session", "--clearenv"]
    for key, value in SAFE_ENV.items():
        args += ["--setenv", key, value]
    args += ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    args += ["--ro-bind", "/etc", "/etc"]
    # The private /tmp first: a Python installation that lives under /tmp (a CI checkout there)
    # is then bound on top of it instead of being hidden by it.
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(lim.tmpfs_bytes), "--tmpfs", "/tmp"]
    made = {"/tmp"}
    for root in _python_roots(config.python):
        for parent in _ancestors(root):  # bwrap would make them 0700: the program could not reach Python
            if parent not in made:
                made.add(parent)
                args += ["--perms", "0755", "--dir", parent]
        args += ["--ro-bind", root, root]
    args += ["--ro-bind", static_dir, "/sandbox", "--chdir", "/tmp"]
    if uid is None:
        return args + ["--unshare-user", "--disable-userns", "--"]
    args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP", "--"]
    return args + _setpriv(uid)


def _setpriv(uid: int) -> list[str]:
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
            "--bounding-set=-all", "--no-new-privs", "--"]


def command(backend: str, config: SandboxConfig, static_dir: str, uid: int | None, fd: int,
             cgroup_files: list[str]) -> list[str]:
    join = ["/bin/sh", "-c", _JOIN, "sh", *cgroup_files, "--"] if cgroup_files else []
    in_box = backend == "bwrap"
    harness = "/sandbox/_harness.py" if in_box else os.path.join(static_dir, "_harness.py")
    tail = [config.python, *config.python_flags, harness, str(fd)]
    if backend == "bwrap":
        return join + _bwrap_args(config, static_dir, uid) + tail
    prefix = _setpriv(uid) if uid is not None else []
    if backend == "unshare":
        prefix = ["unshare", "--net", "--pid", "--ipc", "--uts", "--mount", "--fork", "--kill-child", "--mount-proc", *prefix]
    return join + prefix + tail


def backend_candidates() -> list[tuple[str, str | None]]:
    """(backend, why it cannot work here or None) in preference order."""
    have = {tool: shutil.which(tool) is not None for tool in ("bwrap", "unshare", "setpriv")}
    root = is_root()
    out = []
    out.append(("bwrap", None if have["bwrap"] and (have["setpriv"] or not root) else
                "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"))
    out.append(("unshare", None if root and have["unshare"] and have["setpriv"] else
                "needs root plus util-linux unshare and setpriv"))
    out.append(("none", None))
    return out
