"""One job: build everything from the config, train, test on the best checkpoint, report.

Data flows one way: config -> data -> degradation -> model -> metrics -> reports.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from aebench.core.config import build, build_parts, check_top_level, plain
from aebench.core.errors import ConfigError, RunStopped

log = logging.getLogger("aebench")


def check_accelerator(cfg: DictConfig) -> str:
    """trainer=gpu on a machine without one: one line instead of Lightning's wrapped exception.
    Returns the precision to train at: trainer.precision, with `auto` settled for this machine
    (`auto_precision`); the caller applies it (`settle_precision`)."""
    import torch

    accel = str(cfg.trainer.get("accelerator", "auto")).lower()
    if accel in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(f"trainer.accelerator={accel} needs a CUDA GPU, and this machine has "
                          "none (torch.cuda.is_available() is False): use trainer=cpu, or the "
                          "default accelerator=auto, which trains on a GPU when there is one")
    precision = cfg.trainer.get("precision")
    return auto_precision(accel) if str(precision) == "auto" else precision


def settle_precision(cfg: DictConfig) -> None:
    """Check the accelerator and write the precision it settles into cfg.trainer.precision (so
    that the trainer, W&B's config and metrics.json see the value used, not `auto`)."""
    precision = check_accelerator(cfg)
    if precision != cfg.trainer.get("precision"):
        cfg.trainer.precision = precision


def auto_precision(accelerator: str) -> str:
    """trainer.precision=auto: bf16-mixed on a CPU with native bf16 arithmetic (AVX512-BF16 or
    AMX, which oneDNN uses for convolutions and LSTMs: 1.6-2.8x per step on this project's CPU at
    the test PSNR of fp32, docs/performance.md), 32-true everywhere else (a GPU, an older CPU,
    where bf16 is emulated and slower)."""
    import torch

    on_cpu = accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())
    return "bf16-mixed" if on_cpu and torch.ops.mkldnn._is_mkldnn_bf16_supported() else "32-true"


def check_write_paths(out_dir: Path, callbacks, logger) -> None:
    """Everything a run writes stays inside its own folder."""
    from pytorch_lightning.callbacks import ModelCheckpoint

    root = out_dir.resolve()
    paths = [("callbacks.model_checkpoint.dirpath", c.dirpath) for c in callbacks
             if isinstance(c, ModelCheckpoint) and c.dirpath]
    if logger is not None and getattr(logger, "save_dir", None):
        paths.append(("logger.save_dir", logger.save_dir))
    for key, path in paths:
        p = Path(path).resolve()
        if p != root and root not in p.parents:
            raise ConfigError(f"{key}={path} is outside this run's folder {out_dir}; a run "
                              "writes only inside its folder (set hydra.run.dir to move it)")


def tune(net, datamodule, degradation, n: int = 500) -> dict | None:
    """Let a network without trainable parameters pick its settings on `n` training items."""
    if not hasattr(net, "tune"):
        return None
    import torch

    from aebench.core.data.base import to_float

    clean = to_float(datamodule.train_x[:n])
    degraded = degradation(clean, torch.arange(len(clean)), "tune")
    info = net.tune(clean, degraded)
    log.info("tuned %s on %d training items: %s", type(net).__name__, len(clean), info)
    return info


def finished_metrics(out_dir: Path) -> dict | None:
    """metrics.json of a run that ended with results in `out_dir`, else None."""
    import json

    path = Path(out_dir) / "metrics.json"
    try:
        metrics = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return metrics if metrics.get("status", "ok") == "ok" and "test_mse" in metrics else None


def check_output_dir(out_dir: Path, cfg: DictConfig) -> Path | None:
    """Refuse to train over a finished or unfinished run unless told; the checkpoint to resume."""
    last = out_dir / "checkpoints" / "last.ckpt"
    if cfg.get("overwrite"):
        return None
    if finished_metrics(out_dir) is not None:
        raise ConfigError(
            f"{out_dir} already holds a finished run (metrics.json); choose another folder, "
            "or pass overwrite=true to train there again")
    if cfg.get("resume"):
        return last if last.is_file() else None
    if last.is_file():
        raise ConfigError(
            f"{out_dir} holds checkpoints of an unfinished run; pass resume=true to continue it "
            "or overwrite=true to start it again")
    return None


def wandb_run_id(out_dir: Path) -> str | None:
    """The id of the W&B run an earlier attempt of this run started (wandb/*run-<time>-<id>)."""
    runs = sorted(Path(out_dir).glob("wandb/*run-*-*"), key=lambda p: p.stat().st_mtime)
    return runs[-1].name.rsplit("-", 1)[-1] if runs else None


