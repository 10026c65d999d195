"""A Ray worker node lost in the middle of a sweep, for real (docs/reliability.md).

A two-node Ray cluster runs on this machine: `ray start --head` and a second `ray start
--address=...` with a resource of its own (`node2`), one core each, each started by this test in
a session of its own so that "the node is lost" can be every process of that node killed at once
(SIGKILL, as a machine that goes away) while the head and the sweep live on. The sweep is the
real entry point (`python -m aebench -m hydra/launcher=ray_cluster ...`) in a subprocess. Never
`ray stop`: it ends every Ray process of the machine, other people's included.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import conftest

RAY = str(Path(sys.executable).with_name("ray"))
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled", "RAY_DEDUP_LOGS": "0"}
# a trial of ~8 s on one core: long enough to be killed in the middle of
TRIAL = ["model=cnn", "data.num_train=256", "data.num_test=32", "data.batch_size=16",
         "trainer.max_epochs=8", "callbacks=none", "logger=none", "latent=4",
         "trainer.enable_model_summary=false"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _session(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[3])
    except (OSError, ValueError, IndexError):
        return None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


class Node:
    """One `ray start ... --block` and every process it starts (its session: raylet, agents,
    the workers that run trials)."""

    def __init__(self, args: list[str], log: Path):
        self.log = log
        with open(log, "w") as out:
            self.proc = subprocess.Popen([RAY, "start", *args, "--block"], stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         env=conftest.test_env(**RAY_ENV))

    def wait_started(self) -> None:
        deadline = time.time() + 180
        while "Ray runtime started" not in self.log.read_text():
            assert self.proc.poll() is None and time.time() < deadline, self.log.read_text()[-3000:]
            time.sleep(0.5)

    def pids(self) -> list[int]:
        return [int(p) for p in os.listdir("/proc")
                if p.isdigit() and _session(int(p)) == self.proc.pid]

    def running_trials(self) -> list[int]:
        """Processes of this node running a trial now (Ray titles them by the method)."""
        return [p for p in self.pids() if _cmdline(p).startswith("ray::TrialWorker.run")]

    def lose(self) -> None:
        """The node goes away: all of its processes killed at once, nothing said to Ray."""
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=30)

    def stop(self) -> list[int]:
        """`ray start --block` stops its processes on SIGTERM; what is left is killed. Returns
        the processes still there after that (none expected)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
        for _ in range(20):
            left = self.pids()
            if not left:
                return []
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.5)
        self.proc.wait(timeout=10)
        return self.pids()


