"""Export a trained run's network for use outside aebench: ONNX, torch.export (pt2) or TorchScript,
plus a JSON sidecar.

    aebench export RUN_DIR [--format onnx|pt2|torchscript] [--out FILE]

Writes RUN_DIR/export/<model>.onnx (the default format; .pt2 for torch.export, .pt for
TorchScript) unless --out says where (a shipped model, pretrained:NAME, lives inside the
installed package: outputs/pretrained-NAME-export/ in the current directory), and next to it
FILE.json: input name, shape and layout (NCHW images, NTF
sequences), dtype, value range ([0, 1] for images), channel order, which axes are dynamic (the
batch always; height and width too for fully convolutional networks), the degradation it was
trained to undo, the run's test scores next to its baseline, and the check.

Any image size: a fully convolutional network is exported inside `anysize.AnySize`, which pads
the input at the bottom and right to the multiple the network's strides need
(`pads_to_multiple_of`) and crops the output back, as `aebench restore` does: the exported
graph takes any height and width (pt2: from `min_side`, torch.export's bound; onnx and
torchscript: from 1 pixel) and gives `aebench restore`'s output.

The hybrids (model=wiener_unet, wiener_unet_blind, the pretrained:wiener_unet_* weights) and the
Wiener filter (model=wiener) are exported in their own export form (`exportable()`, on the same
weights): the same output at any size, written for the exporters. The Wiener filters are real
and even, so a separable Hartley transform (cos + sin matrices built in the graph from the
padded size) applies them with real matrix products: no complex tensor (the ONNX exporter
translates them only in part: the hybrids' spectra stopped it);
the paddings are index gathers and the padded sizes tensors, so there is no Python branch or
cache on the input's size, which torch.export and TorchScript cannot follow. Training and
`aebench restore` keep the FFT (2-7x faster on a CPU); the check below runs the export form's
file against that network, so it proves the two agree (~1e-5 on float32 hybrids).

The check: the exported file is loaded (ONNX Runtime, torch.export.load or torch.jit.load) and
run on 8 test items of the run's data set, degraded as in testing (8 seeded random items when
the data set is not on this machine), and at a second batch size and, for fully convolutional
networks, at two other image sizes (one with odd sides); the max abs difference to the PyTorch
network is printed and must be <= 1e-4 (--tolerance), else the export fails. A network that
cannot be exported (an operator the exporter has no translation for, say), or whose file fails
or differs in the check, gets one line saying why, exit 2; nothing is left behind.

ONNX needs the `export` extra (onnx, onnxscript, onnxruntime), which `make install` includes.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from pathlib import Path

from aebench.core.errors import ConfigError

log = logging.getLogger("aebench")
FORMATS = {"onnx": ".onnx", "pt2": ".pt2", "torchscript": ".pt"}
RUNTIMES = {"onnx": "onnxruntime", "pt2": "torch.export.load", "torchscript": "torch.jit.load"}
CHECK_ITEMS = 8


class ExportError(Exception):
    """The network could not be exported, or the exported file does not match PyTorch."""


def check_inputs(loaded, n: int = CHECK_ITEMS):
    """(degraded test items (n, *item_shape) float32, where they came from). The data set is
    read where it is on this machine, never downloaded for this (CIFAR-10: 170 MB)."""
    import torch
    from omegaconf import OmegaConf

    from aebench.core.data.base import to_float
    from aebench.core.config import build

    try:
        data = loaded.cfg.data
        if "download" in data:
            data = OmegaConf.merge(data, {"download": False})
        with contextlib.redirect_stdout(io.StringIO()):
            dm = build(data)
            dm.prepare_data()
            dm.setup("fit")
        x = to_float(dm.test_x[:n]).float()
        source = f"the first {len(x)} test items of the run's data set, degraded as in testing"
    except Exception as err:  # noqa: BLE001 - no data here: the check still runs
        g = torch.Generator().manual_seed(0)
        x = torch.rand((n, *loaded.item_shape), generator=g)
        if not loaded.bounded:
            x = 2 * x - 1
        source = (f"{n} seeded random items (the run's data set could not be loaded: "
                  f"{' '.join(str(err).split())[:120]})")
    return loaded.degradation(x, torch.arange(len(x)), "test").float(), source


def dynamic_axes(dynamic_hw: int | None) -> dict:
    """torch.export's dynamic shapes of the input: the batch, and with `dynamic_hw` (the
    multiple an `AnySize` pads to) height and width above it: torch.export cannot prove that a
    network's bottleneck of one pixel broadcasts like a larger one, so sides start at m + 1."""
    import torch

    axes = {0: torch.export.Dim("batch", min=1, max=65536)}
    if dynamic_hw:
        axes[2] = torch.export.Dim("height", min=dynamic_hw + 1, max=65536)
        axes[3] = torch.export.Dim("width", min=dynamic_hw + 1, max=65536)
    return axes


