"""A finished run read back: its config (recomposed from its own overrides), metrics and checkpoint.

What every command that uses a trained model starts from: `aebench.analyze` and
`aebench.evaluate` rebuild the whole run (data included) with `TrainedRun.compose`;
`aebench.restore` and `aebench.export` need only the network: `load_net` rebuilds it from the
run's own config and metrics.json's `item_shape`, without loading the data set.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from aebench.core.config import Composed, compose
from aebench.core.errors import ConfigError


@dataclass
class TrainedRun:
    run_dir: Path
    overrides: list[str]     # what the run was started with (.hydra/overrides.yaml)
    metrics: dict            # its metrics.json ({} if it never finished)
    checkpoint: Path | None  # the tested (best) checkpoint, else last.ckpt; None for filters

    def compose(self, extra: list[str] | tuple = (), output_dir: str | Path | None = None,
                drop: tuple[str, ...] = ()) -> Composed:
        """The run's config with `extra` overrides on top (overrides of the run whose key starts
        with one of `drop` are left out first), writing to `output_dir`."""
        own = [o for o in self.overrides if not o.lstrip("+~").startswith(drop)] if drop else \
            list(self.overrides)
        return compose([*own, *extra], output_dir or self.run_dir)


#: run references other than a folder: `SCHEME:NAME` -> a function of NAME giving the run folder
#: (raising ConfigError for an unknown NAME); see resolve_run
def _pretrained(name: str) -> Path:
    from aebench.running import pretrained

    return pretrained.folder(name)


#: `SCHEME:NAME` run references: the pretrained models shipped with the package (aebench.running.pretrained)
REFERENCES: dict = {"pretrained": _pretrained}


def resolve_run(ref: str | Path) -> Path:
    """The folder a run reference names, what every command that takes a trained run starts
    from (restore, evaluate, export, analyze, `aebench.load`): a run's or a sweep trial's folder,
    or `SCHEME:NAME` for a scheme in REFERENCES. ConfigError when it names no folder."""
    text = str(ref)
    scheme, sep, name = text.partition(":")
    if sep and scheme in REFERENCES and not Path(text).exists():
        return Path(REFERENCES[scheme](name)).resolve()
    path = Path(text).expanduser().resolve()
    if not path.is_dir():
        schemes = "".join(f", or {s}:NAME" for s in sorted(REFERENCES))
        raise ConfigError(f"{text}: no such folder; give a run folder (the one `aebench` printed "
                          f"at the end of the run){schemes}")
    return path


def folder_of_runs(folder: Path) -> str | None:
    """For a folder that holds runs instead of being one (a sweep, outputs/<date>/): one line
    naming its run folders, the best first; None if it holds none (two levels down at most)."""
    from aebench.running.trials import load_trial

    found = sorted({f.parent for pattern in ("*/metrics.json", "*/*/metrics.json")
                    for f in folder.glob(pattern)} |
                   {f.parent.parent for pattern in ("*/.hydra/overrides.yaml",
                                                    "*/*/.hydra/overrides.yaml")
                    for f in folder.glob(pattern)})
    found = [f for f in found if not any(p in found for p in f.parents)]
    if not found:
        return None
    trials = [load_trial(f) for f in found]
    ok = [t for t in trials if t["status"] == "ok" and t.get("test_psnr") is not None]
    what = "a sweep folder" if (folder / "multirun.yaml").is_file() else "a folder of runs"
    names = [f.relative_to(folder).as_posix() for f in found]
    line = (f"{folder} is {what}, not a run folder; give one of its {len(found)} run folders "
            f"({', '.join(names[:12])}{f', ... {len(names) - 12} more' if len(names) > 12 else ''})")
    if ok:
        best = max(ok, key=lambda t: t["test_psnr"])
        line += (f", e.g. the best: {best['dir']} ({best.get('model')}, test PSNR "
                 f"{best['test_psnr']:.2f} dB)")
    return line


def read_run(run_dir: str | Path, need_checkpoint: bool = True) -> TrainedRun:
    """The run in `run_dir` (a single run's or a sweep trial's folder, or a reference
    `resolve_run` knows); ConfigError if it is not one, or (with `need_checkpoint`) if it has no
    checkpoint to load."""
    from aebench.running.runfolder import check_run_overrides, read_overrides

    run_dir = resolve_run(run_dir)
    overrides_file = run_dir / ".hydra" / "overrides.yaml"
    try:
        metrics = json.loads((run_dir / "metrics.json").read_text())
    except (OSError, ValueError):
        metrics = {}
    # input, not code: only options and values are taken from the folder (aebench.running.runfolder)
    if overrides_file.is_file():
        overrides = read_overrides(overrides_file)
    elif isinstance(metrics.get("overrides"), list):  # a run started in-process (train.run)
        overrides = check_run_overrides(metrics["overrides"], run_dir / "metrics.json")
    else:
        raise ConfigError(folder_of_runs(run_dir) or
                          f"{run_dir} is not a run folder (no .hydra/overrides.yaml or "
                          "metrics.json); give the folder `aebench` printed at the end of the run")
    ckpt = None
    best = metrics.get("best_checkpoint")
    if (run_dir / "weights.safetensors").is_file():  # a shipped model (aebench.running.pretrained)
        ckpt = run_dir / "weights.safetensors"
    elif best and (run_dir / "checkpoints" / Path(best).name).is_file():  # moved or copied
        ckpt = run_dir / "checkpoints" / Path(best).name  # folders read their own checkpoint
    elif best and Path(best).is_file():
        ckpt = Path(best)
    elif (run_dir / "checkpoints" / "last.ckpt").is_file():
        ckpt = run_dir / "checkpoints" / "last.ckpt"
    if need_checkpoint and ckpt is None:
        raise ConfigError(f"{run_dir}: no checkpoint (neither metrics.json's best_checkpoint nor "
                          "checkpoints/last.ckpt); use a run of a learned model that finished "
                          "training")
    return TrainedRun(run_dir, overrides, metrics, ckpt)


def load_weights(module, checkpoint: Path) -> None:
    """The checkpoint's weights into `module` (a LightningModule built from the run's config),
    read with weights_only=True; ConfigError when they belong to another network."""
    import torch

    if Path(checkpoint).suffix == ".safetensors":  # the network's weights alone
        state = {f"net.{k}": v for k, v in net_state(checkpoint).items()}
        load_state(module, {**module.state_dict(), **state}, f"{checkpoint} does not hold weights "
                   f"of this run's model ({type(module.net).__name__})")
        return
    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    except Exception as err:  # noqa: BLE001 - truncated, corrupted: one line naming the file
        raise ConfigError(f"{checkpoint} is not a readable aebench checkpoint "
                          f"({type(err).__name__}: {' '.join(str(err).split())[:160]})") from None
    load_state(module, state, f"{checkpoint} does not hold weights of this run's model "
                              f"({type(module.net).__name__})")


# -- the network alone (restore, export): no data set needed ---------------------------------

#: the sides a fully convolutional network's input must divide by are probed up to this
_MAX_MULTIPLE = 64


@dataclass
class LoadedNet:
    """A run's network with its trained weights (or tuned settings), ready for inference.

    `make(shape)` builds the same network for items of another `shape` with the same weights
    (a Wiener filter's transfer function is rebuilt for that size); `multiple` is what an image's
    sides must divide by for it (None when the network is tied to its training size: row-sequence
    LSTMs, dense bottlenecks)."""

    run: TrainedRun
    cfg: object               # the run's own composed config (knobs settled)
    net: object               # built for `item_shape`, eval mode, on the CPU
    degradation: object       # the run's own degradation
    item_shape: tuple         # what the run was trained on: (C, H, W) or (T, F)
    bounded: bool             # values in [0, 1] (images)
    multiple: int | None      # fully convolutional: sides must divide by this; None: tied to size
    name: str                 # the model's config name (e.g. cnn_small)

    @property
    def image(self) -> bool:
        return len(self.item_shape) == 3

    def make(self, shape) -> object:
        shape = tuple(int(s) for s in shape)
        if shape == tuple(self.item_shape):
            return self.net
        return _build_net(self.cfg, shape, self.bounded, self.run, self._state)

    _state: dict | None = None


def run_choices(run: TrainedRun) -> dict:
    """model / data / degradation the run was composed from (metrics.json, else its overrides)."""
    out = {k: run.metrics.get(k) for k in ("model", "data", "degradation") if run.metrics.get(k)}
    for o in run.overrides:
        key, _, value = o.lstrip("+~").partition("=")
        if key in ("model", "data", "degradation") and key not in out:
            out[key] = value
    return out


def data_bounded(cfg) -> bool:
    """The data module's class attribute `bounded` (images: True), read without loading any data."""
    from hydra.utils import get_class

    try:
        return bool(getattr(get_class(cfg.data._target_), "bounded", True))
    except Exception:  # noqa: BLE001 - an unknown class: images are the common case
        return True


def net_state(checkpoint: Path) -> dict:
    """The network's weights in a Lightning checkpoint (keys `net.*`, prefix removed), read with
    weights_only=True; ConfigError when the file is not a checkpoint."""
    import torch

    if Path(checkpoint).suffix == ".safetensors":  # shipped weights: tensors only, no pickle
        from safetensors.torch import load_file

        try:
            return load_file(str(checkpoint))
        except Exception as err:  # noqa: BLE001 - a damaged file: one line naming it
            raise ConfigError(f"{checkpoint} is not a readable safetensors file "
                              f"({type(err).__name__}: {' '.join(str(err).split())[:160]})") from None
    try:
        ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True)
        state = ckpt["state_dict"]
    except Exception as err:  # noqa: BLE001 - pickle/zip/key errors: all "not a checkpoint"
        raise ConfigError(f"{checkpoint} is not a readable aebench checkpoint "
                          f"({type(err).__name__}: {' '.join(str(err).split())[:160]})") from None
    return {k[len("net."):]: v for k, v in state.items() if k.startswith("net.")}


