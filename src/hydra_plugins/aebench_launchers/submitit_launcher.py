"""aebench's SLURM launcher: hydra-submitit-launcher's, polling job states without a stream of
sacct warnings on clusters without accounting (_slurm_state.py says how).

conf/hydra/launcher/slurm.yaml names `SlurmLauncher` below. Hydra imports every module of
hydra_plugins at start-up, also for a plain run: without the `sweeps` extra (no
hydra-submitit-launcher) this module defines nothing and a plain run is unaffected.
"""
from __future__ import annotations

try:
    from hydra_plugins.hydra_submitit_launcher.submitit_launcher import (
        SlurmLauncher as _PluginSlurmLauncher)
except ImportError:  # pip install 'aebench[sweeps]' brings it
    _PluginSlurmLauncher = None

if _PluginSlurmLauncher is not None:

    class SlurmLauncher(_PluginSlurmLauncher):
        def launch(self, job_overrides, initial_job_idx):
            from hydra_plugins.aebench_launchers._slurm_state import install_watcher

            install_watcher()  # submitit imported here, not at Hydra's plugin scan
            return super().launch(job_overrides, initial_job_idx)
