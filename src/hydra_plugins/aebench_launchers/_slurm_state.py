"""Job states for the SLURM launcher without a stream of `sacct` warnings.

submitit polls `sacct` for the state of the jobs it waits for. On a cluster without accounting
storage (a small cluster, the one of scripts/slurm-local.sh) every poll fails: sacct prints
"Slurm accounting storage is disabled" on the terminal and submitit logs "Bypassing sacct
error", at 0, 2, 4, 8, ... s and then every minute, for the whole sweep. Worse, the states stay
UNKNOWN, so a job that dies without writing its result (killed, out of memory) is waited for
forever.

`SacctOrSqueueWatcher` runs sacct with its output captured. When sacct says accounting is off,
it logs that once and from then on reads the states from `squeue --states=all` (the controller
keeps finished jobs for MinJobAge, 300 s by default); a job that has left squeue entirely has
finished (state LEFT_QUEUE) and submitit reads its result or reports it as lost. Other sacct
errors are logged once per message and that poll falls back to squeue.

This module imports submitit; Hydra's plugin scan skips modules named with a leading "_", and
submitit_launcher.py imports it only when a SLURM sweep launches.
"""
from __future__ import annotations

import logging
import subprocess
import time

from submitit.slurm import slurm as _slurm

log = logging.getLogger("aebench")

GONE = "LEFT_QUEUE"  # not one of submitit's incomplete states: the job is done


class SacctOrSqueueWatcher(_slurm.SlurmInfoWatcher):
    def __init__(self, delay_s: int = 60) -> None:
        super().__init__(delay_s=delay_s)
        self.accounting: bool | None = None  # None until the first sacct answer
        self._told: set[str] = set()

    def _tell_once(self, message: str) -> None:
        if message not in self._told:
            self._told.add(message)
            log.warning(message)

    def update(self) -> None:
        command = self._make_command()
        if command is None:
            return
        self._num_calls += 1
        if self.accounting is not False and self._from_sacct(command):
            pass
        else:
            self._from_squeue()
        self._last_status_check = time.time()
        for job_id in self._registered - self._finished:
            if self.is_done(job_id, mode="cache"):
                self._finished.add(job_id)

    def _from_sacct(self, command: list[str]) -> bool:
        try:
            res = subprocess.run(command, capture_output=True, text=True)
        except OSError as err:  # no sacct at all
            self.accounting = False
            self._tell_once(f"aebench: no sacct ({err}); SLURM job states are read from squeue")
            return False
        if res.returncode == 0:
            self.accounting = True
            self._output = res.stdout.encode()
            self._info_dict.update(self.read_info(res.stdout))
            return True
        error = (res.stderr.strip().splitlines() or [f"exit status {res.returncode}"])[0]
        if "accounting storage is disabled" in error.lower():
            self.accounting = False
            self._tell_once("aebench: SLURM accounting is off; job states are read from squeue")
        else:
            self._tell_once(f"aebench: sacct failed ({error}); job states are read from squeue "
                            "until it answers")
        return False

    def _from_squeue(self) -> None:
        ids = sorted({x.split("_")[0] for x in self._registered - self._finished})
        if not ids:
            return
        command = ["squeue", "--noheader", "--array", "--states=all", "--format=%i|%T|%N",
                   "--jobs", ",".join(ids)]
        try:
            res = subprocess.run(command, capture_output=True, text=True)
        except OSError as err:
            self._tell_once(f"aebench: no squeue ({err}); SLURM job states are unknown")
            return
        # "Invalid job id specified": none of them is known any more (all long finished)
        if res.returncode != 0 and "invalid job id" not in res.stderr.lower():
            error = (res.stderr.strip().splitlines() or [f"exit status {res.returncode}"])[0]
            self._tell_once(f"aebench: squeue failed ({error}); SLURM job states may be late")
            return
        self._output = res.stdout.encode()
        info = self.read_info("JobID|State|NodeList\n" + res.stdout)
        for job_id in self._registered - self._finished:  # --array: one line per array task
            if job_id not in info:
                info[job_id] = {"JobID": job_id, "State": GONE, "NodeList": ""}
        self._info_dict.update(info)


def install_watcher() -> SacctOrSqueueWatcher:
    """Make every SlurmJob of this process poll through SacctOrSqueueWatcher (submitit keeps
    one watcher for all SlurmJobs, as a class attribute)."""
    if not isinstance(_slurm.SlurmJob.watcher, SacctOrSqueueWatcher):
        _slurm.SlurmJob.watcher = SacctOrSqueueWatcher(delay_s=600)
    return _slurm.SlurmJob.watcher
