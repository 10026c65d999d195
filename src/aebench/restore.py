"""Run a trained model on your own images (or sequences): `aebench restore`.

    aebench restore RUN_DIR INPUT... --out DIR [--degrade] [--max-pixels N]
                              [--tile N] [--overlap N] [--batch N] [--device auto|cpu|cuda]

RUN_DIR is any finished run or sweep trial folder; INPUT image files or folders (.png, .jpg,
.jpeg in any case; folders are searched recursively, other files skipped with one warning).
The network is rebuilt from the run's own config and its best checkpoint (weights_only=True),
or for a non-learned row (wiener, unsharp, identity) with its tuned settings from metrics.json.
The run's data set is not needed.

Any image size:
- fully convolutional networks (cnn, cnn_small, cnn_bn, cnn_deep, unet, the filters) run on the
  whole image, reflect-padded at the bottom/right to the multiple their strides need and cropped
  back; above `--whole-max-pixels` (or with `--tile N`) on overlapping N x N tiles;
- networks tied to their training size (row-sequence LSTMs, dense bottlenecks) run on
  overlapping tiles of exactly that size (stride half a tile by default), each tile's output
  weighted by a window that is 1 in the middle and falls smoothly (never to 0) towards the tile's
  edges, and the weighted outputs normalised by the summed weights: no tile grid shows, and an
  image the network maps to a constant stays exactly constant.

Colour: greyscale in, greyscale out; colour in, colour out. A greyscale image given to an RGB
model is restored as RGB (its channel replicated) and brought back to greyscale (ITU-R 601
luma); an RGB image given to a greyscale model is restored channel by channel. Palette and
16-bit images are converted (one logged line per kind of conversion); an alpha channel is set
aside and put back unchanged. Outputs are 8-bit PNGs with the inputs' names (extension .png)
and sizes under `--out` (never over an input). `--degrade` first applies the run's own
degradation (a demo on sharp photos), writes clean | degraded | restored strips with each
image's PSNR/SSIM against the clean image into OUT/strips/, scores.csv and summary.json, and
prints the mean PSNR/SSIM of the degraded vs the restored images. Sequence runs (sine) restore `.npy` arrays ((T,), (N, T) or
(N, T, F)) and `.csv` files (one sequence per row), written back in the same format.

Bad input: a RUN_DIR without a finished checkpoint, or with another model's checkpoint, stops
with one line and nothing is restored (exit 2). A corrupt, truncated or unreadable file, a file
that is not an image, an image above `--max-pixels` (default 50 MP): the other files are still
restored, each failure is listed at the end with its reason, and the exit status is 2.
"""
from __future__ import annotations

import csv
import json
import logging
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
SEQUENCE_EXTENSIONS = (".npy", ".csv")
DEFAULT_MAX_PIXELS = 50_000_000
#: fully convolutional networks run on the whole image up to this many pixels, tiles above
DEFAULT_WHOLE_MAX_PIXELS = 4_000_000
DEFAULT_FCN_TILE = 512
log = logging.getLogger("aebench")


class InputError(Exception):
    """One input cannot be restored (the others go on); the message says why."""


# ----------------------------------------------------------------------------- tiling

def _window(n: int, overlap: int):
    """1-D blending weights of a tile of `n` pixels: 1 in the middle, a raised-cosine ramp over
    `overlap` pixels at each end, strictly positive everywhere (so a pixel covered by one tile
    only, at the image border, keeps that tile's value)."""
    import torch

    w = torch.ones(n, dtype=torch.float64)
    ramp = min(int(overlap), n // 2)
    if ramp > 0:
        i = torch.arange(ramp, dtype=torch.float64)
        r = torch.sin(0.5 * math.pi * (i + 0.5) / ramp) ** 2
        w[:ramp] = r
        w[n - ramp:] = r.flip(0)
    return w


def _starts(length: int, tile: int, stride: int) -> list[int]:
    """Tile starts covering [0, length): every `stride`, the last flush with the end."""
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, max(1, stride)))
    return starts + [length - tile]


