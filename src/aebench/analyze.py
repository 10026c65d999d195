"""Analyse a finished run from its checkpoint: `python -m aebench.analyze RUN_DIR [overrides]`.

    python -m aebench.analyze outputs/2026-11-23/10-00-00-123456                  # analysis=latent
    python -m aebench.analyze outputs/2026-11-23/10-00-00-123456 analysis=all analysis.holdout_class=cat

Rebuilds the run's data, degradation and model from its own overrides (RUN_DIR/.hydra/
overrides.yaml, plus the ones given here), loads the tested checkpoint (metrics.json's
`best_checkpoint`, else checkpoints/last.ckpt) with `torch.load(weights_only=True)`, and writes
`analysis.json` and the figures into a new folder RUN_DIR/analysis-<time>/: nothing of the run
is overwritten. Anomaly detection on a model that saw the held-out class in training is allowed
but flagged (`anomaly_class_seen_in_training: true`): its AUROC then means little.
"""
from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path

from aebench.cli import CONF_DIR, check_group_choices, fail


def _checkpoint(run_dir: Path) -> Path:
    metrics = run_dir / "metrics.json"
    if metrics.is_file():
        best = json.loads(metrics.read_text()).get("best_checkpoint")
        if best and Path(best).is_file():
            return Path(best)
    last = run_dir / "checkpoints" / "last.ckpt"
    if last.is_file():
        return last
    fail(f"{run_dir}: no checkpoint (neither metrics.json's best_checkpoint nor "
         "checkpoints/last.ckpt); analyse a run of a learned model that finished training")


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0].startswith("-"):
        sys.exit(__doc__)
    run_dir, extra = Path(argv[0]).resolve(), list(argv[1:])
    overrides_file = run_dir / ".hydra" / "overrides.yaml"
    if not overrides_file.is_file():
        fail(f"{run_dir} is not a run folder (no .hydra/overrides.yaml); give the folder "
             "`python -m aebench` printed at the end of the run")
    check_group_choices(extra)
    ckpt = _checkpoint(run_dir)

    import torch
    import yaml
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    from aebench.analysis import compression, run_analysis
    from aebench.errors import ConfigError
    from aebench.reports import write_json
    from aebench.train import build_parts

    trained_with = [str(o) for o in yaml.safe_load(overrides_file.read_text()) or []]
    base = trained_with
    # the analysis: the one asked for here, else the run's own, else analysis=latent
    chosen = any(o.startswith("analysis=") for o in extra)
    own = next((o.split("=", 1)[1] for o in base if o.startswith("analysis=")), "none")
    if chosen or own == "none":
        base = [o for o in base if not o.lstrip("+~").startswith("analysis")]
        if not chosen:
            extra = ["analysis=latent", *extra]
    out = run_dir / f"analysis-{datetime.datetime.now():%Y-%m-%d_%H-%M-%S-%f}"
    out.mkdir()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            trained = compose(config_name="config", overrides=trained_with)
            cfg = compose(config_name="config", overrides=[*base, *extra],
                          return_hydra_config=True)
        with open_dict(cfg):
            cfg.hydra.runtime.output_dir = str(out)
            cfg.hydra.job.num = 0
        HydraConfig.instance().set_config(cfg)
        datamodule, degradation, net, module = build_parts(cfg)
        state = torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]
        module.load_state_dict(state)
        results = run_analysis(cfg.analysis, net, datamodule, degradation, out, cfg.seed)
    except ConfigError as err:
        fail(str(err))
    if cfg.analysis.get("anomaly"):
        results["anomaly_class_seen_in_training"] = trained.data.get("holdout_class") is None
    params = sum(p.numel() for p in net.parameters())
    results.update(compression(datamodule.item_shape, net.code_size, params),
                   run_dir=str(run_dir), checkpoint=str(ckpt), overrides=[*base, *extra])
    write_json(results, out / "analysis.json")
    for key, value in results.items():
        if isinstance(value, (int, float, str)) and key not in ("run_dir", "checkpoint"):
            print(f"{key}: {value}")
    print(f"analysis written to {out}")


if __name__ == "__main__":
    main()
