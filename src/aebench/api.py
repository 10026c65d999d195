"""aebench's Python API: train, load, restore and evaluate from a notebook or a script.

    import aebench

    run = aebench.train(["model=unet_small", "data=shapes", "trainer.max_epochs=1"],
                        output_dir="runs/first")
    run.metrics["test_psnr"], run.run_dir         # metrics.json as a dict, the run's folder
    model = aebench.load(run.run_dir)             # any finished run or sweep trial folder
    sharp = model.restore(image)                  # numpy / torch, any size, same shape and dtype
    scores = model.evaluate(["blur=2.0"])         # metrics.json of an evaluation, as a dict

The command line is a layer over the same functions: `aebench train` (Hydra) and
`aebench.train` both end in `train.run(cfg, choices, overrides)` on a config composed from
conf/ (`config.compose` here); `aebench restore` and `Model.restore` both restore with
`restore.Restorer`; `aebench evaluate` and `Model.evaluate` both call `evaluate.evaluate_run`;
`aebench export` and `Model.export` both call `export.export`. Errors in what is given are
`aebench.ConfigError` (a ValueError) with the one line the command line prints.
"""
from __future__ import annotations

import datetime
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence, Union

from aebench.core.errors import ConfigError

#: what names a run: a folder, or a reference `trained.resolve_run` knows (`SCHEME:NAME`)
RunRef = Union[str, Path]


@dataclass
class Run:
    """A finished training run: its folder and its metrics.json."""

    run_dir: Path
    metrics: dict = field(repr=False)

    def load(self, device: str = "cpu") -> "Model":
        """The trained model of this run (`aebench.load(run.run_dir)`)."""
        return load(self.run_dir, device=device)

    def __repr__(self) -> str:
        score = self.metrics.get("test_psnr")
        return (f"Run({str(self.run_dir)!r}, model={self.metrics.get('model')!r}"
                + (f", test_psnr={score:.2f}" if isinstance(score, (int, float)) else "") + ")")


def _overrides(overrides: Sequence[str] | str) -> list[str]:
    items = shlex.split(overrides) if isinstance(overrides, str) else [str(o) for o in overrides]
    for item in items:
        if item in ("-m", "--multirun") or item.startswith("-"):
            raise ConfigError(f"{item}: aebench.train runs one run from key=value overrides; "
                              "run sweeps on the command line (aebench -m key=a,b)")
        if "=" not in item:
            raise ConfigError(f"{item!r} is not an override; give key=value (e.g. model=unet)")
    return items


def default_output_dir() -> Path:
    """outputs/<date>/<time with microseconds>, where `aebench train` puts a run."""
    now = datetime.datetime.now()
    return Path("outputs") / f"{now:%Y-%m-%d}" / f"{now:%H-%M-%S-%f}"


def train(overrides: Sequence[str] | str = (), output_dir: str | Path | None = None) -> Run:
    """Train and test one model as `aebench OVERRIDES` would, in this process; returns the
    finished Run. `overrides` are the command line's key=value items (a list, or one string
    split like a shell would); `output_dir` is the run's folder (default
    outputs/<date>/<time>/; a folder holding a finished run is refused unless
    `overwrite=true` is among the overrides). Bad input raises ConfigError before training."""
    from aebench.core.config import compose
    from aebench.running.train import run as run_one

    items = _overrides(overrides)
    out = Path(output_dir) if output_dir is not None else default_output_dir()
    composed = compose(items, out)
    metrics = run_one(composed.cfg, composed.choices, composed.overrides)
    return Run(Path(composed.cfg.paths.output_dir), metrics)


def load(run: RunRef, device: str = "cpu") -> "Model":
    """The trained model of a finished run: `run` is its folder (a run's or a sweep trial's;
    see `trained.resolve_run` for the references it accepts). Its network is rebuilt from the
    run's own config with its best checkpoint (weights_only=True), or for a filter row with its
    tuned settings; the data set is not needed. `device`: cpu, cuda or auto."""
    from aebench.restore import pick_device
    from aebench.running.trained import load_net, resolve_run

    return Model(load_net(resolve_run(run)), pick_device(device))


