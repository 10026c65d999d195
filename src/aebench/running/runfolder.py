"""A run folder is input, not code: the overrides a finished run left may set options and values only.

`aebench.restore`, `evaluate`, `export` and `analyze` recompose a run from its own
`.hydra/overrides.yaml` (or metrics.json's `overrides`) and instantiate it, and `resume=` continues
a folder; such a folder may come from someone else. Hydra would instantiate whatever `_target_`
an override names, with arguments of the override's choosing, so every override read from a
folder is checked here, before anything is composed or built (`check_run_overrides`):

- no `_target_`, `_args_`, `_partial_`, `_recursive_`, `_convert_` anywhere (key or value);
- no `hydra` keys or groups (launchers, callbacks, output folders), no `@package` moves;
- a group choice (`model=cnn`) must be an option in conf/;
- one value per override (no sweeps), no `${...}` interpolations or resolvers;
- no key (by `+`/`++`, or inside a `{...}` value) that the config does not have, below a node
  that is instantiated (one with a `_target_`), unless it is a named parameter of that node's
  own class (`+trainer.max_steps=1`): anything else would become an argument of the folder's
  choosing.

A violation is one line: ConfigError naming the file and the offending override.
Light on purpose (no torch): the command line checks a `resume=` folder with it.
"""
from __future__ import annotations

from pathlib import Path

from aebench.core.errors import ConfigError

#: Hydra's instantiation keys: a run folder never sets them
FORBIDDEN = ("_target_", "_args_", "_partial_", "_recursive_", "_convert_")


def _refuse(source: Path | str, override: str, why: str) -> ConfigError:
    return ConfigError(f"{source}: override {override!r} is not accepted from a run folder ({why}); "
                       "a run folder may set config options and values only: fix or remove that "
                       "line, or use a run folder you trust")


def _paths(value, prefix: str) -> list[str]:
    """The dotted key paths a `{...}` value sets below `prefix` (nested dicts, lists of dicts)."""
    out = []
    if isinstance(value, dict):
        for k, v in value.items():
            path = f"{prefix}.{k}"
            out.append(path)
            out.extend(_paths(v, path))
    elif isinstance(value, list):
        for v in value:
            out.extend(_paths(v, prefix))
    return out


def _strings(value, key: str) -> list[str]:
    """Every text an override carries once parsed: its key, dict keys, string values."""
    out = [key]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_strings(v, str(k)))
    elif isinstance(value, (list, tuple)):
        for v in value:
            out.extend(_strings(v, ""))
    elif isinstance(value, str):
        out.append(value)
    return out


def _instantiated_parent(cfg, path: str) -> str | None:
    """The nearest node above `path` (or `path` itself when missing) that has a `_target_`,
    when `path` is not a key of `cfg`; None when the key exists or nothing above is instantiated."""
    from omegaconf import DictConfig

    parts = path.split(".")
    node, seen, target = cfg, [], None
    for i, part in enumerate(parts):
        if not isinstance(node, DictConfig):
            return None  # below a value, a list: not a key this check can place
        if "_target_" in node:
            target = ".".join(seen) or "(root)"
            if part not in node and i == len(parts) - 1 and _takes(node._get_node("_target_"),
                                                                     part):
                return None  # a named argument of aebench's own class (+trainer.max_steps=1)
        if part not in node:
            return target
        node = node._get_node(part)
        seen.append(part)
    return None  # the key exists: setting it is a value


def _takes(target, name: str) -> bool:
    """Whether the config's own `_target_` (a class or function of aebench's configs, never the
    folder's) has a parameter called `name` (not merely **kwargs)."""
    import inspect

    from hydra.utils import get_object

    try:
        params = inspect.signature(get_object(str(target._value()))).parameters
    except Exception:  # noqa: BLE001 - not importable or no signature: not a known argument
        return False
    p = params.get(name)
    return p is not None and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)


def check_run_overrides(overrides: list, source: Path | str) -> list[str]:
    """`overrides` (read from `source`, a run folder's file) as strings; ConfigError on the first
    one that is more than a config option or value (see the module's docstring)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import OverrideType
    from hydra.errors import HydraException

    from aebench.core.config import compose_plain, options

    if not isinstance(overrides, list):
        raise ConfigError(f"{source}: expected a list of overrides (key=value lines), found "
                          f"{type(overrides).__name__}")
    lines = []
    for item in overrides:
        if not isinstance(item, (str, int, float, bool)):
            raise _refuse(source, str(item), "not a key=value line")
        lines.append(str(item))
    parser = OverridesParser.create()
    parsed = []
    for line in lines:
        word = next((w for w in FORBIDDEN if w in line), None)
        if word:
            raise _refuse(source, line, f"it sets {word}, which chooses what Python runs")
        try:
            ov = parser.parse_override(line)
        except HydraException as err:
            raise _refuse(source, line, f"not an override: {' '.join(str(err).split())[:120]}") \
                from None
        key = ov.key_or_group
        hidden = next((w for w in FORBIDDEN for text in _strings(ov.value(), key) if w in text),
                      None) if ov.type != OverrideType.DEL else None
        if hidden:
            raise _refuse(source, line, f"it sets {hidden}, which chooses what Python runs")
        if key.split(".")[0].split("/")[0] == "hydra":
            raise _refuse(source, line, "hydra's own settings (launchers, callbacks, folders) are "
                                        "not taken from a run folder")
        if ov.package is not None:
            raise _refuse(source, line, "a @package override moves a config node")
        if ov.is_sweep_override():
            raise _refuse(source, line, "a finished run has one value per key, not a sweep")
        if "${" in line:
            raise _refuse(source, line, "interpolations and resolvers are not taken from a run "
                                        "folder")
        group = "." not in key and options(key) is not None
        if "/" in key and not group:
            raise _refuse(source, line, f"{key} is not a config group")
        if group and ov.type != OverrideType.DEL:
            value = ov.value()
            choices = options(key)
            if value is not None and str(value) not in choices:
                raise _refuse(source, line, f"{value} is not an option of {key}: "
                                            f"{', '.join(choices)}")
        parsed.append((line, ov, group))
    # keys a value would add: not below an instantiated node
    adds = [(line, ov) for line, ov, group in parsed
            if not group and ov.type != OverrideType.DEL and (
                ov.type in (OverrideType.ADD, OverrideType.FORCE_ADD)
                or isinstance(ov.value(), (dict, list)))]
    if not adds:
        return lines
    groups = [line for line, ov, group in parsed if group]
    try:
        cfg = compose_plain(groups)
    except Exception as err:  # noqa: BLE001 - a group combination Hydra refuses: say which
        raise ConfigError(f"{source}: its group choices {' '.join(groups)} do not compose "
                          f"({' '.join(str(err).split())[:160]})") from None
    for line, ov in adds:
        key = ov.key_or_group
        for path in [key, *_paths(ov.value(), key)]:
            target = _instantiated_parent(cfg, path)
            if target is not None:
                raise _refuse(source, line, f"it adds {path}, which {target} does not have, to "
                                            "a node that is instantiated")
    return lines


def read_overrides(path: Path) -> list[str]:
    """The checked overrides of a run folder's `.hydra/overrides.yaml` (`path`)."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text()) or []
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{path} cannot be read as a list of overrides "
                          f"({type(err).__name__}: {' '.join(str(err).split())[:120]})") from None
    return check_run_overrides(data, path)