def _apply_tuned(net, tuned: dict | None) -> None:
    """A non-learned row's tuned settings (metrics.json `tuned`) onto a freshly built filter."""
    import torch

    for key, value in (tuned or {}).items():
        if key.startswith("tune_") or not hasattr(net, key):
            continue
        current = getattr(net, key)
        if isinstance(current, torch.Tensor):
            current.fill_(float(value))
        else:
            setattr(net, key, type(current)(value) if current is not None else value)


def load_state(net, state: dict, why: str) -> None:
    """`state` into `net`; a mismatch is a ConfigError `why: <torch's first line>`."""
    try:
        net.load_state_dict(state)
    except RuntimeError as err:
        raise ConfigError(f"{why}: {str(err).strip().splitlines()[0]}") from None


def _build_net(cfg, shape, bounded: bool, run: TrainedRun, state: dict | None):
    """The run's network for items of `shape`, with its weights / tuned settings, eval mode."""
    from aebench.core.config import build

    net = build(cfg.model.net, input_shape=tuple(shape), bounded=bounded)
    if state is not None:
        load_state(net, state, f"{run.checkpoint} does not hold weights of this run's model "
                               f"({type(net).__name__}, model={run_choices(run).get('model')})")
    else:
        _apply_tuned(net, run.metrics.get("tuned"))
    return net.eval()


