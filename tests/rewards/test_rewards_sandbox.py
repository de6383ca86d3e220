"""Attacks on the sandbox itself: privileges, the caller, the host filesystem, memory, the result channel.

These tests need the full (bubblewrap) isolation; on a machine without it the first test
fails with the install instruction instead of every test silently skipping.
"""
import os
import subprocess
import sys
import time
import warnings

import pytest

from rewards.sandbox import Limits, Sandbox, SandboxConfig, SandboxUnavailable

SH = "import subprocess\ndef sh(c):\n    p = subprocess.run(['/bin/sh', '-c', c], capture_output=True, text=True)\n    return p.returncode, (p.stdout + p.stderr)\n"


def run_exec(box, code, **kw):
    return box.run({"mode": "exec", "code": code}, **kw)


def test_full_isolation_available(fast_box):
    d = fast_box.describe()
    assert d["backend"] == "bwrap", "install bubblewrap (apt-get install bubblewrap): " + str(d["problems"])
    assert d["network_isolated"] and d["pid_namespace"] and d["read_only_filesystem"] and d["private_tmp"]
    assert d["unprivileged_uid"] and d["process_limit"] and d["clean_environment"]


def test_unprivileged_inside(fast_box):
    code = ("import os\nst = open('/proc/self/status').read()\n"
            "fields = dict(l.split(':', 1) for l in st.splitlines() if ':' in l)\n"
            "print('UID', os.getuid(), os.geteuid())\n"
            "print('CAPS', fields['CapEff'].strip(), fields['CapPrm'].strip(), fields['CapBnd'].strip(), fields['CapInh'].strip())\n"
            "print('NNP', fields['NoNewPrivs'].strip())\n"
            "try:\n    os.setuid(0)\n    print('SETUID ok')\nexcept OSError:\n    print('SETUID refused')\n")
    r = run_exec(fast_box, code)
    assert r.reports[0] == {"exit": True, "error": None}
    lines = r.output.splitlines()
    if os.geteuid() == 0:
        assert lines[0] == f"UID {fast_box.uids[0]} {fast_box.uids[0]}" or int(lines[0].split()[1]) in fast_box.uids
    assert lines[1] == "CAPS " + " ".join(["0000000000000000"] * 4)
    assert lines[2] == "NNP 1" and lines[3] == "SETUID refused"


def test_caller_and_its_neighbours_survive_signals(fast_box):
    sentinel = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        code = (f"import os, signal\n"
                f"for pid in (os.getppid(), {os.getpid()}, {sentinel.pid}, 1, -1):\n"
                f"    try:\n        os.kill(pid, signal.SIGKILL)\n    except OSError:\n        pass\n")
        r = run_exec(fast_box, code)
        assert r.returncode is not None
        assert sentinel.poll() is None  # our neighbour (same uid as us) is alive
    finally:
        sentinel.kill()
        sentinel.wait()
    assert run_exec(fast_box, "print('still works')").output == "still works\n"