def _export_onnx(net, example, path: Path, dynamic_hw: int | None, opset: int | None) -> None:
    import torch

    axes = dynamic_axes(dynamic_hw)
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            torch.onnx.export(net, (example,), str(path), input_names=["input"],
                              output_names=["output"], dynamo=True, dynamic_shapes=(axes,),
                              opset_version=opset, external_data=False, verbose=False)
    except Exception as err:  # noqa: BLE001 - any exporter failure is one line
        lines = [ln for ln in str(err).splitlines() if ln.strip()]
        first = next((ln for ln in lines if "Error" in ln or "not supported" in ln),
                     lines[0] if lines else type(err).__name__)
        raise ExportError(f"{_name(net)} cannot be exported to ONNX: "
                          f"{' '.join(first.split())[:240]}") from None


def _onnx_runner(path: Path):
    try:
        import onnxruntime as ort
    except ImportError:
        raise ConfigError("the ONNX check needs onnxruntime, which is not installed: pip install "
                          "'aebench[export]' (onnx, onnxscript, onnxruntime), or make install") \
            from None
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def run(x):
        import torch

        return torch.from_numpy(session.run(None, {"input": x.numpy()})[0])
    return run


def _export_pt2(net, example, path: Path, dynamic_hw: int | None):
    """torch.export.export + torch.export.save; the runner is the file loaded back."""
    import torch

    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf), torch.no_grad():
            program = torch.export.export(net, (example,),
                                          dynamic_shapes=(dynamic_axes(dynamic_hw),))
        torch.export.save(program, str(path))
    except Exception as err:  # noqa: BLE001 - any exporter failure is one line
        lines = [ln for ln in str(err).splitlines() if ln.strip()]
        raise ExportError(f"{_name(net)} cannot be exported with torch.export: "
                          f"{' '.join((lines or [type(err).__name__])[0].split())[:240]}") \
            from None
    module = torch.export.load(str(path)).module()

    def run(x):
        with torch.no_grad():
            return module(x)
    return run


def _export_torchscript(net, example, path: Path):
    import torch

    from aebench.running.anysize import AnySize

    try:
        with torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):
            if getattr(net, "scriptable", False):  # written for it (the hybrids' export form)
                scripted = torch.jit.script(net)
            elif isinstance(net, AnySize):  # the network traced, the size logic scripted
                scripted = torch.jit.script(AnySize(torch.jit.trace(net.net, example,
                                                                    check_trace=False),
                                                    net.multiple))
            else:
                scripted = torch.jit.trace(net, example, check_trace=False)
        scripted.save(str(path))
    except Exception as err:  # noqa: BLE001
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ExportError(f"{_name(net)} cannot be exported to TorchScript: "
                          f"{first[:240]}") from None
    with warnings.catch_warnings():  # torch.jit.load's deprecation notice: not this export's
        warnings.simplefilter("ignore", FutureWarning)
        loaded = torch.jit.load(str(path), map_location="cpu")

    def run(x):
        with torch.no_grad():
            return loaded(x)
    return run


