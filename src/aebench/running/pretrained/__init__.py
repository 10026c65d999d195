"""Pretrained restorers shipped with the package: `pretrained:NAME` wherever a run folder goes.

    aebench restore pretrained:wiener_unet_blur1 photos/ --out restored/
    aebench evaluate pretrained:wiener_unet_blur1 blur=1.5 data.root=DIR
    aebench export pretrained:wiener_unet_blur1
    aebench restore --list-pretrained

Each NAME is a folder here shaped like a finished run's: `metrics.json` (the overrides the model
was trained with, its item shape and its CIFAR-10 test scores beside the baselines),
`weights.safetensors` (the network's weights: read without unpickling anything) and `README.md`
(its model card, with the command that re-creates it). Nothing is downloaded.
"""
from __future__ import annotations

import json
from pathlib import Path

from aebench.core.errors import ConfigError

HERE = Path(__file__).parent


def names() -> list[str]:
    """The shipped models, sorted."""
    return sorted(p.name for p in HERE.iterdir() if (p / "weights.safetensors").is_file())


def folder(name: str) -> Path:
    """The folder of pretrained model `name`; a one-line ConfigError naming the others."""
    if name not in names():
        raise ConfigError(f"pretrained:{name} is not a shipped model; choose one of: "
                          + (", ".join(f"pretrained:{n}" for n in names()) or "(none shipped)")
                          + " (aebench restore --list-pretrained)")
    return HERE / name


def shipped_name(run_dir) -> str | None:
    """NAME when `run_dir` is a shipped model (`pretrained:NAME`, or its folder here, which is
    inside the installed package: never a place to write into); else None."""
    text = str(run_dir)
    if text.startswith("pretrained:"):
        return text.removeprefix("pretrained:")
    path = Path(run_dir).resolve()
    return path.name if path.parent == HERE.resolve() else None


def table() -> str:
    """One line per shipped model: name, model, degradation, test PSNR beside the baselines."""
    rows = [f"{'name':<28} {'model':<18} {'trained on':<34} {'test PSNR':>9} {'input':>7} "
            f"{'Wiener':>7}"]
    for name in names():
        m = json.loads((HERE / name / "metrics.json").read_text())
        wiener = m.get("wiener_test_psnr")
        rows.append(f"{name:<28} {m.get('model', '?'):<18} {m.get('trained_on', '?'):<34} "
                    f"{m.get('test_psnr', float('nan')):9.2f} "
                    f"{'-' if m.get('baseline_test_psnr') is None else format(m['baseline_test_psnr'], '7.2f'):>7} "
                    f"{'-' if wiener is None else format(wiener, '7.2f'):>7}")
    return "\n".join(rows)
