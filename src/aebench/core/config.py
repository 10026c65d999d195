"""Where a run's configuration comes from: the files in conf/, composed into one DictConfig.

Light on purpose (no torch): the command line checks group choices and keys here before
anything heavy is imported. Every command builds its config through `compose` (tests,
`aebench.analyze`, `aebench.evaluate`, the benchmarks) or through Hydra's own entry point
(`python -m aebench`); either way a run is then `train.run(cfg, choices, overrides)`.

Top-level knobs (`latent`, `depth`, `lr`, `loss`) are null by default: each model config holds
its own values as constructor arguments (`model=cnn_small` alone is the published model), and
a knob given on the command line replaces that value on every model that takes it
(`apply_knobs`).

A composed config is built here too: `check_top_level` checks the top-level values, `build`
instantiates one node, `build_parts` the data module, degradation, network and module of a
run (what `train.run`, `aebench.evaluate`, `aebench.analyze` and the tests all build from).
"""
from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from aebench.core.errors import ConfigError

if TYPE_CHECKING:
    from omegaconf import DictConfig

log = logging.getLogger("aebench")


def plain(value):
    """A config value as plain Python (a ListConfig such as blur=[0.5,2.0] becomes a list)."""
    from omegaconf import OmegaConf

    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"

#: top-level knob -> where it lands in the config (net arguments, then module arguments)
KNOB_PATHS = {"latent": "model.net.latent", "depth": "model.net.depth", "lr": "model.lr",
              "loss": "model.loss", "schedule": "model.schedule"}


def module_defaults(target: str) -> dict:
    """The keyword defaults of the module class `target` (model._target_): what it uses for a
    knob (lr, loss, schedule) that neither the model config nor the command line sets."""
    import inspect

    from hydra.utils import get_class

    return {name: p.default for name, p in inspect.signature(get_class(target)).parameters.items()
            if p.default is not inspect.Parameter.empty}


def sweep_device_error(what: str) -> ConfigError:
    """The one refusal of DDP (or several devices) inside a multirun: `what` names the setting."""
    return ConfigError(
        f"{what} cannot run inside a multirun (-m): each trial gets one device (DDP starts a "
        "process per GPU, which hangs or duplicates trials under a sweep launcher). Run DDP as a "
        "single job (python -m aebench trainer=ddp), or sweep with hydra/launcher=parallel to put "
        "one trial on each GPU")


def options(group: str) -> list[str] | None:
    """The choices of config group `group` (conf/<group>/*.yaml), None if it is not a group."""
    d = CONF_DIR / group
    if not d.is_dir():
        return None
    return sorted(p.stem for p in d.glob("*.yaml") if not p.stem.startswith("_"))


def check_group_choices(args: list[str]) -> None:
    """ConfigError if `group=option` names an option that does not exist."""
    for arg in args:
        if "=" not in arg or arg.startswith("-"):
            continue
        key, value = arg.split("=", 1)
        key = key.lstrip("+~")
        if "." in key or "/" in key or "(" in value or key.startswith("hydra"):
            continue
        choices = options(key)
        if choices is None:
            continue
        for choice in value.split(","):
            if choice and choice != "null" and choice not in choices:
                raise ConfigError(f"{key}={choice} is not an option; choose one of: "
                                  f"{', '.join(choices)}")


def check_keys(args: list[str]) -> None:
    """ConfigError naming the closest valid key when an override sets a key the config does not
    have, nested or top-level (`data.downlod=false`: did you mean data.download?; `lattent=3`:
    did you mean latent?). Group choices (first value of a sweep list) decide the config the keys
    are looked up in; `+key=` adds keys and is let through."""
    from omegaconf import OmegaConf

    wanted = [k for k in (a.split("=", 1)[0] for a in args
                          if "=" in a and not a.startswith(("-", "+", "~", "hydra")))
              if "/" not in k and ("." in k or options(k) is None)]
    if not wanted:
        return
    groups = [f"{k}={v.split(',')[0]}" for k, v in (a.split("=", 1) for a in args
              if "=" in a and not a.startswith("-"))
              if "." not in k and "/" not in k and options(k.lstrip("+~")) is not None
              and "(" not in v]
    cfg = compose_plain(groups)
    for key in wanted:
        parent, _, name = key.rpartition(".")
        node = OmegaConf.select(cfg, parent) if parent else cfg
        if node is None or not OmegaConf.is_dict(node) or name in node.keys():
            continue
        near = closest_key(cfg, key)
        raise ConfigError(f"{key} is not a key of this config"
                          + (f"; did you mean {near}?" if near else "")
                          + f" (to add a new key: +{key}=...)")


def closest_key(cfg, dotted: str) -> str | None:
    """The valid key of `cfg` nearest to the mistyped `dotted` (for "did you mean ...?")."""
    from omegaconf import DictConfig

    parts = dotted.split(".")
    node, prefix = cfg, []
    for i, part in enumerate(parts):
        if not isinstance(node, DictConfig):
            return None
        keys = [str(k) for k in node.keys()]
        if part in keys and i < len(parts) - 1:
            node, prefix = node[part], prefix + [part]
            continue
        near = difflib.get_close_matches(part, keys, n=1, cutoff=0.6)
        return ".".join(prefix + near[:1] + parts[i + 1:]) if near else None
    return None


@dataclass
class Composed:
    """A run's config with what Hydra knew about it: group choices and the overrides given."""

    cfg: object
    choices: dict = field(default_factory=dict)
    overrides: list = field(default_factory=list)