def export(run_dir, fmt: str, out: str | Path | None = None, tolerance: float = 1e-4,
           opset: int | None = None) -> dict:
    """Export the run's network; returns the sidecar's dict (also written to FILE.json)."""
    import torch

    from omegaconf import OmegaConf

    from aebench.running.trained import load_net

    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt} is not accepted; choose one of: {', '.join(FORMATS)}")
    if fmt == "onnx":
        missing = [m for m in ("onnx", "onnxscript") if not _importable(m)]
        if missing:
            raise ConfigError(f"--format onnx needs {', '.join(missing)}, not installed: pip "
                              "install 'aebench[export]' (or make install)")
    from aebench.running.anysize import AnySize

    loaded = load_net(run_dir)
    net = loaded.net.float().eval()
    path = Path(out) if out else default_out(loaded.run.run_dir, loaded.name, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    x, source = check_inputs(loaded)
    # the shapes the exported file is checked at: the test items, another batch size, and for
    # fully convolutional networks two other image sizes, one with odd sides (height and width
    # are dynamic only when this one network takes any size: a network with a dense layer
    # does not); such a network is exported inside AnySize: pad, run, crop
    checks = [x, x[:3]]
    m = loaded.multiple if loaded.image else None
    if m:
        c, h, w = loaded.item_shape
        g = torch.Generator().manual_seed(1)
        other = torch.rand((2, c, h + 2 * m, w + 4 * m), generator=g)
        try:
            with torch.inference_mode():
                net(other)
        except RuntimeError:
            m = None
        else:
            odd = lambda n: n + 5 if n % 2 == 0 else n + 6  # noqa: E731 - an odd side > n
            net = AnySize(net, m).eval()
            checks += [other, torch.rand((2, c, odd(h), odd(w) + 2 * m), generator=g)]
            tiny = torch.rand((1, c, 1, 3), generator=g)  # sides below the multiple
            if fmt != "pt2" and _runs(net, tiny):
                checks.append(tiny)
    example = x[:2].clone()
    target = exportable(net)  # what is traced; `net` (PyTorch) stays the reference
    # the multiple the traced graph pads to (a hybrid pads inside, to its U-Net's): the bound
    bound = getattr(target, "multiple", m) if m else None
    written = [path]
    try:
        if fmt == "onnx":
            _export_onnx(target, example, path, bound, opset)
            runner = _onnx_runner(path)
        elif fmt == "pt2":
            runner = _export_pt2(target, example, path, bound)
        else:
            runner = _export_torchscript(target, example, path)
        diffs = []
        for xc in checks:
            with torch.inference_mode():
                ref = net(xc).float()
            try:
                got = runner(xc.contiguous()).float()
            except Exception as err:  # noqa: BLE001 - the file does not run: one line
                first = (str(err).strip().splitlines() or [type(err).__name__])[0]
                raise ExportError(f"the exported {fmt} model fails on input {tuple(xc.shape)}: "
                                  f"{' '.join(first.split())[:200]}") from None
            if got.shape != ref.shape:
                raise ExportError(f"the exported {fmt} model returns shape {tuple(got.shape)} for "
                                  f"input {tuple(xc.shape)}, PyTorch {tuple(ref.shape)}")
            diffs.append(float((got - ref).abs().max()))
        max_diff = max(diffs)
        if not max_diff <= tolerance:
            raise ExportError(f"the exported {fmt} model differs from PyTorch by up to "
                              f"{max_diff:.3g} (> {tolerance:g}) on {source}")
    except BaseException:
        for p in written:
            p.unlink(missing_ok=True)
        raise
    metrics = loaded.run.metrics
    if loaded.image:
        c, h, w = loaded.item_shape
        shape = ["batch", c, "height" if m else h, "width" if m else w]
        layout, order = "NCHW", {1: "greyscale (L)", 3: "RGB"}.get(c, f"{c} channels")
        dynamic = {"0": "batch", **({"2": "height", "3": "width"} if m else {})}
    else:
        t, f = loaded.item_shape
        shape, layout, order, dynamic = ["batch", t, f], "NTF (batch, steps, features)", None, \
            {"0": "batch"}
    sidecar = {
        "format": fmt, "file": path.name, "model": loaded.name,
        "network": type(loaded.net).__name__, "run_dir": str(loaded.run.run_dir),
        "checkpoint": str(loaded.run.checkpoint) if loaded.run.checkpoint else None,
        "tuned": metrics.get("tuned"),
        "input": {"name": "input", "shape": shape, "dtype": "float32", "layout": layout,
                  "value_range": [0.0, 1.0] if loaded.bounded else None,
                  "channel_order": order, "dynamic_axes": dynamic,
                  "pads_to_multiple_of": m if loaded.image and m else None,
                  "min_side": (1 if any(c.shape[-2] == 1 for c in checks) else bound + 1)
                  if loaded.image and m else None,
                  "trained_item_shape": list(loaded.item_shape)},
        "output": {"name": "output", "shape": shape, "dtype": "float32",
                   "note": ("clip to [0, 1] (and round to 8 bits) for images, as aebench scores "
                            "them" if loaded.bounded else "unbounded values")},
        "degradation": {"trained_for": metrics.get("degradation_detail"),
                        "config": OmegaConf.to_container(loaded.cfg.degradation, resolve=True)},
        "data": metrics.get("data"),
        "test_scores": {k: metrics.get(k) for k in
                        ("test_psnr", "test_ssim", "test_mse", "test_mae", "baseline",
                         "baseline_psnr", "baseline_ssim", "baseline_mse", "baseline_mae",
                         "psnr_gain") if metrics.get(k) is not None},
        "check": {"items": source, "shapes": [list(c.shape) for c in checks],
                  "max_abs_diff": max_diff, "tolerance": tolerance,
                  "runtime": RUNTIMES[fmt]},
        "torch_version": torch.__version__,
    }
    if fmt == "onnx":
        import onnx

        sidecar["opset"] = next((o.version for o in onnx.load(str(path)).opset_import
                                 if o.domain in ("", "ai.onnx")), None)
    (path.with_name(path.name + ".json")).write_text(json.dumps(sidecar, indent=2) + "\n")
    return sidecar


def exportable(net):
    """The module the exporters are given for `net` (an `AnySize` or the network itself): the
    network's own `exportable()` form where it has one, else `net`. The hybrids (WienerUNet)
    have one: the same output for any image size, written for the exporters (no FFT, no Python
    branch on the input's size); the check runs it against `net` itself."""
    from aebench.running.anysize import AnySize

    inner = net.net if isinstance(net, AnySize) else net
    make = getattr(inner, "exportable", None)
    if make is None:
        return net
    target = make().eval()
    if isinstance(net, AnySize) and net.multiple > 1:
        target = AnySize(target, net.multiple).eval()
    return target


def _name(net) -> str:
    """The network's class name for messages: inside AnySize, its own name for an export form
    (ExportableWienerUNet: WienerUNet)."""
    from aebench.running.anysize import AnySize

    inner = net.net if isinstance(net, AnySize) else net
    return type(inner).__name__.removeprefix("Exportable")


def default_out(run_dir, model: str, fmt: str) -> Path:
    """Where the export goes without --out: RUN_DIR/export/<model><ext>; for a shipped model
    (`pretrained:NAME`, a folder inside the installed package: not the place)
    outputs/pretrained-NAME-export/ in the current directory, as `aebench evaluate` does."""
    from aebench.running import pretrained

    name = f"{model}{FORMATS[fmt]}"
    shipped = pretrained.shipped_name(run_dir)
    if shipped is not None:
        return Path("outputs") / f"pretrained-{shipped}-export" / name
    return Path(run_dir) / "export" / name


def _runs(net, x) -> bool:
    """Whether `net` (PyTorch) takes `x` at all."""
    import torch

    try:
        with torch.inference_mode():
            net(x)
    except (RuntimeError, ValueError):
        return False
    return True


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def command(args) -> int:
    """`aebench export RUN_DIR --format F`: export, check, say where."""
    from aebench.core.errors import fail

    from rich.console import Console

    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:  # seconds to minutes (tracing, the runtime's check): a spinner on a terminal
        with Console(stderr=True).status(f"exporting as {args.format}, then checking the file "
                                         "against PyTorch"):
            sidecar = export(args.run_dir, args.format, args.out, args.tolerance, args.opset)
    except ExportError as err:
        fail(str(err))
    path = (Path(args.out) if args.out else default_out(
        sidecar["run_dir"], sidecar["model"], args.format)).absolute()
    check = sidecar["check"]
    print(f"max abs difference to PyTorch: {check['max_abs_diff']:.3g} (<= {check['tolerance']:g}; "
          f"{check['runtime']} on {check['items']})")
    print(f"wrote {path} and {path.name}.json")
    return 0


def parser():
    """`aebench export`'s arguments (aebench.core.errors.Parser: one-line errors, examples)."""
    from aebench.core.errors import Parser

    p = Parser("export", "Export a trained run's network with a JSON sidecar, checked against "
               "PyTorch on test items (max abs difference <= --tolerance).",
               ["aebench export RUN_DIR --format onnx",
                "aebench export RUN_DIR --format pt2 --out model.pt2",
                "aebench export pretrained:wiener_unet_blur1 --format torchscript"])
    p.add_argument("run_dir", metavar="RUN_DIR",
                   help="a finished run or sweep trial folder, or pretrained:NAME")
    p.add_argument("--format", default="onnx", choices=sorted(FORMATS),
                   help="default onnx")
    p.add_argument("--out", help="file to write (default RUN_DIR/export/<model>.<format's "
                                 "extension>; pretrained:NAME: outputs/pretrained-NAME-export/)")
    p.add_argument("--tolerance", type=float, default=1e-4,
                   help="largest accepted abs difference to PyTorch (default 1e-4)")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset (default: torch's)")
    return p


def main(argv: list[str] | None = None) -> None:
    """`aebench export ARGS` and `python -m aebench.export ARGS` (the same code path)."""
    from aebench.core.errors import run_command

    run_command(parser(), command, argv)


if __name__ == "__main__":
    main()
