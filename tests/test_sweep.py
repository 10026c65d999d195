"""Sweeps as users run them: `python -m aebench -m hydra/launcher=... key=a,b`.

Each test runs the real entry point on tiny data. Ray runs on the CPU here; GPUs are faked
with `hydra.launcher.ray.init.num_gpus=4` (Ray then hands out device ids 0-3 as it would
real ones).
"""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import conftest
from conftest import FAST_SHAPES
from fakedata import write_cifar10

TINY = ["callbacks=none", "latent=4", "+trainer.max_steps=2", "trainer.limit_val_batches=1",
        "trainer.limit_test_batches=1", "trainer.enable_model_summary=false", *FAST_SHAPES]


@pytest.fixture(autouse=True)
def fresh_ray():
    """Each test's launcher starts Ray with its own resources (faked GPUs, CPUs): in-process,
    the Ray of the test before must be gone first."""
    yield
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()


def _trials(sweep: Path) -> list[dict]:
    trials = sorted((p for p in sweep.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    for t in trials:
        assert (t / ".hydra" / "overrides.yaml").is_file(), t
    return [json.loads((t / "metrics.json").read_text()) for t in trials]


def _leaderboard(sweep: Path) -> list[dict]:
    assert (sweep / "leaderboard.md").is_file()
    with open(sweep / "leaderboard.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_parallel_sweep_runs_two_cpu_workers_and_writes_a_leaderboard(run_cli, tmp_path):
    res = run_cli("-m", "hydra/launcher=parallel", "hydra.launcher.ray.init.num_cpus=2",
                  "latent=4,8", "blur=0.5,1.0", *TINY[:1], *TINY[2:], "logger=wandb", timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    sweep = conftest.sweep_dir(tmp_path)
    trials = _trials(sweep)
    assert [(t["latent"], t["blur"]) for t in trials] == [(4, 0.5), (4, 1.0), (8, 0.5), (8, 1.0)]
    assert all(t["status"] == "ok" and t["trial"]["threads"] == 1 for t in trials)
    assert len({t["trial"]["pid"] for t in trials}) == 2  # two workers, each reused
    rows = _leaderboard(sweep)
    assert len(rows) == 4 and {r["status"] for r in rows} == {"ok"}
    for plot in ("psnr_vs_latent.png", "psnr_vs_blur.png"):
        assert (sweep / plot).stat().st_size > 5000
    # each trial is its own W&B run, all in the sweep's group
    runs = [list((sweep / str(i) / "wandb").glob("offline-run-*/run-*.wandb")) for i in range(4)]
    assert [len(r) for r in runs] == [1, 1, 1, 1]
    assert len({r[0].parent.name for r in runs}) == 4
    group = "sweep-" + str(sweep).replace("/", "_").strip("_")
    assert all(group.encode() in r[0].read_bytes() for r in runs)


@pytest.mark.slow
def test_gpu_trials_get_one_device_each_never_shared_while_running(run_cli, tmp_path):
    res = run_cli("-m", "hydra/launcher=parallel", "hydra.launcher.ray.init.num_gpus=4",
                  "hydra.launcher.ray.init.num_cpus=4", "seed=1,2,3,4,5,6,7,8", *TINY,
                  "logger=none", timeout=400)
    assert res.returncode == 0, res.stderr[-3000:]
    trials = [t["trial"] for t in _trials(conftest.sweep_dir(tmp_path))]
    assert len(trials) == 8
    assert all(t["cuda_visible_devices"] in {"0", "1", "2", "3"} for t in trials)
    assert {t["cuda_visible_devices"] for t in trials} == {"0", "1", "2", "3"}
    for i, a in enumerate(trials):
        for b in trials[i + 1:]:
            if a["started"] < b["finished"] and b["started"] < a["finished"]:  # ran together
                assert a["cuda_visible_devices"] != b["cuda_visible_devices"], (a, b)
    # 4 workers, each reused and keeping its own GPU from trial to trial
    device_of = {}
    for t in trials:
        assert device_of.setdefault(t["pid"], t["cuda_visible_devices"]) == t["cuda_visible_devices"]
    assert len(device_of) == 4


@pytest.mark.slow
def test_a_fractional_gpu_share_packs_trials_onto_one_gpu(run_cli, tmp_path):
    # remote.num_gpus=0.5 on one (faked) GPU: two workers, both pinned to device 0
    res = run_cli("-m", "hydra/launcher=parallel", "hydra.launcher.ray.init.num_gpus=1",
                  "hydra.launcher.ray.init.num_cpus=2", "hydra.launcher.ray.remote.num_gpus=0.5",
                  "seed=1,2,3,4", *TINY, "logger=none", timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    trials = [t["trial"] for t in _trials(conftest.sweep_dir(tmp_path))]
    assert len(trials) == 4 and {t["cuda_visible_devices"] for t in trials} == {"0"}
    assert len({t["pid"] for t in trials}) == 2
    assert all(t["threads"] == 1 for t in trials)  # half of the GPU's 2 cores each


@pytest.mark.slow
def test_ray_cluster_launcher_sends_trials_to_a_running_cluster(run_cli, tmp_path):
    """A cluster started elsewhere (its workers live in another folder) runs the trials; results
    land in this folder's sweep, and a relative data path means what it meant here."""
    head_dir = tmp_path / "head"
    head_dir.mkdir()
    head = subprocess.Popen(
        [sys.executable, "-c", "import sys, ray; ray.init(num_cpus=2, include_dashboard=False); "
         "print(ray.get_runtime_context().gcs_address, flush=True); sys.stdin.read()"],
        cwd=head_dir, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env=conftest.test_env(RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled"))
    try:
        address = head.stdout.readline().strip()
        write_cifar10(tmp_path / "mydata", n_train=40, n_test=16)
        res = run_cli("-m", "hydra/launcher=ray_cluster", "latent=4,8", "data=cifar10",
                      "data.root=mydata", "data.batch_size=16", *TINY[:1], *TINY[2:6],
                      "logger=none", env={"RAY_ADDRESS": address}, timeout=300,
                      subprocess_run=True)  # Ray prints where it connected to the real stderr
    finally:
        head.communicate("", timeout=60)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Connecting to existing Ray cluster" in res.stderr + res.stdout
    trials = _trials(conftest.sweep_dir(tmp_path))
    assert [t["status"] for t in trials] == ["ok", "ok"]
    assert not (head_dir / "multirun").exists()


def test_sweep_folders_never_collide(tmp_path, monkeypatch):
    from aebench.cli import check_sweep_args

    monkeypatch.chdir(tmp_path)
    seen = set()
    for _ in range(50):
        _, sweep_dir = check_sweep_args(["-m", "latent=8,16"])
        assert sweep_dir.is_absolute() and sweep_dir not in seen
        sweep_dir.mkdir(parents=True)
        seen.add(sweep_dir)


def test_trial_resources_follow_what_ray_has():
    from hydra_plugins.aebench_launchers.ray_launcher import pool_size, trial_resources

    assert trial_resources({"CPU": 64.0, "GPU": 8.0}) == {"num_gpus": 1, "num_cpus": 8}
    assert trial_resources({"CPU": 2.0}) == {"num_gpus": 0, "num_cpus": 1}
    assert trial_resources({"CPU": 2.0}, 0.25) == {"num_gpus": 0, "num_cpus": 1}  # no GPU to pack
    # packing: a quarter of a GPU each, with a quarter of that GPU's cores, 4 trials per GPU
    packed = trial_resources({"CPU": 64.0, "GPU": 8.0}, 0.25)
    assert packed == {"num_gpus": 0.25, "num_cpus": 2}
    assert pool_size({"CPU": 64.0, "GPU": 8.0}, packed, 100) == 32
    assert pool_size({"CPU": 64.0, "GPU": 8.0}, {"num_gpus": 1, "num_cpus": 8}, 20) == 8
    assert pool_size({"CPU": 16.0}, {"num_gpus": 0, "num_cpus": 4}, 20) == 4
    assert pool_size({"CPU": 16.0}, {"num_gpus": 0, "num_cpus": 1}, 3) == 3


@pytest.mark.slow
def test_a_trial_whose_process_dies_is_recorded_and_the_sweep_goes_on(run_cli, tmp_path):
    # the middle trial's worker process exits while building its callbacks (as if OOM-killed)
    die = "+callbacks.die=choice({},{_target_:os._exit,_args_:[3]},{})"
    res = run_cli("-m", "hydra/launcher=parallel", "hydra.launcher.ray.init.num_cpus=2", die,
                  *TINY, "logger=none", timeout=300)
    assert res.returncode == 1, res.stderr[-3000:]
    trials = _trials(conftest.sweep_dir(tmp_path))
    assert [t["status"] for t in trials] == ["ok", "failed", "ok"]
    assert "worker running this trial died" in trials[1]["error"]


def test_a_failing_trial_is_recorded_and_the_others_finish(run_cli, tmp_path):
    # cnn needs images: on sine sequences that trial fails at build time, lstm trains
    res = run_cli("-m", "model=cnn,lstm,rnn", "data=sine", "data.num_sequences=64",
                  "trainer.max_epochs=1", "callbacks=none", "logger=none", "latent=4")
    assert res.returncode == 1, res.stderr[-3000:]  # exit status: the number of failed trials
    sweep = conftest.sweep_dir(tmp_path)
    trials = _trials(sweep)
    assert [t["status"] for t in trials] == ["failed", "ok", "ok"]
    assert "model=cnn needs images" in trials[0]["error"]
    assert "Traceback" in (sweep / "0" / "error.txt").read_text()
    rows = _leaderboard(sweep)
    assert [r["status"] for r in rows] == ["ok", "ok", "failed"]
    assert "model=cnn needs images" in rows[2]["error"]


def test_ddp_inside_a_multirun_is_refused_before_anything_starts(run_cli, tmp_path):
    res = run_cli("-m", "trainer=ddp", "latent=4,8")
    assert res.returncode == 2 and "cannot run inside a multirun" in res.stderr
    assert not (tmp_path / "multirun").exists()


@pytest.mark.slow
def test_ddp_single_run_uses_two_processes_and_writes_one_result(run_cli, tmp_path):
    # a real process: DDP starts its second rank by re-running the command line
    res = run_cli("trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2",
                  "trainer.max_epochs=1", "callbacks=none", "latent=4", "logger=none",
                  *FAST_SHAPES, subprocess_run=True)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in res.stderr + res.stdout
    runs = list((tmp_path / "outputs").glob("*/*"))
    assert len(runs) == 1, runs  # rank 1 works in rank 0's folder, writes nothing of its own
    metrics = json.loads((runs[0] / "metrics.json").read_text())
    assert metrics["status"] == "ok" and metrics["test_psnr"] > 0


def test_slurm_launcher_asks_one_gpu_per_array_task(run_cli):
    res = run_cli("hydra/launcher=slurm", "--cfg", "hydra")
    assert res.returncode == 0, res.stderr[-3000:]
    launcher = res.stdout[res.stdout.index("launcher:"):]
    for line in ("gpus_per_node: 1", "tasks_per_node: 1", "array_parallelism: 8",
                 "submitit_launcher.SlurmLauncher"):
        assert line in launcher


@pytest.mark.slow
def test_submitit_local_runs_a_two_trial_sweep(run_cli, tmp_path):
    res = run_cli("-m", "hydra/launcher=submitit_local", "latent=4,8", *TINY[:1], *TINY[2:],
                  "logger=none", timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    sweep = conftest.sweep_dir(tmp_path)
    assert [t["status"] for t in _trials(sweep)] == ["ok", "ok"]
    assert len(_leaderboard(sweep)) == 2


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["shapes_lstm"])
def test_optuna_search_runs_its_trials_and_keeps_the_study(run_cli, tmp_path, preset):
    import optuna

    # the sweep folder set by hand, as on clusters: the study's multirun/optuna.db (relative to
    # the working directory) is still created
    res = run_cli("-m", f"hparams_search={preset}", "hydra.sweeper.n_trials=3",
                  "hydra.sweep.dir=sweeps/search", "trainer.max_epochs=1", *TINY[:1], *TINY[3:],
                  "logger=none", timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    sweep = tmp_path / "sweeps" / "search"
    trials = _trials(sweep)
    assert len(trials) == 3 and all(t["status"] == "ok" for t in trials)
    storage = f"sqlite:///{tmp_path / 'multirun' / 'optuna.db'}"
    study = optuna.load_study(study_name=f"aebench-{preset}", storage=storage)
    assert [t.value for t in study.trials] == pytest.approx([t["val_psnr"] for t in trials])
    assert (sweep / "optimization_results.yaml").is_file()