def tested_scores(trainer) -> dict:
    """metrics.json's test scores from the trainer after `trainer.test`: test_mse, test_psnr,
    ..., baseline_mse, ..., psnr_gain."""
    scores = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")}
    metrics = {}
    for key, value in scores.items():
        name = key.split("/", 1)[1]
        metrics[name if name.startswith(("baseline_", "psnr_gain")) else f"test_{name}"] = value
    return metrics


def run_record(trainer, module, net, degradation, cfg: DictConfig, *, item_shape, names: dict,
               overrides: list[str], out_dir: Path, training: dict, tuned,
               scores: dict | None = None) -> dict:
    """metrics.json of a run (or of an evaluation: `aebench.evaluate`) once `trainer.test` ran:
    the test scores, then `scores` (validation, analysis), what was run, `training` (how the
    model was trained: seconds, epochs, best checkpoint) and where; the one author of it."""
    from aebench.core.metrics import compression

    params = sum(p.numel() for p in net.parameters())
    return {
        **tested_scores(trainer), **(scores or {}),
        "status": "ok", "baseline": module.baseline.name, "item_shape": list(item_shape),
        **compression(item_shape, net.code_size, params), **training,
        "degradation_detail": degradation.describe(), "noise_std": degradation.noise_std,
        "latent": cfg.latent, "depth": cfg.depth,
        "blur": plain(cfg.blur), "seed": cfg.seed, "overrides": list(overrides),
        "output_dir": str(out_dir), "device": str(trainer.strategy.root_device),
        "precision": str(trainer.precision), "tuned": tuned,
        "model": names.get("model"), "data": names.get("data"),
        "degradation": names.get("degradation")}


def run_names(choices: dict, overrides: list[str]) -> tuple[dict, str]:
    """The group options that name a run (model, data, degradation) and its W&B run name."""
    names = {"model": choices.get("model"), "data": choices.get("data"),
             "degradation": choices.get("degradation")}
    run_name = "-".join(str(v) for v in names.values()) + (
        "-" + ",".join(overrides) if overrides else "")
    return names, run_name


def make_trainer(cfg: DictConfig, out_dir: Path, overrides: list[str], logger):
    """The configured Lightning trainer: its callbacks, a stop on SIGTERM/SIGINT that says how
    to resume, atomic checkpoint writes, everything written inside `out_dir`; a progress bar
    only where the callbacks configure one (unless trainer.enable_progress_bar says)."""
    from aebench.running.checkpoints import AtomicCheckpointIO, StopOnSignal

    callbacks = [build(c) for c in (cfg.get("callbacks") or {}).values() if c]
    hint = "python -m aebench " + " ".join(
        [o for o in overrides if not o.startswith("resume=")] + [f"resume={out_dir}"])
    callbacks.append(StopOnSignal(out_dir / "checkpoints" / "last.ckpt", hint))
    check_write_paths(out_dir, callbacks, logger)
    extra = {}
    if "enable_progress_bar" not in cfg.trainer:  # a bar only where callbacks/ configures one
        from pytorch_lightning.callbacks import ProgressBar  # (callbacks=none: none at all)

        extra["enable_progress_bar"] = any(isinstance(c, ProgressBar) for c in callbacks)
    return build(cfg.trainer, logger=logger if logger is not None else False,
                 callbacks=callbacks, default_root_dir=str(out_dir),
                 plugins=[AtomicCheckpointIO(hint)], **extra)


def fit(trainer, module, net, datamodule, degradation, out_dir: Path, resume_from) -> dict | None:
    """Train a learned network (from `resume_from` if given); tune a non-learned one on training
    items instead (returns its tuned settings, else None). A NaN/Inf loss stops the run."""
    if not any(p.requires_grad for p in net.parameters()):
        return tune(net, datamodule, degradation)  # a non-learned row: never trained
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=resume_from, weights_only=True)
    except FloatingPointError as err:  # NaN/Inf loss (module.training_step)
        last = out_dir / "checkpoints" / "last.ckpt"
        kept = (f"the last good checkpoint is {last}" if last.is_file()
                else "no checkpoint was written before it")
        raise RunStopped(f"{err}; {kept}") from None
    return None


def best_checkpoint(trainer):
    """(the ModelCheckpoint callback or None, its best checkpoint's path or None)."""
    from pytorch_lightning.callbacks import ModelCheckpoint

    ckpt = next((c for c in trainer.callbacks if isinstance(c, ModelCheckpoint)), None)
    return ckpt, (ckpt.best_model_path if ckpt is not None and ckpt.best_model_path else None)


def best_validation(history: list[dict]) -> tuple[dict, dict]:
    """The validation epoch whose checkpoint was tested (lowest val/loss): (metrics.json's
    val_psnr / val_mse of it, which sweepers optimise; every val/ score of it, with
    val/best_epoch, for W&B's summary)."""
    scored = [h for h in history if "val/loss" in h]
    if not scored:
        return {}, {}
    best_epoch = min(scored, key=lambda h: h["val/loss"])
    best_val = {k: v for k, v in best_epoch.items() if k.startswith("val/")}
    best_val["val/best_epoch"] = best_epoch["epoch"]
    return ({k.replace("/", "_"): v for k, v in best_epoch.items()
             if k in ("val/psnr", "val/mse")}, best_val)