class Model:
    """A trained run's model: `restore` images or sequences, `evaluate` it, `export` it.

    `net` is the PyTorch network (eval mode), `item_shape` what it was trained on ((C, H, W) or
    (T, F)), `metrics` the run's metrics.json, `run_dir` its folder."""

    def __init__(self, loaded: Any, device: Any):
        from aebench.restore import Restorer

        if not _INT_SCALE:
            _int_scales()
        self.loaded = loaded
        self.device = device
        self._restorer = Restorer(loaded, device)

    @property
    def run_dir(self) -> Path:
        return self.loaded.run.run_dir

    @property
    def metrics(self) -> dict:
        return self.loaded.run.metrics

    @property
    def name(self) -> str:
        return self.loaded.name

    @property
    def item_shape(self) -> tuple:
        return tuple(self.loaded.item_shape)

    @property
    def net(self) -> Any:
        return self.loaded.net

    def __repr__(self) -> str:
        return (f"Model({self.name!r}, item_shape={self.item_shape}, "
                f"run_dir={str(self.run_dir)!r})")

    # -- restore -----------------------------------------------------------------------------

    def restore(self, images: Any, *, tile: int | None = None, overlap: int | None = None,
                batch: int = 64, channels_last: bool = True) -> Any:
        """Restore images (or sequences) of any size; returns the same type, shape and dtype.

        Images: a numpy array or torch tensor H x W x C (C = 1 or 3; 2 or 4 with an alpha
        channel, given back unchanged), N x H x W x C (a batch), or H x W (greyscale); with
        `channels_last=False`, C x H x W and N x C x H x W. uint8 (0-255) and uint16 (0-65535)
        are scaled to [0, 1] and back, rounded; floats must be in [0, 1]. A PIL image comes
        back as a PIL image (L, LA, RGB, RGBA as given; other modes as RGB). Greyscale given to an RGB model comes back greyscale, RGB given to
        a greyscale model is restored channel by channel (as `aebench restore` does). Large
        images and size-tied networks run on overlapping tiles (`tile`, `overlap`, `batch` as
        in `aebench restore`). Sequence models: (T,), (N, T) or (N, T, F) floats."""
        r = self._restorer
        r.tile, r.overlap, r.batch = tile, overlap, batch
        return self._map(images, channels_last, r.any_channels, r.sequences)

    def degrade(self, images: Any, *, seed: int = 0, channels_last: bool = True) -> Any:
        """`images` (or sequences) with the run's own degradation applied (its blur, noise,
        8-bit rounding, as in testing; `seed` fixes the noise): sharp images to try `restore`
        on. Same types, shapes and dtypes as `restore` takes and gives."""
        import torch

        deg = self.loaded.degradation

        def one(image):  # (C, H, W) in [0, 1]
            try:
                deg.check(tuple(image.shape))
            except ConfigError as err:
                raise ConfigError(f"the images cannot be degraded: {err}") from None
            torch.manual_seed(seed)
            out = deg(image[None], None, "test")[0]
            return out.clamp(0, 1) if self.loaded.bounded else out

        def sequences(x):  # (N, T, F)
            torch.manual_seed(seed)
            return deg(x, None, "test")
        return self._map(images, channels_last, one, sequences)

    def _map(self, images, channels_last: bool, fn, sequences_fn):
        """`fn` ((C, H, W) float in [0, 1] -> same) over images given as `restore` takes them,
        or `sequences_fn` ((N, T, F) -> same) for a sequence model; the result as given."""
        import numpy as np
        import torch

        pil = _as_pil(images)
        if pil is not None:  # L, LA, RGB, RGBA as they are; palette, CMYK, ... as RGB(A)
            from PIL import Image

            if pil.mode not in ("L", "LA", "RGB", "RGBA"):
                pil = pil.convert("RGBA" if "transparency" in pil.info else "RGB")
            return Image.fromarray(self._map(np.asarray(pil), True, fn, sequences_fn))
        is_torch = isinstance(images, torch.Tensor)
        if not is_torch and not isinstance(images, np.ndarray):
            images = np.asarray(images)
        if is_torch:
            x = images.detach().cpu()
        else:
            arr = np.ascontiguousarray(images)
            x = torch.from_numpy(arr if arr.flags.writeable else arr.copy())
        if not self.loaded.image:
            out = self._sequences(x, sequences_fn)
        else:
            out = self._images(x, channels_last, fn)
        if is_torch:
            return out.to(images.device)
        return out.numpy()

    def _sequences(self, x, fn):
        import torch

        from aebench.restore import InputError, as_sequences

        if x.dtype == torch.bool or x.is_complex():
            raise ConfigError(f"sequences of dtype {x.dtype} are not accepted; give real numbers")
        try:
            arr, shape = as_sequences(x.double().numpy(), self.item_shape[1])
        except InputError as err:
            raise ConfigError(f"the sequences {err}") from None
        out = fn(torch.from_numpy(arr)).reshape(shape)
        return out.to(x.dtype if x.is_floating_point() else torch.float32)

    def _images(self, x, channels_last: bool, fn):
        import torch

        shape, dtype = tuple(x.shape), x.dtype
        if x.ndim == 2:
            x = x[None, :, :, None] if channels_last else x[None, None]
        elif x.ndim == 3:
            x = x[None]
        elif x.ndim != 4:
            raise ConfigError(f"images of shape {shape} are not accepted; give H x W (greyscale), "
                              f"H x W x C or N x H x W x C" + ("" if channels_last else
                                                                " (channels first: C x H x W)"))
        if channels_last:
            x = x.permute(0, 3, 1, 2)
        c = x.shape[1]
        if c not in (1, 2, 3, 4):
            raise ConfigError(f"images of shape {shape} have {c} channels; give 1 (greyscale) "
                              "or 3 (RGB), 2 or 4 with alpha" + (
                                  "; a batch of greyscale images is N x H x W x 1"
                                  if channels_last else ""))
        if dtype in _INT_SCALE:
            scale = _INT_SCALE[dtype]
            xf = x.float() / scale
        elif x.is_floating_point():
            xf = x.float()
            if not torch.isfinite(xf).all():
                raise ConfigError("the images hold NaN or infinite values")
            lo, hi = float(xf.min()), float(xf.max())
            if self.loaded.bounded and (lo < -1e-3 or hi > 1 + 1e-3):
                raise ConfigError(f"float images must be in [0, 1] (these span {lo:g} to {hi:g}); "
                                  "give uint8 (0-255) or divide by 255")
            xf = xf.clamp(0, 1)
        else:
            raise ConfigError(f"images of dtype {dtype} are not accepted; give uint8, uint16 or "
                              "float in [0, 1]")
        alpha = c in (2, 4)
        out = []
        for image in xf:
            colour = image[:-1] if alpha else image
            restored = fn(colour)
            out.append(torch.cat([restored, image[-1:]]) if alpha else restored)
        y = torch.stack(out)
        if dtype in _INT_SCALE:
            y = (y.clamp(0, 1) * _INT_SCALE[dtype]).round().to(dtype)
        else:
            y = y.to(dtype)
        if channels_last:
            y = y.permute(0, 2, 3, 1)
        return y.reshape(shape).contiguous()

    # -- evaluate, export ----------------------------------------------------------------------

    def evaluate(self, overrides: Sequence[str] | str = (),
                 output_dir: str | Path | None = None) -> dict:
        """Score the model on its test split under other settings (`["blur=2.0"]`,
        `["data=folder", "data.root=DIR"]`), nothing trained again, as `aebench evaluate RUN_DIR
        OVERRIDES` does; returns the evaluation's metrics.json (written to `output_dir`, default
        RUN_DIR/eval-<time>/)."""
        from aebench.evaluate import evaluate_run

        return evaluate_run(self.run_dir, _overrides(overrides) if overrides else [],
                            Path(output_dir) if output_dir is not None else None)

    def export(self, format: str = "onnx", out: str | Path | None = None,
               tolerance: float = 1e-4) -> dict:
        """Export the network (onnx, pt2 or torchscript) as `aebench export` does, checked
        against PyTorch; returns the JSON sidecar's dict (its `file` beside `out`)."""
        from aebench.export import export

        return export(self.run_dir, format, out, tolerance)


_INT_SCALE: dict = {}


def _int_scales() -> None:
    import torch

    _INT_SCALE.update({torch.uint8: 255.0, torch.uint16: 65535.0})


def _as_pil(images: Any):
    """`images` if it is a PIL image (PIL imported only when the caller already has it)."""
    import sys

    module = sys.modules.get("PIL.Image")
    return images if module is not None and isinstance(images, module.Image) else None


__all__ = ["Model", "Run", "RunRef", "load", "train", "default_output_dir"]