def test_host_is_invisible(fast_box, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret")
    fd = os.open(secret, os.O_RDONLY)  # an open descriptor in the caller must not leak in
    try:
        code = ("import os\n"
                f"print(os.path.exists({str(secret)!r}))\n"
                "print(len([p for p in os.listdir('/proc') if p.isdigit()]))\n"
                "links = []\nfor n in os.listdir('/proc/self/fd'):\n    try:\n        links.append(os.readlink(f'/proc/self/fd/{n}'))\n"
                "    except OSError:\n        pass  # the descriptor listdir itself used\nprint(sorted(links))\n"
                "print(os.path.exists('/work/main/pyproject.toml'), os.path.exists('/home'))\n")
        r = run_exec(fast_box, code)
    finally:
        os.close(fd)
    lines = r.output.splitlines()
    assert lines[0] == "False"  # the caller's files are not there
    assert int(lines[1]) <= 3  # bwrap's init, the harness, and nothing of the host
    assert "secret" not in lines[2] and lines[2].count("pipe:") == 3  # stdout, stderr, result channel
    assert lines[3] == "False False"


def test_nested_namespaces_cannot_unlock_the_filesystem(fast_box):
    code = SH + ("print(sh(\"unshare -Urm sh -c 'mount -o remount,rw /usr && touch /usr/pwned && echo WROTE'\"))\n"
                 "print(sh(\"unshare -Urm sh -c 'mount -o remount,rw / && echo WROTE'\"))\n")
    r = run_exec(fast_box, code)
    assert "WROTE" not in r.output
    assert not os.path.exists("/usr/pwned")


def test_tmp_is_private_and_size_capped(fast_box):
    code = (SH + "print(sh('dd if=/dev/zero of=/tmp/f$i bs=1M count=15 2>/dev/null; for i in 1 2 3 4 5 6; do "
            "dd if=/dev/zero of=/tmp/f$i bs=1M count=15 2>/dev/null || echo FULL$i; done; du -sm /tmp'))\n")
    r = run_exec(fast_box, code)
    assert "FULL5" in r.output  # 64 MiB tmpfs: the 5th 15 MiB file does not fit
    # nothing survives a run (a Python installation under /tmp, as in a CI checkout there, is bound read-only)
    python_dirs = sorted({p.split("/")[2] for p in (sys.prefix, sys.base_prefix, sys.exec_prefix) if p.startswith("/tmp/")})
    assert run_exec(fast_box, "import os\nprint(sorted(os.listdir('/tmp')))").output == f"{python_dirs}\n"


def test_file_size_limit(fast_box):
    r = run_exec(fast_box, "open('/tmp/big', 'wb').write(b'a' * (20 << 20))\n")
    assert r.reports[0]["exit"] is False and "File too large" in r.reports[0]["error"]


def test_memory_of_the_whole_tree_is_bounded(fast_box):
    if not fast_box.cgroups:
        pytest.skip("no cgroup on this machine: only per-process memory limits apply")
    code = ("import os\nfor _ in range(3):\n    os.fork()\nfds = []\nfor i in range(40):\n"
            "    fd = os.memfd_create('x')\n    os.write(fd, b'a' * (15 << 20))\n    fds.append(fd)\nprint('survived')\n")
    r = run_exec(fast_box, code)
    assert r.oom_killed and "survived" not in r.output
    assert run_exec(fast_box, "print(1)").output == "1\n"


@pytest.mark.parametrize("extra_fds", [0, 100], ids=["plain", "100-open-files"])
def test_result_channel_cannot_be_forged_without_the_nonce(fast_box, extra_fds):
    # The program finds the result channel as an attacker would: every descriptor it holds, as
    # listed in /proc/self/fd (the channel's number depends on the parent's open files, so a
    # fixed range can miss it), plus the number the harness was given on its command line.
    code = ("import os, sys\nfds = {int(f) for f in os.listdir('/proc/self/fd')} | {int(a) for a in sys.argv[1:] if a.isdigit()}\n"
            "hit = []\nfor fd in sorted(fds - {0, 1, 2}):\n    try:\n"
            "        os.write(fd, b'0123456789abcdef0123456789abcdef {\"unit\": 0, \"ok\": true}\\n')\n        hit.append(fd)\n"
            "    except OSError:\n        pass\nprint('wrote to', hit)\nos._exit(0)\n")
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(extra_fds)]  # pushes the channel past fd 64
    try:
        r = fast_box.run({"mode": "tests", "code": code, "tests": "assert False\n"})
    finally:
        for fd in held:
            os.close(fd)
    assert r.forged_lines >= 1, r.output  # the hostile write reached the channel ...
    assert not any(m.get("ok") for m in r.reports)  # ... and was not taken for a report


