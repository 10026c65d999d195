"""Score a trained run under another degradation or data set, without training it again.

    aebench evaluate RUN_DIR [overrides]            # e.g. blur=2.0, degradation.noise_std=0.01,
                                                    #      data=folder data.root=DIR
    aebench evaluate RUN_DIR -m blur=0.5,1.0,1.5,2.0  # one evaluation per value + leaderboard

The run's config is recomposed from its own overrides with these on top (an override of a key
or group the run set replaces the run's: `data=folder` drops the run's `data.*` settings), and
the run's network is rebuilt from the run's own model config (so a Wiener filter keeps the blur
it was tuned for) and given its best checkpoint's weights (weights_only=True) or, for a
non-learned row, its tuned settings: nothing is trained or tuned again. The test split is scored
exactly as a training run scores it (`train.run_record`: the same keys, baselines and metrics:
degraded input, or PCA fitted on the evaluation data's training split), into
RUN_DIR/eval-<time>/metrics.json with reconstructions.png; the run's own files are untouched.
A model trained at blur 1.0 and evaluated at blur 2.0 therefore reports the baseline figures of
a fresh run at blur 2.0.

With `-m`, every comma-separated value list is swept (all combinations): RUN_DIR/eval-<time>/
gets one folder per evaluation (0, 1, ...) and the sweep's leaderboard.md / leaderboard.csv /
psnr_vs_blur.png (`aebench.running.leaderboard.write_leaderboard`); the exit status is the number of
evaluations that failed (each failure is in its folder's metrics.json).

Overrides that would change the model (model=, model.*, latent=, depth=, lr=, loss=,
optimizer...) are refused: evaluate scores the run's own model.
"""
from __future__ import annotations

import datetime
import itertools
import logging
import time
from pathlib import Path

from aebench.core.errors import ConfigError
from aebench.running import pretrained

log = logging.getLogger("aebench")

MODEL_KEYS = ("model", "latent", "depth", "lr", "loss", "optimizer", "resume", "overwrite",
              "analysis", "callbacks", "hparams_search", "experiment")
#: what metrics.json of the evaluated run says about how the model was trained (kept as is)
TRAINING_KEYS = ("train_seconds", "train_images_per_second", "epochs", "global_steps",
                 "best_checkpoint", "best_val_loss")


def trained_precision(run, own) -> str:
    """The precision the run ran at (metrics.json; else its saved config), so that scoring it at
    its own degradation repeats its test score: a preset at trainer.precision=auto may resolve
    differently today, and bf16 inference of fp32 weights moves PSNR by ~0.05 dB."""
    if run.metrics.get("precision"):
        return str(run.metrics["precision"])
    saved = run.run_dir / ".hydra" / "config.yaml"
    if saved.is_file():
        import yaml

        precision = ((yaml.safe_load(saved.read_text()) or {}).get("trainer") or {}).get("precision")
        if precision is not None:
            return str(precision)
    return str(own.trainer.get("precision", "32-true"))


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def check_overrides(extra: list[str]) -> None:
    for o in extra:
        if "=" not in o:
            raise ConfigError(f"{o!r} is not an override; give key=value (e.g. blur=2.0)")
        key = _key(o)
        if key.split(".")[0].split("/")[0] in MODEL_KEYS:
            raise ConfigError(f"{o} is not accepted: evaluate scores the run's own model; "
                              "change the data or the degradation (e.g. blur=2.0, "
                              "degradation.noise_std=0.01, data=folder data.root=DIR), or train "
                              "a new run for another model")


def dropped(extra: list[str]) -> tuple[str, ...]:
    """The run's overrides these replace: the same key, and a group's settings when its option
    changes (`data=folder` drops the run's `data=...` and `data.*=...`)."""
    from aebench.core.config import options

    out = []
    for o in extra:
        key = _key(o)
        out.append(f"{key}=")
        if "." not in key and options(key) is not None:
            out.append(f"{key}.")
    return tuple(out)