def _pad_to(x, height: int, width: int):
    """`x` (N, C, H, W) padded at the bottom/right to height x width: reflect where the image is
    large enough, else edge replication."""
    import torch.nn.functional as F

    ph, pw = height - x.shape[-2], width - x.shape[-1]
    if ph <= 0 and pw <= 0:
        return x
    ph, pw = max(ph, 0), max(pw, 0)
    mode = "reflect" if ph < x.shape[-2] and pw < x.shape[-1] else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)


def run_tiled(fn, x, tile: tuple[int, int], overlap: tuple[int, int], batch: int = 64):
    """`fn` applied to overlapping tiles of `x` (1, C, H, W) and blended back into (1, C', H, W).

    Tiles are tile[0] x tile[1] (an image smaller than a tile is padded first and cropped
    after); starts are every tile - overlap pixels, the last flush with the border. Each tile's
    output is weighted by the outer product of `_window`s and the sum divided by the summed
    weights."""
    import torch

    _, _, h, w = x.shape
    th, tw = tile
    xp = _pad_to(x, max(h, th), max(w, tw))
    hp, wp = xp.shape[-2:]
    ys = _starts(hp, th, th - overlap[0])
    xs = _starts(wp, tw, tw - overlap[1])
    weight = (_window(th, overlap[0])[:, None] * _window(tw, overlap[1])[None, :])
    out = norm = None
    coords = [(y, x0) for y in ys for x0 in xs]
    for i in range(0, len(coords), batch):
        chunk = coords[i:i + batch]
        tiles = torch.cat([xp[..., y:y + th, x0:x0 + tw] for y, x0 in chunk])
        result = fn(tiles).double()
        if out is None:
            out = torch.zeros((1, result.shape[1], hp, wp), dtype=torch.float64,
                              device=result.device)
            norm = torch.zeros((hp, wp), dtype=torch.float64, device=result.device)
            weight = weight.to(result.device)
        for (y, x0), r in zip(chunk, result):
            out[0, :, y:y + th, x0:x0 + tw] += r * weight
            norm[y:y + th, x0:x0 + tw] += weight
    return (out / norm)[..., :h, :w].to(x.dtype)


# ----------------------------------------------------------------------------- the model