def compose(overrides: list[str] | tuple = (), output_dir: str | Path = "outputs/run") -> Composed:
    """conf/ + `overrides`, as `python -m aebench OVERRIDES` would see it, writing to `output_dir`."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import ConfigCompositionException
    from omegaconf import OmegaConf, open_dict

    overrides = [str(o) for o in overrides]
    check_group_choices(overrides)
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = hydra_compose(config_name="config", overrides=overrides,
                                return_hydra_config=True)
    except ConfigCompositionException as err:
        check_keys(overrides)  # a mistyped key: the command line's one line, with the nearest key
        text = str(err).strip()
        raise ConfigError(text.splitlines()[0] if text else type(err).__name__) from None
    finally:
        GlobalHydra.instance().clear()
    choices = {k: v for k, v in cfg.hydra.runtime.choices.items() if not k.startswith("hydra")}
    with open_dict(cfg):
        del cfg["hydra"]
        cfg.paths.output_dir = str(Path(output_dir).absolute())
    OmegaConf.set_struct(cfg, True)
    apply_knobs(cfg)
    return Composed(cfg, dict(choices), overrides)


def compose_plain(overrides: list[str]):
    """The composed config without Hydra's node (for hints); raises what Hydra raises."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return hydra_compose(config_name="config", overrides=overrides)
    finally:
        GlobalHydra.instance().clear()


def apply_knobs(cfg) -> list[str]:
    """Settle the top-level knobs, in place; returns the knobs set that this model ignores.

    A knob that is set replaces the model's own value: on the network where it takes it
    (`latent`, `depth`), on the module always (`lr`, `loss`, `schedule`). A knob left null takes the
    model's value, so that metrics.json and W&B record what the model really used.
    """
    from omegaconf import OmegaConf, open_dict

    ignored = []
    with open_dict(cfg):
        for knob, where in KNOB_PATHS.items():
            parent_path, name = where.rsplit(".", 1)
            parent = OmegaConf.select(cfg, parent_path)
            if parent is None:
                continue
            if parent_path == "model" and name not in parent and parent.get("_target_"):
                defaults = module_defaults(parent._target_)
                if name in defaults:
                    parent[name] = defaults[name]
            has = name in parent
            value = cfg.get(knob)
            if value is not None and (has or parent_path == "model"):
                parent[name] = value
            elif value is not None:
                ignored.append(knob)
            elif has:
                cfg[knob] = parent[name]
    return ignored


# ----------------------------------------------------------------------------- building

def check_top_level(cfg: DictConfig) -> None:
    """Validate the top-level knobs before anything heavy is imported or built."""
    for key in ("latent", "depth"):
        v = cfg.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v <= 0):
            raise ConfigError(f"{key}={v!r} is not accepted: {key} must be a positive integer "
                              f"(e.g. {key}={ {'latent': 128, 'depth': 2}[key] })")
    from aebench.core.degradations import sigma_range

    sigma_range(plain(cfg.get("blur")))  # a sigma >= 0 or a range [lo, hi]
    seed = cfg.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed={seed!r} is not accepted: it must be an integer >= 0")
    epochs = cfg.trainer.get("max_epochs") if cfg.get("trainer") else None
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int)
                               or (epochs <= 0 and epochs != -1)):
        raise ConfigError(f"trainer.max_epochs={epochs!r} is not accepted: it must be an integer "
                          ">= 1 (or -1 with trainer.max_steps set)")


def build(node, **kwargs):
    """hydra.utils.instantiate, re-raising a user's ConfigError as itself (Hydra wraps it)."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    try:
        return instantiate(node, **kwargs)
    except InstantiationException as err:
        cause = err.__cause__
        while cause is not None and not isinstance(cause, ConfigError):
            cause = cause.__cause__
        if cause is None:
            raise
        raise cause from None


def build_data(cfg: DictConfig):
    """The configured data module, prepared (downloaded if asked) and set up."""
    datamodule = build(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    return datamodule


def build_degradation(cfg: DictConfig, item_shape):
    """The configured degradation, checked against the items it will degrade."""
    degradation = build(cfg.degradation)
    degradation.check(item_shape)
    return degradation


def build_model(cfg: DictConfig, datamodule, degradation, optimizer: bool = True):
    """(network, module) for this data; the optimizer only to networks with something to train
    (and none at all with `optimizer=False`: a run that is only scored)."""
    net = build(cfg.model.net, input_shape=datamodule.item_shape, bounded=datamodule.bounded)
    learned = any(p.requires_grad for p in net.parameters())
    opt = build(cfg.optimizer) if optimizer and learned and cfg.get("optimizer") else None
    module = build(cfg.model, net=net, degradation=degradation, optimizer=opt)
    return net, module


def build_parts(cfg: DictConfig):
    """config -> data -> degradation -> model: (datamodule set up, degradation, net, module).

    The top-level knobs are settled first (`config.apply_knobs`); the optimizer is given only to
    networks with something to train."""
    for knob in apply_knobs(cfg):
        log.warning("%s=%s is ignored: model %s has no %s", knob, cfg.get(knob),
                    cfg.model.net.get("_target_", "?").rsplit(".", 1)[-1], knob)
    datamodule = build_data(cfg)
    degradation = build_degradation(cfg, datamodule.item_shape)
    net, module = build_model(cfg, datamodule, degradation)
    return datamodule, degradation, net, module