def evaluate_run(run_dir, extra: list[str], out: Path | None = None,
                 data_cache: dict | None = None) -> dict:
    """Evaluate the run in `run_dir` with `extra` overrides into `out` (default
    RUN_DIR/eval-<time>/; outputs/pretrained-NAME-eval-<time>/ for pretrained:NAME); writes and returns metrics.json's dict. `data_cache` (a dict the
    caller keeps, e.g. across a sweep of evaluations) holds the last data module loaded, so that
    evaluations on the same data load it once."""
    from omegaconf import OmegaConf, open_dict

    from aebench.running import outputs
    from aebench.core.config import build, build_data, build_degradation, build_model, check_top_level
    from aebench.running.train import run_record, settle_precision
    from aebench.running.trained import (_apply_tuned, data_bounded, load_state, net_state, read_run,
                                 run_choices)

    extra = [str(o) for o in extra]
    check_overrides(extra)
    run = read_run(run_dir, need_checkpoint=False)
    if run.metrics.get("status", "ok") != "ok" or "test_mse" not in run.metrics:
        raise ConfigError(f"{run.run_dir} holds no finished run (metrics.json with test "
                          "results); give the folder of a run that ended")
    stamp = f"eval-{datetime.datetime.now():%Y-%m-%d_%H-%M-%S-%f}"
    shipped = pretrained.shipped_name(run_dir)  # inside the installed package: not there
    out = Path(out) if out is not None else (
        Path("outputs") / f"pretrained-{shipped}-{stamp}" if shipped is not None
        else run.run_dir / stamp)
    own = run.compose().cfg  # knobs settled by compose
    model_node = OmegaConf.to_container(own.model, resolve=True)  # the model as trained
    composed = run.compose(extra, output_dir=out, drop=dropped(extra))
    cfg = composed.cfg
    with open_dict(cfg):
        cfg.model = model_node
        for knob in ("latent", "depth", "lr", "loss"):
            cfg[knob] = own.get(knob)
        if not any(_key(o) == "trainer.precision" for o in extra):  # else the user's choice
            cfg.trainer.precision = trained_precision(run, own)
    check_top_level(cfg)
    settle_precision(cfg)
    import pytorch_lightning as pl

    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    key = OmegaConf.to_yaml(cfg.data)
    datamodule = (data_cache or {}).get(key)
    if datamodule is None:
        datamodule = build_data(cfg)
        if data_cache is not None:
            data_cache.clear()
            data_cache[key] = datamodule
    degradation = build_degradation(cfg, datamodule.item_shape)
    item_shape = tuple(datamodule.item_shape)
    trained_shape = tuple(run.metrics.get("item_shape") or item_shape)
    bounded = datamodule.bounded
    if bounded != data_bounded(own):
        raise ConfigError(f"{' '.join(extra)}: this data is {'' if bounded else 'not '}in [0, 1] "
                          f"and the run's was {'not ' if bounded else ''}; evaluate on data of "
                          "the kind the model was trained on")
    try:
        net, module = build_model(cfg, datamodule, degradation, optimizer=False)
    except ConfigError as err:
        raise ConfigError(f"the run's model cannot take this data's items {item_shape}: "
                          f"{err}") from None
    checkpoint = None
    if any(p.requires_grad for p in net.parameters()):
        if run.checkpoint is None:
            raise ConfigError(f"{run.run_dir}: no finished checkpoint to evaluate")
        checkpoint = run.checkpoint
        why = f"{checkpoint} does not fit the model rebuilt for this evaluation"
        if item_shape != trained_shape:  # a size-tied model's weights fit only its own size
            why += (f" (this data's items are {item_shape}, the run was trained on "
                    f"{trained_shape} and its model is tied to that size)")
        load_state(net, net_state(checkpoint), why)
    else:
        _apply_tuned(net, run.metrics.get("tuned"))
    out.mkdir(parents=True, exist_ok=True)
    from pytorch_lightning.callbacks import RichProgressBar

    # the test pass runs for minutes on a full test set: the same progress bar as training
    trainer = build(cfg.trainer, logger=False, callbacks=[RichProgressBar()],
                    default_root_dir=str(out), enable_checkpointing=False,
                    enable_progress_bar=True, enable_model_summary=False)
    start = time.perf_counter()
    trainer.test(module, datamodule=datamodule, verbose=False, weights_only=True)
    names = run_choices(run)
    names.update({k: v for k, v in ((_key(o), o.split("=", 1)[1]) for o in extra)
                  if k in ("data", "degradation")})
    metrics = run_record(trainer, module, net, degradation, cfg, item_shape=item_shape,
                         names=names, overrides=composed.overrides, out_dir=out,
                         training={k: run.metrics.get(k) for k in TRAINING_KEYS},
                         tuned=run.metrics.get("tuned"))
    metrics.update(
        evaluated_run=str(run.run_dir), checkpoint=str(checkpoint) if checkpoint else None,
        eval_overrides=extra, eval_seconds=round(time.perf_counter() - start, 2),
        trained_with={k: run.metrics.get(k) for k in
                      ("data", "degradation_detail", "blur", "test_psnr", "test_ssim",
                       "test_mse", "baseline_psnr", "baseline_mse")})
    outputs.write_json(metrics, out / "metrics.json")
    if module.examples is not None:
        title = (f"{names.get('model')} (trained: {run.metrics.get('degradation_detail')}) on "
                 f"{metrics['data']} ({degradation.describe()})")
        outputs.save_reconstructions(module.examples, out / "reconstructions.png", title)
    return metrics


