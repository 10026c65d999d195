"""aebench's Ray launcher: hydra-ray-launcher with each trial's resources decided from what Ray actually has.

conf/hydra/launcher/parallel.yaml (and ray_cluster.yaml) name `RayLauncher` below. With
`remote.num_gpus: auto` every trial asks Ray for one GPU when the cluster has GPUs (Ray then
runs one trial per GPU and sets each trial's CUDA_VISIBLE_DEVICES to its own GPU), and for
none otherwise: asking for a GPU no node has makes Ray wait forever. With
`remote.num_cpus: auto` a trial gets the cores per GPU, or one core on a machine without GPUs
(one trial per core). The decision needs Ray started, so it is made in `launch`, not in the config.
Hydra accepts launchers only from the `hydra_plugins` package, hence this file's place.
"""
from __future__ import annotations

import logging
import os

from hydra_plugins.hydra_ray_launcher.ray_launcher import RayLauncher as _PluginRayLauncher
from omegaconf import OmegaConf, open_dict

log = logging.getLogger("aebench")


def trial_resources(cluster: dict) -> dict:
    """num_gpus / num_cpus of one trial, from ray.cluster_resources()."""
    gpus, cpus = cluster.get("GPU", 0), cluster.get("CPU", 1)
    if gpus >= 1:
        return {"num_gpus": 1, "num_cpus": max(1, int(cpus // gpus))}
    return {"num_gpus": 0, "num_cpus": 1}


class RayLauncher(_PluginRayLauncher):
    def launch(self, job_overrides, initial_job_idx):
        import ray  # here, not at import: Hydra imports every plugin module at start-up
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
        auto = trial_resources(ray.cluster_resources())
        with open_dict(self.ray_cfg):
            for key, value in auto.items():
                if self.ray_cfg.remote.get(key) == "auto":
                    self.ray_cfg.remote[key] = value
        log.info("Ray has %s; each trial asks for %s", {k: v for k, v in
                 ray.cluster_resources().items() if k in ("CPU", "GPU")},
                 dict(self.ray_cfg.remote))
        return _core.launch(launcher=self, job_overrides=job_overrides,
                            initial_job_idx=initial_job_idx)