def write_results(metrics: dict, module, out_dir: Path, names: dict, degradation, logger,
                  best_val: dict) -> None:
    """metrics.json, reconstructions.png, loss_curve.png, report.html, W&B's summary, and the
    summary lines on the terminal."""
    from aebench.running import outputs

    outputs.write_json(metrics, out_dir / "metrics.json")
    title = f"{names['model']} on {names['data']} ({degradation.describe()})"
    outputs.save_reconstructions(module.examples, out_dir / "reconstructions.png", title)
    outputs.save_loss_curve(module.history, out_dir / "loss_curve.png")
    outputs.publish(metrics, out_dir, logger, best_val)  # report.html, W&B summary/images
    print("\n".join(outputs.summary_lines(metrics)), flush=True)  # score, verdict, folder


def run(cfg: DictConfig, choices: dict | None = None, overrides: list[str] | tuple = (),
        group: str | None = None, trial: dict | None = None) -> dict:
    """Train and test one model as configured; write and return metrics.json's flat metrics.

    `cfg` is the composed config (`config.compose`, or Hydra's under `python -m aebench`);
    `choices` the group options it was composed from (model, data, degradation: they name the
    run), `overrides` the command line's (recorded, and what `resume=` matches), `group` the
    W&B group of a sweep's trials, `trial` where a sweep trial ran (recorded in metrics.json).
    Nothing else is read: the same arguments give the same run.
    """
    overrides = [str(o) for o in overrides]
    check_top_level(cfg)  # before the heavy imports: a bad knob fails at once
    import pytorch_lightning as pl

    from aebench.running import outputs
    from aebench.running.checkpoints import resumable
    from aebench.running.loggers import build_logger, finish_wandb

    settle_precision(cfg)
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if cfg.get("resume") and not cfg.get("overwrite"):
        done = finished_metrics(out_dir)
        if done is not None:  # nothing to do: keep the results
            log.info("%s already finished; its results are kept (resume)", out_dir)
            return done
    resume_from = check_output_dir(out_dir, cfg)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)

    datamodule, degradation, net, module = build_parts(cfg)
    names, run_name = run_names(dict(choices or {}), overrides)
    print(outputs.config_line(cfg, names, out_dir), flush=True)  # the config in one line
    if resume_from is not None:
        resume_from = resumable(resume_from, module)  # last.ckpt, else the newest readable
        log.info("resuming from %s", resume_from)
    logger = build_logger(cfg.get("logger"), OmegaConf.to_container(cfg, resolve=True),
                          name=run_name[:120], group=group, tags=[str(v) for v in names.values()],
                          job_type=str(names["model"]), names=names,
                          run_id=wandb_run_id(out_dir) if resume_from is not None else None)
    trainer = make_trainer(cfg, out_dir, overrides, logger)

    failed = True
    try:
        start = time.perf_counter()
        tuned = fit(trainer, module, net, datamodule, degradation, out_dir, resume_from)
        train_seconds = module.fit_seconds_before + time.perf_counter() - start  # + earlier attempts
        ckpt, best = best_checkpoint(trainer)
        trainer.test(module, datamodule=datamodule, ckpt_path=best, verbose=False,
                     weights_only=True)

        scores, best_val = best_validation(module.history)
        analysis = build(cfg.analysis) if cfg.get("analysis") else None  # conf/analysis/
        if analysis is not None and trainer.is_global_zero:  # on the tested (best) weights
            scores.update(analysis(net, datamodule, degradation, out_dir, cfg.seed))
        training = {
            "train_seconds": round(train_seconds, 2),
            "train_images_per_second": round(
                module.train_items / max(module.train_step_seconds, 1e-9), 1),
            "epochs": trainer.current_epoch, "global_steps": trainer.global_step,
            "best_checkpoint": best,
            "best_val_loss": float(ckpt.best_model_score)
            if ckpt is not None and ckpt.best_model_score is not None else None}
        metrics = run_record(trainer, module, net, degradation, cfg,
                             item_shape=datamodule.item_shape, names=names, overrides=overrides,
                             out_dir=out_dir, training=training, tuned=tuned, scores=scores)
        if trial is not None:
            metrics["trial"] = {**trial, "finished": time.time()}
        if trainer.is_global_zero:  # under DDP every rank gets here: one writes the results
            write_results(metrics, module, out_dir, names, degradation, logger, best_val)
        failed = False
        return metrics
    finally:
        note = finish_wandb(logger, failed)
        if note:
            print(note)