def expand_sweep(extra: list[str]) -> list[list[str]]:
    """Every combination of the comma-separated values (`blur=0.5,1.0` x `data.x=a,b`)."""
    lists = []
    for o in extra:
        key, _, value = o.partition("=")
        if "," in value and not value.strip().startswith(("[", "{", "'", '"')):
            lists.append([f"{key}={v}" for v in value.split(",") if v != ""])
        else:
            lists.append([o])
    return [list(c) for c in itertools.product(*lists)]


def evaluate_sweep(run_dir, extra: list[str]) -> tuple[Path, list[dict]]:
    """One evaluation per combination into RUN_DIR/eval-<time>/<i>/, then the leaderboard."""
    from aebench.running.outputs import write_json
    from aebench.running.leaderboard import write_leaderboard
    from aebench.running.trained import read_run

    check_overrides(extra)
    run = read_run(run_dir, need_checkpoint=False)
    sweep_dir = run.run_dir / f"eval-{datetime.datetime.now():%Y-%m-%d_%H-%M-%S-%f}"
    results = []
    data_cache: dict = {}  # the evaluations on one data set load it once
    for i, combo in enumerate(expand_sweep(extra)):
        out = sweep_dir / str(i)
        try:
            results.append(evaluate_run(run_dir, combo, out, data_cache))
            log.info("evaluation %d (%s): done", i, " ".join(combo))
        except ConfigError as err:
            out.mkdir(parents=True, exist_ok=True)
            failed = {"status": "failed", "error": str(err), "overrides": combo,
                      "eval_overrides": combo, "evaluated_run": str(run.run_dir),
                      "output_dir": str(out), **{k: run.metrics.get(k) for k in
                                                 ("model", "data", "degradation")}}
            write_json(failed, out / "metrics.json")
            results.append(failed)
            log.warning("evaluation %d (%s) failed: %s", i, " ".join(combo), err)
    write_leaderboard(sweep_dir)
    return sweep_dir, results


def command(args) -> int:
    """`aebench evaluate RUN_DIR [OVERRIDES] [-m]`; with -m the exit
    status is the number of evaluations that failed."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not args.multirun:
        if any("," in a.partition("=")[2] for a in args.overrides):
            log.info("a comma in a value is taken literally; add -m to sweep over the values")
        metrics = evaluate_run(args.run_dir, args.overrides)
        from aebench.running.outputs import summary_lines

        print("\n".join(summary_lines(metrics)))  # score, verdict, the evaluation's folder
        return 0
    sweep_dir, results = evaluate_sweep(args.run_dir, args.overrides)
    from aebench.running.leaderboard import markdown
    from aebench.running.trials import collect_trials

    print(markdown(collect_trials([sweep_dir])))
    failed = sum(r.get("status") != "ok" for r in results)
    print(f"{len(results)} evaluation(s), {failed} failed; leaderboard.md in {sweep_dir}")
    return min(failed, 255)


def parser():
    """`aebench evaluate`'s arguments (aebench.core.errors.Parser: one-line errors, examples)."""
    from aebench.core.errors import Parser

    p = Parser("evaluate", "Score a trained run under another degradation or data set, without "
               "training it again, into RUN_DIR/eval-<time>/ (the run's own files are untouched). "
               "Overrides that change the model are refused.",
               ["aebench evaluate RUN_DIR blur=2.0",
                "aebench evaluate RUN_DIR data=folder data.root=DIR",
                "aebench evaluate RUN_DIR -m blur=0.5,1.0,1.5,2.0   # one per value + leaderboard"])
    p.add_argument("run_dir", metavar="RUN_DIR", help="a finished run or sweep trial folder")
    p.add_argument("overrides", metavar="KEY=VALUE", nargs="*", default=[],
                   help="config overrides on top of the run's own (degradation, data)")
    p.add_argument("-m", "--multirun", action="store_true",
                   help="one evaluation per combination of comma-separated values")
    return p


def main(argv: list[str] | None = None) -> None:
    """`aebench evaluate ARGS` and `python -m aebench.evaluate ARGS` (the same code path)."""
    from aebench.core.errors import run_command

    run_command(parser(), command, argv)


if __name__ == "__main__":
    main()