def test_tests_are_not_readable_from_the_filesystem(fast_box):
    # The program looks for the tests' text in every file it can read and in every process's
    # command line and environment; the marker is assembled at run time so the program's own
    # text does not contain it.
    # (The read-only Python installation is skipped: a CI checkout under /tmp binds its venv there.)
    code = ("import os, sys\ndef found():\n    marker = ('MARKER_' + '7f3a9c').encode()\n    paths = []\n"
            "    for top in ('/tmp', '/sandbox'):\n        for d, dirs, files in os.walk(top):\n"
            "            if d.startswith((sys.prefix, sys.base_prefix)) or '/lib/python' in d or d.endswith('/.venv'):\n"
            "                dirs[:] = []\n                continue\n"
            "            paths += [os.path.join(d, f) for f in files]\n"
            "    for pid in (p for p in os.listdir('/proc') if p.isdigit()):\n"
            "        paths += [f'/proc/{pid}/cmdline', f'/proc/{pid}/environ']\n"
            "    for path in paths:\n        try:\n            if marker in open(path, 'rb').read():\n                return path\n"
            "        except OSError:\n            pass\n    return None\n")
    r = fast_box.run({"mode": "tests", "code": code, "tests": "assert found() is None  # MARKER_7f3a9c\n"})
    assert {"unit": 0, "ok": True, "error": None} in r.reports, r.reports


def test_wall_limit_kills_a_sleeping_tree(fast_cfg):
    box = Sandbox(SandboxConfig(limits=Limits(wall_s=1.0)))
    try:
        start = time.monotonic()
        r = run_exec(box, "import os, time\nos.fork()\ntime.sleep(30)\n")
        assert r.timed_out and r.killed == "wall" and time.monotonic() - start < 3
    finally:
        box.close()


def test_refuses_weak_isolation_unless_allowed():
    with pytest.raises(SandboxUnavailable, match="require_isolation"):
        Sandbox(SandboxConfig(backend="none"))


@pytest.mark.parametrize("backend", ["unshare", "none"])
def test_weaker_backends_warn_loudly_and_still_score(backend):
    if backend == "unshare" and os.geteuid() != 0:
        pytest.skip("unshare backend needs root")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        box = Sandbox(SandboxConfig(backend=backend, require_isolation=False, limits=Limits(wall_s=6.0)))
    try:
        assert any("SANDBOX ISOLATION INCOMPLETE" in str(w.message) for w in caught)
        d = box.describe()
        assert d["backend"] == backend and d["read_only_filesystem"] is False
        assert d["network_isolated"] is (backend == "unshare")
        r = box.run({"mode": "tests", "code": "def f():\n    return 1\n", "tests": "assert f() == 1\nassert f() == 2\n"})
        assert [m["ok"] for m in r.reports if "unit" in m] == [True, False]
    finally:
        box.close()


def test_config_from_dict():
    cfg = SandboxConfig.from_dict({"max_workers": 3, "wall_s": 2, "limits": {"memory_bytes": 1 << 29}})
    assert cfg.max_workers == 3 and cfg.limits.wall_s == 2 and cfg.limits.memory_bytes == 1 << 29
    with pytest.raises(ValueError, match="unknown sandbox settings"):
        SandboxConfig.from_dict({"wal_s": 2})
    with pytest.raises(ValueError, match="backend"):
        SandboxConfig(backend="docker")


def test_refused_sandbox_reaches_the_engine_as_counted_failures():
    from rewards import load_reward

    guarded = load_reward({"fn": "code_tests", "kwargs": {"sandbox": {"backend": "none"}}})
    assert guarded(prompts=None, completions=["x = 1", "y = 2"], tests=["assert x == 1"] * 2) == [None, None]
    s = guarded.stats()
    assert s.raised == 1 and s.failed_samples == 2
    assert "SandboxUnavailable" in guarded.last_errors[-1][1] and "require_isolation" in guarded.last_errors[-1][1]


def test_two_sandboxes_never_share_a_uid(fast_box):
    if os.geteuid() != 0:
        pytest.skip("uids are switched only as root")
    other = Sandbox(SandboxConfig(max_workers=3, limits=Limits(wall_s=6.0)))
    try:
        assert not set(other.uids) & set(fast_box.uids) and len(set(other.uids)) == 3
        code = "import os\nprint(os.getuid())\n"
        assert int(run_exec(other, code).output) in other.uids
        third = subprocess.run([sys.executable, "-c", "from rewards.sandbox import Sandbox, SandboxConfig;"
                                "print(Sandbox(SandboxConfig(max_workers=2)).uids)"], capture_output=True, text=True, check=True)
        assert not set(eval(third.stdout)) & (set(other.uids) | set(fast_box.uids))  # noqa: S307 - our own output
    finally:
        other.close()