def _probe_multiple(loaded: LoadedNet) -> int | None:
    """What image sides must divide by for the network to take any size; None if it cannot."""
    import torch

    if not loaded.image:
        return None
    c, h, w = loaded.item_shape
    m = 1
    while m <= _MAX_MULTIPLE:
        shape = (c, h + m, w + 2 * m)
        try:
            net = loaded.make(shape)
            with torch.inference_mode():
                out = net(torch.full((1, *shape), 0.5))
            if tuple(out.shape[1:]) == shape:
                return m
        except (ConfigError, RuntimeError, ValueError):
            pass
        m *= 2
    return None


def load_net(run_dir: str | Path) -> LoadedNet:
    """The network of the finished run in `run_dir`, from its own config, without its data set.

    Learned models: the tested (best) checkpoint's weights, read with weights_only=True; a run
    without one, or whose checkpoint belongs to another network, is a ConfigError. Non-learned
    rows (wiener, unsharp, identity): their tuned settings from metrics.json. The item shape is
    metrics.json's `item_shape` (the data set is not loaded)."""
    from aebench.core.config import build

    run = read_run(run_dir, need_checkpoint=False)
    if run.metrics.get("status", "ok") != "ok" or "item_shape" not in run.metrics:
        raise ConfigError(f"{run.run_dir} holds no finished run (metrics.json with status ok and "
                          "item_shape); give the folder of a run that ended with test results")
    cfg = run.compose().cfg  # knobs settled by compose
    shape = tuple(int(s) for s in run.metrics["item_shape"])
    bounded = data_bounded(cfg)
    net = _build_net(cfg, shape, bounded, run, None)  # a filter: its tuned settings applied
    state = None
    if any(p.requires_grad for p in net.parameters()):
        if run.checkpoint is None:
            raise ConfigError(f"{run.run_dir}: no finished checkpoint (neither metrics.json's "
                              "best_checkpoint nor checkpoints/last.ckpt); use a run of a learned "
                              "model that finished training")
        state = net_state(run.checkpoint)
        load_state(net, state, f"{run.checkpoint} does not hold weights of this run's model "
                               f"({type(net).__name__}, model={run_choices(run).get('model')})")
    degradation = build(cfg.degradation)
    loaded = LoadedNet(run=run, cfg=cfg, net=net, degradation=degradation, item_shape=shape,
                       bounded=bounded, multiple=None,
                       name=str(run_choices(run).get("model", type(net).__name__)))
    loaded._state = state
    loaded.multiple = _probe_multiple(loaded)
    return loaded