class Cluster:
    def __init__(self, root: Path):
        self.root, self.nodes, self.address = root, [], None

    def start_head(self) -> None:
        port = _free_port()
        self.address = f"127.0.0.1:{port}"
        self._start("head", ["--head", f"--port={port}", "--num-cpus=1",
                                         "--include-dashboard=false",
                                         f"--dashboard-port={_free_port()}",
                                         f"--ray-client-server-port={_free_port()}"])

    def _start(self, name: str, args: list[str]) -> Node:
        temp = self.root / f"{name}{len(self.nodes)}"  # short: Ray's socket paths must fit
        node = Node([*args, f"--temp-dir={temp}", "--object-store-memory=78643200",
                     f"--dashboard-agent-listen-port={_free_port()}",
                     f"--metrics-export-port={_free_port()}"], self.root / f"{temp.name}.log")
        self.nodes.append(node)  # stopped at the end, even if it does not start
        node.wait_started()
        return node

    def add_node(self, resources: dict) -> Node:
        return self._start("node", [f"--address={self.address}", "--num-cpus=1",
                                    f"--resources={json.dumps(resources)}"])

    def sweep(self, cwd: Path, *args: str, lose: Node | None = None, when=lambda: True,
              timeout: float = 420) -> tuple[subprocess.CompletedProcess, int | None]:
        """`python -m aebench ARGS` against this cluster. With `lose`: once that node runs a
        trial (and `when()` holds), the node is lost 1 s into it; returns the sweep's result and
        the process id of the worker that was running that trial."""
        out = cwd / f"sweep-{time.time_ns()}.log"
        with open(out, "w") as log:
            proc = subprocess.Popen([sys.executable, "-m", "aebench", *args], cwd=cwd,
                                    stdout=log, stderr=subprocess.STDOUT, text=True,
                                    start_new_session=True,
                                    env=conftest.test_env(RAY_ADDRESS=self.address, **RAY_ENV))
        lost_pid, deadline = None, time.time() + timeout
        try:
            while lose is not None and lost_pid is None:
                assert proc.poll() is None, f"the sweep ended before the node was lost:\n" \
                    f"{out.read_text()[-4000:]}"
                assert time.time() < deadline, "no trial ever ran on the node to lose"
                running = lose.running_trials() if when() else []
                if running:
                    time.sleep(1)
                    lost_pid = running[0]
                    lose.lose()
                time.sleep(0.3)
            try:
                proc.wait(timeout=max(1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                pytest.fail(f"the sweep did not end in {timeout} s (a hang):\n"
                            f"{out.read_text()[-4000:]}")
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        return subprocess.CompletedProcess(args, proc.returncode, out.read_text(), ""), lost_pid


@pytest.fixture(scope="module")
def cluster():
    root = Path(tempfile.mkdtemp(prefix="aeray-", dir="/tmp"))
    made = Cluster(root)
    try:
        made.start_head()
        yield made
    finally:
        left = []
        for node in reversed(made.nodes):
            left += node.stop()
        shutil.rmtree(root, ignore_errors=True)
        assert not left, f"Ray processes left: {[_cmdline(p)[:100] for p in left]}"


def _trials(sweep: Path) -> list[dict]:
    trials = sorted((p for p in sweep.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    return [json.loads((t / "metrics.json").read_text()) for t in trials]


def _stamps(sweep: Path) -> dict:
    return {p.parent.name: p.stat().st_mtime_ns for p in sweep.glob("*/metrics.json")}


def _leaderboard_statuses(sweep: Path) -> list[str]:
    with open(sweep / "leaderboard.csv", newline="") as f:
        return sorted(row["status"] for row in csv.DictReader(f))


@pytest.mark.slow
def test_a_lost_worker_node_fails_its_trial_the_others_finish_and_resume_reruns_it(
        cluster, tmp_path):
    """Two workers, one per node (one core each); the second node is lost 1 s into its first
    trial, with two trials still queued: that trial is recorded failed, the head's worker runs
    the three others (the lost worker's queue is not handed to a dead actor), exit status 1;
    `resume=true` then runs only the failed trial."""
    node2 = cluster.add_node({"node2": 1})
    args = ["-m", "hydra/launcher=ray_cluster", "seed=1,2,3,4", *TRIAL]
    res, lost_pid = cluster.sweep(tmp_path, *args, lose=node2)
    assert res.returncode == 1, res.stdout[-4000:]
    sweep = conftest.sweep_dir(tmp_path)
    trials = _trials(sweep)
    failed = [t for t in trials if t["status"] == "failed"]
    assert [t["status"] for t in trials].count("ok") == 3 and len(failed) == 1, trials
    assert "the worker running this trial died (Ray node" in failed[0]["error"]
    assert lost_pid not in {t["trial"]["pid"] for t in trials if t["status"] == "ok"}
    assert _leaderboard_statuses(sweep) == ["failed", "ok", "ok", "ok"]
    assert "4 trials: 3 ok, 1 failed, 0 unfinished" in res.stdout

    kept = {k: v for k, v in _stamps(sweep).items() if k != Path(failed[0]["output_dir"]).name}
    res, _ = cluster.sweep(tmp_path, *args, "resume=true")
    assert res.returncode == 0, res.stdout[-4000:]
    assert conftest.sweep_dir(tmp_path) == sweep
    assert {k: v for k, v in _stamps(sweep).items() if k in kept} == kept  # not run again
    assert [t["status"] for t in _trials(sweep)] == ["ok"] * 4
    assert "4 trials: 4 ok, 0 failed, 0 unfinished" in res.stdout


@pytest.mark.slow
def test_trials_pinned_to_a_lost_node_are_recorded_failed_not_waited_for(cluster, tmp_path):
    """Every trial pinned to the second node (`remote.resources={node2:1}`); the node is lost
    during the second trial: that trial is recorded failed, the third, which no live node can
    run, is recorded failed too once Ray has marked the node dead (not waited for forever),
    exit status 2; with a second node back, `resume=true` runs only those two."""
    node2 = cluster.add_node({"node2": 1})
    args = ["-m", "hydra/launcher=ray_cluster", "+hydra.launcher.ray.remote.resources={node2:1}",
            "seed=1,2,3", *TRIAL]
    first_done = lambda: any((tmp_path / "multirun").glob("*/*/0/metrics.json"))  # noqa: E731
    res, _ = cluster.sweep(tmp_path, *args, lose=node2, when=first_done)
    assert res.returncode == 2, res.stdout[-4000:]
    sweep = conftest.sweep_dir(tmp_path)
    trials = _trials(sweep)
    assert [t["status"] for t in trials] == ["ok", "failed", "failed"], trials
    assert "the worker running this trial died" in trials[1]["error"]
    assert "NotScheduled: no live Ray node has what a trial asks for" in trials[2]["error"]
    assert "'node2': 1" in trials[2]["error"]
    assert "3 trials: 1 ok, 2 failed, 0 unfinished" in res.stdout

    kept = _stamps(sweep)["0"]
    cluster.add_node({"node2": 1})  # the node is back
    res, _ = cluster.sweep(tmp_path, *args, "resume=true")
    assert res.returncode == 0, res.stdout[-4000:]
    assert _stamps(sweep)["0"] == kept
    assert [t["status"] for t in _trials(sweep)] == ["ok"] * 3


def test_workers_pinned_to_a_resource_are_counted_by_it_and_need_a_live_node_with_it():
    from hydra_plugins.aebench_launchers.ray_launcher import fits_a_live_node, pool_size

    pinned = {"num_gpus": 0, "num_cpus": 1, "resources": {"node2": 1}}
    # two cores but one `node2`: one worker (a second could never start, and its trials would wait)
    assert pool_size({"CPU": 2.0, "node2": 1.0}, pinned, 4) == 1
    assert pool_size({"CPU": 2.0}, {"num_gpus": 0, "num_cpus": 1}, 4) == 2
    head = {"Alive": True, "Resources": {"CPU": 1.0}}
    node2 = {"Alive": True, "Resources": {"CPU": 1.0, "node2": 1.0}}
    assert fits_a_live_node([head, node2], pinned)
    assert not fits_a_live_node([head, {**node2, "Alive": False}], pinned)  # node2 lost
    assert fits_a_live_node([head, {**node2, "Alive": False}], {"num_gpus": 0, "num_cpus": 1})
    assert not fits_a_live_node([head], {"num_gpus": 1, "num_cpus": 1})
