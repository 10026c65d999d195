"""aebench's Ray launcher: hydra-ray-launcher's configs, with GPU pinning decided from what Ray
has and workers that stay alive between trials.

conf/hydra/launcher/parallel.yaml (and ray_cluster.yaml) name `RayLauncher` below.

- `remote.num_gpus: auto` becomes 1 when the Ray cluster has GPUs and 0 when it has none
  (asking for a GPU that no node has makes Ray wait forever); `remote.num_cpus: auto` becomes
  the cores per GPU, or 1 without GPUs (one trial per core). This needs Ray started, so it is
  decided in `launch`, not in the config. A fractional `remote.num_gpus` packs trials onto each
  GPU (0.25: four trials share one, each with a quarter of its cores), for models too small to
  keep a GPU busy (docs/performance.md).
- The trials run on a pool of Ray actors, as many as the resources allow, each holding its
  GPU (Ray sets the actor's CUDA_VISIBLE_DEVICES to it) and cores for its whole life. A worker
  runs one trial after another, so torch, Lightning and CUDA start once per worker, not once
  per trial, and a GPU is never handed to another process while a trial uses it. If a worker
  dies (killed, out of memory, its node lost), its trial is recorded as failed, another worker
  is started in its place (trials go only to workers Ray has started) and the sweep goes on;
  trials that no live node can run (pinned with `remote.resources` to a lost node) are
  recorded as failed instead of waited for (docs/reliability.md). `remote.max_calls: 1` instead
  runs every trial as a plain Ray task in a fresh process (the plugin's own path).
Hydra accepts launchers only from the `hydra_plugins` package, hence this file's place. Hydra
imports every module there at start-up, also for a plain run, so nothing here may need the
`sweeps` extra (hydra-ray-launcher, ray) at import.
"""
from __future__ import annotations

import logging
import os
from collections import deque
from pathlib import Path

try:
    from hydra_plugins.hydra_ray_launcher.ray_launcher import RayLauncher as _PluginRayLauncher
except ImportError:  # no `sweeps` extra: RayLauncher below is then a plain class, no Hydra
    _PluginRayLauncher = object  # plugin, and a plain run (which imports this module) goes on
from omegaconf import OmegaConf, open_dict

log = logging.getLogger("aebench")


def trial_resources(cluster: dict, num_gpus="auto") -> dict:
    """num_gpus / num_cpus of one trial, from ray.cluster_resources().

    `num_gpus` as configured: "auto" is one whole GPU when Ray has GPUs (none otherwise); a
    fraction packs trials onto a GPU (0.25: four at once). A trial gets the cores that go with
    its share of a GPU, at least one.
    """
    gpus, cpus = cluster.get("GPU", 0), cluster.get("CPU", 1)
    share = (1 if gpus >= 1 else 0) if num_gpus == "auto" else float(num_gpus)
    if gpus >= 1 and share > 0:
        return {"num_gpus": share, "num_cpus": max(1, int(cpus / gpus * share))}
    return {"num_gpus": 0, "num_cpus": 1}


