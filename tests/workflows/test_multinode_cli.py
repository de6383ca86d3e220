"""Two Ray nodes simulated on one machine (`ray.cluster_utils.Cluster`): the trainer ranks are spread one per
node by their placement group (`trainer.placement=STRICT_SPREAD`), the torch.distributed rendezvous and the
weight-sync group are hosted on rank 0's node, and the CLI joins the cluster by `cluster.address`. The losses
and GRPO step figures must equal the same runs on one local Ray node."""
import json

import pytest

from tests.workflows.cli import run_align as align
from tests.workflows.test_grpo_cli import SHORT as GRPO
from tests.workflows.test_sft_cli import SHORT as SFT

pytestmark = pytest.mark.slow  # four CLI runs, ~4 min: run with -m slow

TWO_RANKS = ["trainer.num_workers=2", "trainer.cpus_per_worker=0.5", "trainer.threads_per_worker=1"]
SFT_ARGS = [*SFT, *TWO_RANKS, "data.samples_per_epoch=32", "sft.epochs=1", "eval.enabled=false", "sft.save_every=100"]
GRPO_ARGS = [a for a in GRPO if not a.startswith(("stage1.grpo.steps", "stage1.grpo.routing_replay"))]
GRPO_ARGS += [*TWO_RANKS, "stage1.grpo.steps=2", "rollout.cpus_per_engine=0.5"]


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    c.add_node(num_cpus=1)
    c.wait_for_nodes()
    yield c
    c.shutdown()


def _steps(out, key: str) -> list:
    return [r[key] for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if key in r and r["step"] > 0]


def _nodes(proc) -> str:
    return next(line for line in proc.stdout.splitlines() if "trainer rank(s) on" in line)


def _one_and_two_nodes(cluster, tmp_path, command: str, args: list):
    """The same run on a local one-node Ray (`one/`) and on the two-node cluster, one rank per node (`two/`)."""
    one = align(command, *args, f"run.output_dir={tmp_path / 'one'}", "cluster.num_cpus=2")
    assert one.returncode == 0, one.stderr[-3000:]
    two = align(command, *args, f"run.output_dir={tmp_path / 'two'}", f"cluster.address={cluster.address}",
                "trainer.placement=STRICT_SPREAD")
    assert two.returncode == 0, two.stderr[-3000:]
    return one, two


def test_sft_over_two_nodes_equals_one_node(cluster, tmp_path):
    one, two = _one_and_two_nodes(cluster, tmp_path, "sft", ["recipes/v2_chat.yaml", *SFT_ARGS])
    assert "2 trainer rank(s) on 1 node(s)" in _nodes(one) and "2 trainer rank(s) on 2 node(s)" in _nodes(two)
    a, b = _steps(tmp_path / "one", "loss"), _steps(tmp_path / "two", "loss")
    assert len(a) == len(b) == 2 and a == pytest.approx(b, abs=1e-6)


def test_grpo_over_two_nodes_equals_one_node(cluster, tmp_path):
    _, two = _one_and_two_nodes(cluster, tmp_path, "grpo", ["recipes/v2_grpo.yaml", *GRPO_ARGS])
    assert "on 2 node(s)" in _nodes(two)
    for key in ("reward_mean", "loss", "kl"):
        a, b = _steps(tmp_path / "one" / "stage1", key), _steps(tmp_path / "two" / "stage1", key)
        assert len(a) == 2 and a == pytest.approx(b, abs=1e-5), key
    s = json.loads((tmp_path / "two" / "summary.json").read_text())["stage1"]
    assert s["sync_check_max_abs_diff"] < 1e-3 and s["sync_check_final_max_abs_diff"] < 1e-3