@dataclass
class Restorer:
    """A loaded run's network applied to whole images or sequences of any size."""

    loaded: object
    device: object
    tile: int | None = None            # fully convolutional: tile side (None: decide by size)
    overlap: int | None = None
    batch: int = 64
    whole_max_pixels: int = DEFAULT_WHOLE_MAX_PIXELS
    _nets: dict = field(default_factory=dict)

    def _net(self, shape):
        shape = tuple(shape)
        net = self._nets.get(shape)
        if net is None:
            if len(self._nets) > 4:
                self._nets.clear()
            net = self._nets[shape] = self.loaded.make(shape).to(self.device)
        return net

    def _apply(self, net, x):
        import torch

        with torch.inference_mode():
            return net(x.to(self.device)).float()

    def path(self, h: int, w: int) -> str:
        """'whole', 'tiles' (fully convolutional, large image) or 'fixed tiles' (size-tied net)."""
        if self.loaded.multiple is None:
            return "fixed tiles"
        if self.tile or h * w > self.whole_max_pixels:
            return "tiles"
        return "whole"

    def image(self, x):
        """(C, H, W) float in [0, 1] of the model's channels -> restored (C, H, W) float, CPU."""
        c, h, w = x.shape
        x = x[None]
        how = self.path(h, w)
        if how == "whole":
            m = self.loaded.multiple
            hp, wp = -(-h // m) * m, -(-w // m) * m
            xp = _pad_to(x, hp, wp)
            out = self._apply(self._net((c, hp, wp)), xp)[..., :h, :w]
        elif how == "tiles":
            m = self.loaded.multiple
            side = -(-(self.tile or DEFAULT_FCN_TILE) // m) * m
            th, tw = min(side, -(-h // m) * m), min(side, -(-w // m) * m)
            ov = self.overlap if self.overlap is not None else max(side // 8, m)
            net = self._net((c, th, tw))
            out = run_tiled(lambda t: self._apply(net, t), x, (th, tw),
                            (min(ov, th // 2), min(ov, tw // 2)), self.batch)
        else:
            _, th, tw = self.loaded.item_shape
            ov = self.overlap if self.overlap is not None else th // 2
            net = self.loaded.net.to(self.device)
            out = run_tiled(lambda t: self._apply(net, t), x, (th, tw),
                            (min(ov, th // 2), min(ov, tw // 2)), self.batch)
        out = out[0].cpu()
        return out.clamp(0, 1) if self.loaded.bounded else out

    def any_channels(self, x):
        """(C, H, W) float in [0, 1] with 1 or 3 channels, whatever the model was trained on ->
        restored (C, H, W): greyscale to an RGB model goes through it as RGB (the channel
        replicated) and comes back as greyscale (ITU-R 601 luma); RGB to a greyscale model is
        restored channel by channel. InputError for other channel counts."""
        import torch

        c, own = x.shape[0], self.loaded.item_shape[0]
        if c == own:
            return self.image(x)
        if c == 1 and own == 3:
            return luma(self.image(x.expand(3, -1, -1).contiguous()))
        if c == 3 and own == 1:
            return torch.cat([self.image(x[i:i + 1]) for i in range(3)])
        raise InputError(f"has {c} channels; this model takes {own} (1: greyscale, 3: RGB)")

    def sequences(self, x):
        """(N, T, F) float -> restored (N, T, F): windows of the training length T0, blended."""
        import torch

        t0, f = self.loaded.item_shape
        net = self.loaded.net.to(self.device)
        ov = self.overlap if self.overlap is not None else t0 // 2

        def fn(tiles):  # (n, F, T0, 1) <-> (n, T0, F)
            seq = tiles[..., 0].transpose(1, 2)
            return self._apply(net, seq).transpose(1, 2)[..., None]

        out = [run_tiled(fn, s.transpose(0, 1)[None, :, :, None], (t0, 1), (min(ov, t0 // 2), 0),
                         self.batch)[0, :, :, 0].transpose(0, 1) for s in x]
        return torch.stack(out).cpu()


# ----------------------------------------------------------------------------- reading / writing

CONVERSIONS: dict[str, str] = {}


def _note_conversion(kind: str, path: Path) -> None:
    """One logged line per kind of colour conversion (the first file that needed it)."""
    if kind not in CONVERSIONS:
        CONVERSIONS[kind] = str(path)
        log.info("colour: %s (first: %s)", kind, path)


def luma(x):
    """(3, H, W) RGB -> (1, H, W) greyscale, ITU-R 601 luma (what PIL's convert("L") computes)."""
    return (0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2])[None]


def read_image(path: Path, channels: int, max_pixels: int):
    """(image (C, H, W) float32 in [0, 1], C = 1 (greyscale) or 3 (RGB) as the file holds it,
    alpha (H, W) uint8 or None); InputError saying why it cannot be read. `channels` (the
    model's) only decides which conversion `Restorer.any_channels` will make, logged once."""
    import numpy as np
    import torch
    from PIL import Image, UnidentifiedImageError

    import warnings

    try:
        with warnings.catch_warnings():  # our --max-pixels check below replaces PIL's warning
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
        with im:
            w, h = im.size
            if w * h > max_pixels:
                raise InputError(f"{w} x {h} = {w * h:,} pixels is above --max-pixels "
                                 f"{max_pixels:,}; raise --max-pixels or shrink the image")
            im.load()
            mode = im.mode
            alpha = None
            if mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
                _note_conversion(f"palette images converted to {im.mode}", path)
                mode = im.mode
            if mode in ("RGBA", "LA", "PA", "La", "RGBa"):
                alpha = np.asarray(im.getchannel("A"), dtype=np.uint8).copy()
                im = im.convert("RGB" if mode.startswith("RGB") else "L")
                mode = im.mode
            if mode.startswith("I") or mode == "F":  # 16-bit / 32-bit greyscale
                arr = np.asarray(im, dtype=np.float32)
                scale = 65535.0 if mode.startswith("I") else max(float(arr.max()), 1.0)
                arr = np.clip(arr / scale, 0, 1)[None]
                _note_conversion(f"{mode} (high bit depth greyscale) scaled to [0, 1] and "
                                 "written as 8 bits", path)
                grey = True
            else:
                if mode not in ("RGB", "L"):
                    _note_conversion(f"{mode} images converted to RGB", path)
                    im = im.convert("RGB")
                    mode = "RGB"
                arr = np.asarray(im, dtype=np.uint8).astype(np.float32) / 255.0
                arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
                grey = mode == "L"
    except InputError:
        raise
    except UnidentifiedImageError:
        raise InputError("not an image PIL can identify (corrupt, or another kind of file)") \
            from None
    except Image.DecompressionBombError as err:
        raise InputError(f"too many pixels ({' '.join(str(err).split())[:120]})") from None
    except Exception as err:  # noqa: BLE001 - OSError (truncated), SyntaxError (broken PNG), ...
        raise InputError(f"cannot decode it ({type(err).__name__}: "
                         f"{' '.join(str(err).split())[:160]})") from None
    x = torch.from_numpy(np.ascontiguousarray(arr))
    if channels == 3 and x.shape[0] == 1:
        _note_conversion("greyscale inputs restored as RGB (the model was trained on RGB) and "
                         "written back as greyscale", path)
    elif channels == 1 and x.shape[0] == 3:
        _note_conversion("RGB inputs restored channel by channel (the model was trained on "
                         "greyscale) and written back as RGB", path)
    if alpha is not None:
        _note_conversion("alpha channels set aside and put back unchanged on the output", path)
    del grey
    return x, alpha


def to_uint8(x):
    """(C, H, W) float in [0, 1] -> (H, W, C) uint8 numpy, rounded."""
    return (x.clamp(0, 1) * 255.0).round().to(dtype=__import__("torch").uint8) \
        .permute(1, 2, 0).numpy()


def write_png(pixels, alpha, path: Path) -> None:
    """(H, W, C) uint8 (+ alpha) as a PNG, written atomically."""
    import numpy as np
    from PIL import Image

    if pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    if alpha is not None:
        pixels = np.dstack([pixels, alpha])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    Image.fromarray(np.ascontiguousarray(pixels)).save(tmp, format="PNG")
    os.replace(tmp, path)


def read_sequences(path: Path, features: int):
    """(array (N, T, F) float32, original shape); InputError when unreadable."""
    import numpy as np

    try:
        if path.suffix.lower() == ".npy":
            arr = np.load(path, allow_pickle=False)
        else:
            arr = np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float64)
    except Exception as err:  # noqa: BLE001
        raise InputError(f"cannot read it as {path.suffix.lower()} of numbers "
                         f"({type(err).__name__}: {' '.join(str(err).split())[:160]})") from None
    return as_sequences(arr, features)


def as_sequences(arr, features: int):
    """A numpy array of sequences ((T,), (N, T) or (N, T, F)) as (N, T, F) float32, with its
    original shape; InputError saying what is wrong with it."""
    import numpy as np

    if not np.issubdtype(arr.dtype, np.number) or arr.size == 0:
        raise InputError(f"holds {arr.dtype} values, not numbers" if arr.size else "is empty")
    shape = arr.shape
    if arr.ndim == 1:
        arr = arr[None, :, None]
    elif arr.ndim == 2:
        arr = arr[..., None] if features == 1 else arr[None]
    elif arr.ndim != 3:
        raise InputError(f"has shape {shape}; expected (T,), (N, T) or (N, T, F)")
    if arr.shape[-1] != features:
        raise InputError(f"has {arr.shape[-1]} features per step; the model was trained on "
                         f"{features}")
    if not np.isfinite(arr).all():
        raise InputError("holds NaN or infinite values")
    return arr.astype(np.float32), shape


def write_sequences(arr, shape, path: Path) -> None:
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    out = arr.reshape(shape)
    tmp = path.with_name(path.name + ".tmp" + path.suffix)
    if path.suffix.lower() == ".npy":
        np.save(tmp, out.astype(np.float32))
    else:
        np.savetxt(tmp, out.reshape(len(out), -1) if out.ndim > 1 else out[None],
                   delimiter=",", fmt="%.7g")
    os.replace(tmp, path)


def find_inputs(inputs: list[str], extensions: tuple[str, ...], out_dir: Path):
    """[(path, name relative to --out)], [(path, why)] for paths that cannot even be listed."""
    found, failures, skipped = [], [], []
    out_dir = out_dir.resolve()
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            for dirpath, dirnames, filenames in os.walk(p):
                dp = Path(dirpath)
                if dp.resolve() == out_dir or out_dir in dp.resolve().parents:
                    dirnames[:] = []
                    continue
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if name.startswith("."):
                        continue
                    f = dp / name
                    if f.suffix.lower() in extensions:
                        found.append((f, f.relative_to(p)))
                    else:
                        skipped.append(f)
        elif p.is_file():
            if p.suffix.lower() in extensions:
                found.append((p, Path(p.name)))
            else:
                failures.append((p, f"not a {'/'.join(extensions)} file"))
        else:
            failures.append((p, "no such file or folder"))
    if skipped:
        log.warning("skipped %d file(s) without a %s extension, e.g. %s", len(skipped),
                    "/".join(extensions), ", ".join(str(s) for s in skipped[:3]))
    return found, failures


# ----------------------------------------------------------------------------- --degrade

def image_scores(restored, clean) -> tuple[float, float]:
    """(PSNR dB, SSIM) of one (C, H, W) image against the clean one: data range 1, SSIM as
    torchmetrics defines it (11 px Gaussian window, sigma 1.5), what training reports."""
    from aebench.core.metrics import psnr_of_mse, ssim_per_image

    psnr = psnr_of_mse(float(((restored - clean) ** 2).mean()))
    if min(clean.shape[-2:]) < 11:
        return psnr, float("nan")
    return psnr, float(ssim_per_image(restored[None].double(), clean[None].double())[0])


def write_strip(clean8, degraded8, restored8, scores, path: Path) -> None:
    """clean | degraded | restored side by side (small images enlarged, nearest), scores below."""
    import numpy as np
    from PIL import Image, ImageDraw

    h, w = clean8.shape[:2]
    k = max(1, math.ceil(160 / w))
    panels = [Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a).convert("RGB")
              .resize((w * k, h * k), Image.NEAREST) for a in (clean8, degraded8, restored8)]
    gap, band = 6, 32
    strip = Image.new("RGB", (3 * w * k + 2 * gap, h * k + band), "white")
    draw = ImageDraw.Draw(strip)
    labels = ["clean", "degraded {:.2f} dB / {:.3f}".format(*scores[0]),
              "restored {:.2f} dB / {:.3f}".format(*scores[1])]
    for i, (panel, label) in enumerate(zip(panels, labels)):
        x0 = i * (w * k + gap)
        strip.paste(panel, (x0, 0))
        draw.text((x0 + 2, h * k + 4), label, fill="black")
    draw.text((2, h * k + 18), "PSNR / SSIM against the clean image", fill="gray")
    path.parent.mkdir(parents=True, exist_ok=True)
    strip.save(path, format="PNG")
    del np


# ----------------------------------------------------------------------------- the command

def pick_device(device: str):
    """"auto" (a CUDA GPU if there is one, else the CPU), "cpu" or "cuda" as a torch.device;
    ConfigError for cuda on a machine without one, or another name."""
    import torch

    from aebench.core.errors import ConfigError

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda"):
        raise ConfigError(f"device={device!r} is not accepted; choose auto, cpu or cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: this machine has no CUDA GPU; use --device cpu or auto")
    return torch.device(device)


def restore(run_dir, inputs: list[str], out: str | Path, degrade: bool = False,
            max_pixels: int = DEFAULT_MAX_PIXELS, tile: int | None = None,
            overlap: int | None = None, batch: int = 64, device: str = "auto",
            whole_max_pixels: int = DEFAULT_WHOLE_MAX_PIXELS, progress: bool = True) -> dict:
    """Restore `inputs` with the run in `run_dir` into `out`; returns {"written": [...],
    "failed": [(path, why)], "scores": [...], "summary": {...}}. ConfigError (nothing written)
    when the run cannot be loaded."""
    import numpy as np
    import torch

    from aebench.core.errors import ConfigError
    from aebench.running.trained import load_net

    if max_pixels < 1:
        raise ConfigError(f"--max-pixels={max_pixels} must be a positive integer")
    if tile is not None and tile < 1:
        raise ConfigError(f"--tile={tile} must be a positive integer (tile side in pixels)")
    if overlap is not None and overlap < 0:
        raise ConfigError(f"--overlap={overlap} must be >= 0")
    device = pick_device(device)
    loaded = load_net(run_dir)
    out_dir = Path(out)
    restorer = Restorer(loaded, device, tile=tile, overlap=overlap, batch=batch,
                        whole_max_pixels=whole_max_pixels)
    exts = IMAGE_EXTENSIONS if loaded.image else SEQUENCE_EXTENSIONS
    files, failed = find_inputs(inputs, exts, out_dir)
    if not files and not failed:
        raise ConfigError(f"no {'/'.join(exts)} files in {', '.join(inputs)}")
    what = (f"{loaded.name} ({'x'.join(map(str, loaded.item_shape))}, "
            + (f"whole image, sides padded to a multiple of {loaded.multiple}"
               if loaded.multiple else "tiles of its training size") + ")"
            if loaded.image else f"{loaded.name} (sequences of {loaded.item_shape[0]} steps)")
    log.info("restoring %d file(s) with %s on %s", len(files), what, device)
    detector = None if degrade else blur_detector(loaded)
    inputs_resolved = {p.resolve() for p, _ in files}
    CONVERSIONS.clear()
    written, scores, taken = [], [], set()
    torch.manual_seed(0)
    from rich.console import Console
    from rich.progress import track

    iterator = track(files, description="restoring", console=Console(stderr=True),
                     disable=not progress or len(files) < 2 or not sys.stderr.isatty(),
                     transient=True)
    for i, (path, rel) in enumerate(iterator):
        target = out_dir / (rel.with_suffix(".png") if loaded.image else rel)
        try:
            if target.resolve() in inputs_resolved:
                raise InputError(f"its output {target} would overwrite an input; choose another "
                                 "--out")
            if target.resolve() in taken:
                raise InputError(f"another input is already written to {target} (same name)")
            if loaded.image:
                row = _restore_image(restorer, loaded, path, target, out_dir, rel, degrade,
                                     max_pixels, seed=i, detector=detector)
            else:
                row = _restore_sequences(restorer, loaded, path, target, degrade, seed=i)
        except InputError as err:
            failed.append((path, str(err)))
            continue
        except (RuntimeError, ValueError) as err:  # e.g. out of memory on a huge image
            failed.append((path, f"{type(err).__name__}: {' '.join(str(err).split())[:160]}"))
            continue
        taken.add(target.resolve())
        written.append(target)
        if row:
            scores.append({"file": str(path), "output": str(target), **row})
    summary = {}
    if degrade and scores:
        keys = [k for k in scores[0] if k not in ("file", "output")]
        summary = {k: float(np.nanmean([s[k] for s in scores])) for k in keys}
        summary.update(n=len(scores), degradation=loaded.degradation.describe(),
                       model=loaded.name, run_dir=str(loaded.run.run_dir))
        out_dir.mkdir(parents=True, exist_ok=True)
        with open(out_dir / "scores.csv", "w", newline="") as f:
            wr = csv.DictWriter(f, fieldnames=list(scores[0]))
            wr.writeheader()
            wr.writerows(scores)
        (out_dir / "summary.json").write_text(json.dumps(
            {"summary": summary, "images": scores, "failed": [[str(p), w] for p, w in failed]},
            indent=2) + "\n")
    return {"written": written, "failed": failed, "scores": scores, "summary": summary,
            "loaded": loaded}


#: the shipped blind model whose sigma estimate tells whether an input looks blurred
BLIND_DETECTOR = "wiener_unet_blind"


def blur_detector(loaded):
    """For a model trained on one blur sigma > 0: image (C, H, W) -> the blur sigma the shipped
    blind model (pretrained:wiener_unet_blind) estimates for it; None for other models (a blur
    range, noise, sequences) or when that model is not shipped."""
    deg = loaded.degradation
    if (not loaded.image or getattr(deg, "is_range", True) or not getattr(deg, "sigma", 0)
            or getattr(loaded.net, "blind", False)):
        return None
    from aebench.running import pretrained
    from aebench.running.trained import load_net

    if BLIND_DETECTOR not in pretrained.names():
        return None
    blind = load_net(f"pretrained:{BLIND_DETECTOR}").net

    def estimate(x) -> float:
        import torch

        rgb = x.expand(3, -1, -1) if x.shape[0] == 1 else x[:3]
        with torch.inference_mode():
            return float(blind.estimate_sigma(rgb[None].float().cpu())[0])
    return estimate


def check_looks_blurred(detector, loaded, x, path) -> None:
    """One warning line when `x` looks much sharper than the blur the model undoes: the model
    would over-sharpen it (a fixed-sigma model assumes exactly its training blur)."""
    if detector is None:
        return
    sigma = float(loaded.degradation.sigma)
    est = detector(x)
    if est < 0.5 * sigma:
        log.warning("%s: does not look blurred at sigma %g (pretrained:%s estimates %.2f); %s "
                    "assumes that blur and may over-sharpen it: for images of unknown blur use "
                    "pretrained:%s", path, sigma, BLIND_DETECTOR, est, loaded.name, BLIND_DETECTOR)


def _restore_image(restorer, loaded, path, target, out_dir, rel, degrade, max_pixels, seed,
                   detector=None):
    import torch

    c = loaded.item_shape[0]
    x, alpha = read_image(path, c, max_pixels)
    if not degrade:
        check_looks_blurred(detector, loaded, x, path)
        write_png(to_uint8(restorer.any_channels(x)), alpha, target)
        return None
    try:
        loaded.degradation.check(tuple(x.shape))
    except Exception as err:  # noqa: BLE001 - ConfigError: image too small for the blur
        raise InputError(f"cannot be degraded: {err}") from None
    torch.manual_seed(seed)
    degraded = loaded.degradation(x[None], None, "test")[0].clamp(0, 1)
    restored = restorer.any_channels(degraded)
    clean8, deg8, res8 = to_uint8(x), to_uint8(degraded), to_uint8(restored)
    as_float = lambda a: torch.from_numpy(a).permute(2, 0, 1).float() / 255.0  # noqa: E731
    s_deg = image_scores(as_float(deg8), as_float(clean8))
    s_res = image_scores(as_float(res8), as_float(clean8))
    write_png(res8, alpha, target)
    write_strip(clean8, deg8, res8, (s_deg, s_res),
                out_dir / "strips" / rel.with_suffix(".png"))
    return {"degraded_psnr": s_deg[0], "restored_psnr": s_res[0],
            "degraded_ssim": s_deg[1], "restored_ssim": s_res[1]}


def _restore_sequences(restorer, loaded, path, target, degrade, seed):
    import torch

    arr, shape = read_sequences(path, loaded.item_shape[1])
    x = torch.from_numpy(arr)
    if not degrade:
        write_sequences(restorer.sequences(x).numpy(), shape, target)
        return None
    torch.manual_seed(seed)
    degraded = loaded.degradation(x, None, "test")
    restored = restorer.sequences(degraded)
    write_sequences(restored.numpy(), shape, target)
    write_sequences(degraded.numpy(), shape, target.with_name(target.stem + ".degraded"
                                                               + target.suffix))
    return {"degraded_mse": float(((degraded - x) ** 2).mean()),
            "restored_mse": float(((restored - x) ** 2).mean()),
            "degraded_mae": float((degraded - x).abs().mean()),
            "restored_mae": float((restored - x).abs().mean())}


def summary_table(summary: dict) -> str:
    """The one table printed at the end of --degrade."""
    lines = [f"{summary['model']} on {summary['n']} input(s), degradation: "
             f"{summary['degradation']}", "", "| | degraded | restored |", "| --- | --- | --- |"]
    for key, label, fmt in (("psnr", "mean PSNR (dB)", "{:.2f}"), ("ssim", "mean SSIM", "{:.4f}"),
                            ("mse", "mean MSE", "{:.6f}"), ("mae", "mean MAE", "{:.5f}")):
        if f"degraded_{key}" in summary:
            lines.append(f"| {label} | {fmt.format(summary[f'degraded_{key}'])} | "
                         f"{fmt.format(summary[f'restored_{key}'])} |")
    return "\n".join(lines)


def command(args) -> int:
    """`aebench restore ARGS`: restore, print what was written; 2 when
    an input could not be restored (each listed with its reason)."""
    if args.list_pretrained:  # the shipped models: no run folder, no inputs needed
        from aebench.running import pretrained

        print(pretrained.table())
        print("CIFAR-10 test split, mean per-image PSNR (dB); input = the degraded image as is, "
              "Wiener = the Wiener filter told sigma. Use: aebench restore pretrained:NAME "
              "photos/ --out restored/")
        return 0
    missing = [what for what, ok in (("RUN_DIR", args.run_dir), ("INPUT", args.inputs),
                                     ("--out", args.out)) if not ok]
    if missing:
        from aebench.core.errors import ConfigError

        raise ConfigError(f"restore needs {', '.join(missing)} (e.g. aebench restore "
                          "pretrained:wiener_unet_blur1 photo.jpg --out restored/); "
                          "aebench restore --list-pretrained lists the shipped models")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = restore(args.run_dir, args.inputs, args.out, degrade=args.degrade,
                     max_pixels=args.max_pixels, tile=args.tile, overlap=args.overlap,
                     batch=args.batch, device=args.device,
                     whole_max_pixels=args.whole_max_pixels)
    print(f"restored {len(result['written'])} file(s) into {Path(args.out).absolute()}")
    if result["summary"]:
        print(summary_table(result["summary"]))
        print(f"strips, scores.csv and summary.json in {Path(args.out).absolute()}")
    if result["failed"]:
        print(f"failed: {len(result['failed'])} input(s) not restored:", file=sys.stderr)
        for path, why in result["failed"]:
            print(f"  {path}: {why}", file=sys.stderr)
        return 2
    return 0


def parser():
    """`aebench restore`'s arguments (aebench.core.errors.Parser: one-line errors, examples)."""
    from aebench.core.errors import Parser

    p = Parser("restore", "Restore your own images (or sequences) with a trained run's model: "
               "outputs keep the inputs' names and sizes; never written over an input.",
               ["aebench restore outputs/2026-11-23/10-00-00-123456 photo.jpg scans/ --out restored/",
                "aebench restore RUN_DIR sharp/ --out demo/ --degrade   # blur first, score it",
                "aebench restore pretrained:wiener_unet_blur1 photo.jpg --out restored/  # no training",
                "aebench restore --list-pretrained"])
    p.add_argument("run_dir", metavar="RUN_DIR", nargs="?",
                   help="a finished run or sweep trial folder, or pretrained:NAME")
    p.add_argument("inputs", metavar="INPUT", nargs="*",
                   help="image files or folders (.png/.jpg/.jpeg); .npy/.csv for sequence runs")
    p.add_argument("--out", help="folder for the restored files (required)")
    p.add_argument("--list-pretrained", action="store_true",
                   help="list the pretrained models shipped with aebench and their test scores")
    p.add_argument("--degrade", action="store_true",
                   help="apply the run's degradation first and score degraded vs restored")
    p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                   help=f"refuse images above this many pixels (default {DEFAULT_MAX_PIXELS:,})")
    p.add_argument("--tile", type=int, default=None,
                   help="fully convolutional models: run on N x N tiles (default: whole image "
                        "up to --whole-max-pixels); size-tied models always use their size")
    p.add_argument("--overlap", type=int, default=None,
                   help="tile overlap in pixels (default: half a size-tied tile, N/8 otherwise)")
    p.add_argument("--whole-max-pixels", type=int, default=DEFAULT_WHOLE_MAX_PIXELS,
                   help="fully convolutional models: larger images go in 512 px tiles")
    p.add_argument("--batch", type=int, default=64, help="tiles per forward pass")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    return p


def main(argv: list[str] | None = None) -> None:
    """`aebench restore ARGS` and `python -m aebench.restore ARGS` (the same code path)."""
    from aebench.core.errors import run_command

    run_command(parser(), command, argv)


if __name__ == "__main__":
    main()