def pool_size(cluster: dict, remote: dict, n_trials: int) -> int:
    """How many trials fit at once: by GPUs when trials take GPUs, else by cores (and by any
    custom resource they ask for: `remote.resources={node2: 1}` pins them to where it is)."""
    fits = [int(cluster.get(resource, 0) // need) for resource, need in _needs(remote).items()]
    return max(1, min([n_trials, *fits]))


def _needs(remote: dict) -> dict:
    """What one worker asks Ray for, by resource name (custom ones: `remote.resources`)."""
    needs = {"GPU": remote.get("num_gpus") or 0, "CPU": remote.get("num_cpus") or 0,
             **(remote.get("resources") or {})}
    return {k: v for k, v in needs.items() if v > 0}


def fits_a_live_node(nodes: list[dict], remote: dict) -> bool:
    """Whether a worker could ever start: some live node (ray.nodes()) has what it asks for.
    False once the only nodes that had it are gone (a node lost, trials pinned to it)."""
    return any(node.get("Alive") and all(node.get("Resources", {}).get(k, 0) >= v
                                         for k, v in _needs(remote).items()) for node in nodes)


class TrialWorker:
    """A Ray actor: runs trials one after another with the GPU/cores it holds for its life."""

    def node(self) -> str:
        """The Ray node this worker runs on; its answer also says the worker has started."""
        import ray

        return ray.get_runtime_context().get_node_id()

    def run(self, hydra_context, sweep_config, task_function, singleton_state):
        from hydra_plugins.hydra_ray_launcher._launcher_util import _run_job

        try:
            return _run_job(hydra_context, sweep_config, task_function, singleton_state)
        finally:
            import sys

            torch = sys.modules.get("torch")
            if torch is not None and torch.cuda.is_initialized():
                torch.cuda.empty_cache()  # the next trial starts with the GPU's memory free


def _record_lost_trial(sweep_config, error: str) -> None:
    """metrics.json of a trial whose worker died before it could write one, or that no worker
    could run."""
    from aebench.running.outputs import write_json
    from aebench.running.sweep import failure_record

    out = Path(str(sweep_config.hydra.sweep.dir)) / str(sweep_config.hydra.sweep.subdir)
    out.mkdir(parents=True, exist_ok=True)
    hydra = sweep_config.hydra
    choices = {k: v for k, v in hydra.runtime.choices.items() if not k.startswith("hydra")}
    write_json(failure_record(sweep_config, choices, list(hydra.overrides.task), out, error),
               out / "metrics.json")


class RayLauncher(_PluginRayLauncher):
    def launch(self, job_overrides, initial_job_idx):
        import ray  # here, not at import: Hydra imports every plugin module at start-up
        from hydra.core.singleton import Singleton
        from hydra.core.utils import (JobReturn, JobStatus, configure_log, filter_overrides,
                                      setup_globals)
        from hydra_plugins.hydra_ray_launcher import _core
        from hydra_plugins.hydra_ray_launcher._launcher_util import start_ray

        init = self.ray_cfg.init
        # the plugin's own default (a small object store: trials return one float each)
        init.setdefault("object_store_memory", 78643200)
        if init.get("address"):  # a cluster: its workers start elsewhere; trials chdir here
            with open_dict(init):
                env = OmegaConf.select(init, "runtime_env.env_vars") or {}
                OmegaConf.update(init, "runtime_env.env_vars",
                                 {"AEBENCH_LAUNCH_DIR": os.getcwd(), **env}, force_add=True)
        start_ray(init)
        cluster = ray.cluster_resources()
        auto = trial_resources(cluster, self.ray_cfg.remote.get("num_gpus", "auto"))
        with open_dict(self.ray_cfg):
            for key, value in auto.items():
                if self.ray_cfg.remote.get(key) == "auto":
                    self.ray_cfg.remote[key] = value
        remote = OmegaConf.to_container(self.ray_cfg.remote, resolve=True)
        if remote.get("max_calls") == 1:  # a fresh process per trial: the plugin's own way
            log.info("Ray has %s; each trial is a task asking for %s", _cpu_gpu(cluster), remote)
            return _core.launch(launcher=self, job_overrides=job_overrides,
                                initial_job_idx=initial_job_idx)

        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        configs = []
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
            cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            with open_dict(cfg):
                cfg.hydra.job.id = f"job_id_for_{idx}"
                cfg.hydra.job.num = idx
            configs.append(cfg)

        n = pool_size(cluster, remote, len(configs))
        log.info("Ray has %s; %d workers, each holding %s, run %d trials", _cpu_gpu(cluster), n,
                 remote, len(configs))
        remote.pop("max_calls", None)
        # max_restarts=0: Ray does not restart a lost worker; the loop below starts another,
        # which gets trials once it runs (Ray's own restart got the next trials at once and
        # failed them at once while its node was unreachable, or held them forever when no
        # node could take it).
        actor = ray.remote(max_restarts=0, **remote)(TrialWorker)
        state = Singleton.get_state()
        results, queue = [None] * len(configs), deque(range(len(configs)))
        starting, idle, running, node_of, workers, unstarted = {}, [], {}, {}, [], []

        def start_worker():
            worker = actor.remote()
            workers.append(worker)
            starting[worker.node.remote()] = worker

        def failed(i, error):  # recorded in the trial's folder; the sweep goes on
            _record_lost_trial(configs[i], error)
            results[i] = JobReturn(overrides=list(job_overrides[i]),
                                   status=JobStatus.COMPLETED, _return_value=None)

        for _ in range(n):
            start_worker()
        try:
            while queue or running:
                while queue and idle:
                    i, worker = queue.popleft(), idle.pop()
                    future = worker.run.remote(self.hydra_context, configs[i],
                                               self.task_function, state)
                    running[future] = (worker, i)
                if queue and not running and not fits_a_live_node(ray.nodes(), remote):
                    error = (f"no live Ray node has what a trial asks for ({_needs(remote)}); "
                             f"the live nodes have {_resources(ray.cluster_resources())}")
                    log.error("%d trials not run: %s", len(queue), error)
                    for i in queue:
                        failed(i, f"NotScheduled: {error}")
                    break
                if not (running or starting):  # every worker failed to start
                    if len(unstarted) > n:
                        log.error("%d trials not run: %s", len(queue), unstarted[-1])
                        for i in queue:
                            failed(i, f"NotStarted: no Ray worker could start ({unstarted[-1]})")
                        break
                    start_worker()
                # trials that run end (or fail); a starting worker is waited for a while,
                # then the nodes are looked at again (one may have gone meanwhile)
                done, _ = ray.wait([*running, *starting], num_returns=1,
                                   timeout=None if running else 10)
                for future in done:
                    if future in starting:
                        worker = starting.pop(future)
                        try:
                            node_of[worker] = ray.get(future)
                            idle.append(worker)
                        except ray.exceptions.RayError as err:  # it never started: try again
                            unstarted.append(f"{type(err).__name__}: {_first_line(err)}")
                            log.warning("a Ray worker did not start: %s", unstarted[-1])
                            ray.kill(worker, no_restart=True)
                        continue
                    worker, i = running.pop(future)
                    try:
                        results[i] = ray.get(future)
                        idle.append(worker)
                    except ray.exceptions.RayTaskError as err:  # raised past run_trial
                        cause = err.cause if isinstance(err.cause, BaseException) else err
                        log.error("trial #%d failed: %s", initial_job_idx + i, err)
                        failed(i, f"{type(cause).__name__}: {_first_line(cause)}")
                        idle.append(worker)  # the worker itself is fine
                    except ray.exceptions.RayError as err:  # its process or its node died
                        node = node_of.get(worker, "?")
                        log.error("trial #%d lost its worker on Ray node %s: %s",
                                  initial_job_idx + i, node[:12], err)
                        failed(i, f"{type(err).__name__}: the worker running this trial died "
                                  f"(Ray node {node[:12]}; {_first_line(err)})")
                        ray.kill(worker, no_restart=True)  # if it still runs somewhere: stop it
                        if queue:
                            start_worker()  # in its place, used once Ray has started it
        finally:
            for worker in workers:
                ray.kill(worker, no_restart=True)
        return results


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [""])[0]


def _resources(cluster: dict) -> dict:
    """What trials can ask for: cores, GPUs, custom resources (not memory or node ids)."""
    return {k: v for k, v in cluster.items()
            if not k.startswith("node:") and k not in ("memory", "object_store_memory")}


def _cpu_gpu(cluster: dict) -> dict:
    return {k: v for k, v in cluster.items() if k in ("CPU", "GPU")}
