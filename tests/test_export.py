"""aebench.export: the exported network gives PyTorch's output (dynamic batch; any H/W for fully
convolutional nets, as `aebench restore` gives it) and its JSON sidecar describes how to feed it."""
from __future__ import annotations

import importlib.util
import json

import pytest
import torch

from trained_runs import exit_code, trained_run

HAS_ORT = all(importlib.util.find_spec(m) for m in ("onnx", "onnxscript", "onnxruntime"))


def export_main(*argv) -> int:
    return exit_code("aebench.export", *argv)


def reference(run_dir, x):
    from aebench.running.trained import load_net

    with torch.inference_mode():
        return load_net(run_dir).net(x)


def restored(run_dir, x):
    """What `aebench restore` makes of the images x (N, C, H, W) of any size (its Restorer)."""
    from aebench.restore import Restorer
    from aebench.running.trained import load_net

    restorer = Restorer(load_net(run_dir), torch.device("cpu"))
    return torch.stack([restorer.image(image) for image in x])


ODD = [(1, 3, 37, 23), (2, 3, 5, 3)]  # sides no multiple of the cnn's 2 (the 640x427 bug)


def test_torchscript_matches_pytorch_any_batch_and_size(tmp_path, capsys):
    run = trained_run("cnn")
    assert export_main(run, "--format", "torchscript", "--out", tmp_path / "m.pt") == 0
    assert "max abs difference to PyTorch" in capsys.readouterr().out
    side = json.loads((tmp_path / "m.pt.json").read_text())
    assert side["input"]["layout"] == "NCHW" and side["input"]["value_range"] == [0.0, 1.0]
    assert side["input"]["channel_order"] == "RGB"
    assert side["input"]["dynamic_axes"] == {"0": "batch", "2": "height", "3": "width"}
    assert side["degradation"]["trained_for"] == "blur 1, 8-bit"
    assert "test_psnr" in side["test_scores"] and "baseline_psnr" in side["test_scores"]
    assert side["check"]["max_abs_diff"] <= 1e-4
    assert side["input"]["pads_to_multiple_of"] == 2 and side["input"]["min_side"] == 1
    assert [2, 3, 37, 41] in side["check"]["shapes"]  # checked at odd sides too
    net = torch.jit.load(str(tmp_path / "m.pt"))
    for shape in [(5, 3, 32, 32), (2, 3, 48, 40)]:
        x = torch.rand(shape)
        assert (net(x) - reference(run, x)).abs().max() <= 1e-5
    for shape in ODD:
        x = torch.rand(shape)
        assert (net(x).clamp(0, 1) - restored(run, x)).abs().max() <= 1e-5


def test_size_tied_network_exports_with_a_dynamic_batch_only(tmp_path):
    run = trained_run("lstm")
    assert export_main(run, "--format", "torchscript", "--out", tmp_path / "l.pt") == 0
    side = json.loads((tmp_path / "l.pt.json").read_text())
    assert side["input"]["shape"] == ["batch", 3, 32, 32]
    assert side["input"]["dynamic_axes"] == {"0": "batch"}
    x = torch.rand(7, 3, 32, 32)
    assert (torch.jit.load(str(tmp_path / "l.pt"))(x) - reference(run, x)).abs().max() <= 1e-5


@pytest.mark.skipif(not HAS_ORT, reason="onnx/onnxscript/onnxruntime not installed "
                                        "(pip install 'aebench[export]')")
def test_onnx_matches_pytorch_any_batch_and_size(tmp_path):
    import onnxruntime as ort

    run = trained_run("cnn")
    assert export_main(run, "--format", "onnx", "--out", tmp_path / "m.onnx") == 0
    side = json.loads((tmp_path / "m.onnx.json").read_text())
    assert side["check"]["runtime"] == "onnxruntime" and side["check"]["max_abs_diff"] <= 1e-4
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    for shape in [(3, 3, 32, 32), (1, 3, 40, 56)]:
        x = torch.rand(shape)
        got = torch.from_numpy(session.run(None, {"input": x.numpy()})[0])
        assert (got - reference(run, x)).abs().max() <= 1e-4
    for shape in ODD:
        x = torch.rand(shape)
        got = torch.from_numpy(session.run(None, {"input": x.numpy()})[0])
        assert (got.clamp(0, 1) - restored(run, x)).abs().max() <= 1e-4


def test_pt2_torch_export_takes_any_size_above_its_bound(tmp_path, capsys):
    run = trained_run("cnn")
    assert export_main(run, "--format", "pt2", "--out", tmp_path / "m.pt2") == 0
    assert "torch.export.load" in capsys.readouterr().out
    side = json.loads((tmp_path / "m.pt2.json").read_text())
    assert side["format"] == "pt2" and side["check"]["max_abs_diff"] <= 1e-4
    assert side["input"]["dynamic_axes"] == {"0": "batch", "2": "height", "3": "width"}
    assert side["input"]["min_side"] == 3  # torch.export's bound: the multiple (2) + 1
    net = torch.export.load(str(tmp_path / "m.pt2")).module()
    for shape in [(4, 3, 32, 32), (1, 3, 37, 23), (2, 3, 427 // 8, 640 // 8)]:
        x = torch.rand(shape)
        assert (net(x).clamp(0, 1) - restored(run, x)).abs().max() <= 1e-5


def test_a_network_that_cannot_be_exported_gets_one_line(tmp_path, capsys, monkeypatch):
    def refuse(*args, **kwargs):
        raise RuntimeError("Unsupported: aten::something has no ONNX translation\nmore detail")

    monkeypatch.setattr(torch.onnx, "export", refuse)
    code = export_main(trained_run("wiener"), "--format", "onnx", "--out", tmp_path / "w.onnx")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "cannot be exported to ONNX" in err[0] and "aten::something" in err[0]
    assert not list(tmp_path.iterdir())  # nothing left behind


def test_an_export_that_differs_from_pytorch_is_refused_and_leaves_no_file(tmp_path, capsys,
                                                                          monkeypatch):
    """The parity check: an exported file whose outputs differ from the network's by more than
    --tolerance stops the command (exit 2, one line) and is deleted, sidecar never written."""
    import aebench.export as export

    real = export._export_torchscript

    def off_by_a_little(net, example, path):
        runner = real(net, example, path)
        return lambda x: runner(x) + 1e-3  # as a wrong export would
    monkeypatch.setattr(export, "_export_torchscript", off_by_a_little)
    out = tmp_path / "m.pt"
    assert export_main(trained_run("cnn"), "--format", "torchscript", "--out", out) == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "differs from PyTorch by up to 0.001" in lines[0], lines
    assert list(tmp_path.iterdir()) == []


HYBRID = "pretrained:wiener_unet_blur1"  # ships with the package: no training, no data


def exported(fmt: str, path):
    """The exported file at `path` as a function of a batch, in its own runtime."""
    if fmt == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return lambda x: torch.from_numpy(session.run(None, {"input": x.numpy()})[0])
    module = torch.export.load(str(path)).module() if fmt == "pt2" else torch.jit.load(str(path))
    return lambda x: module(x).detach()


# torchscript in the fast suite; pt2 and onnx (10-25 s each: torch.export / torch.onnx on this
# graph) with the slow tests. The export form itself is checked against the FFT network in
# test_hybrid.py at odd sizes in every run.
@pytest.mark.parametrize("fmt", ["torchscript", pytest.param("pt2", marks=pytest.mark.slow),
                                 pytest.param("onnx", marks=[pytest.mark.slow, pytest.mark.skipif(
    not HAS_ORT, reason="onnx/onnxscript/onnxruntime not installed (pip install 'aebench[export]')")])])
def test_hybrid_exports_and_gives_restores_output_at_odd_sizes(tmp_path, fmt, monkeypatch):
    """The shipped hybrid (Wiener filters by FFT inside, then a U-Net) exports in each format
    (its export form: a real Hartley transform, no size-dependent Python); the check passed
    against the FFT network, and the file restores an odd-sized image as `aebench restore`.
    Without --out a shipped model's file goes to outputs/ here, not into the package."""
    monkeypatch.chdir(tmp_path)
    if fmt == "torchscript":
        assert export_main(HYBRID, "--format", fmt) == 0
        out = tmp_path / "outputs" / "pretrained-wiener_unet_blur1-export" / "wiener_unet.pt"
    else:
        out = tmp_path / f"w.{fmt}"
        assert export_main(HYBRID, "--format", fmt, "--out", out) == 0
    side = json.loads(out.with_name(out.name + ".json").read_text())
    assert side["network"] == "WienerUNet" and side["check"]["max_abs_diff"] <= 1e-4
    assert side["input"]["dynamic_axes"] == {"0": "batch", "2": "height", "3": "width"}
    assert [2, 3, 37, 39] in side["check"]["shapes"]  # checked at odd sides
    assert side["input"]["min_side"] == (5 if fmt == "pt2" else 1)  # pt2: the U-Net's 4, + 1
    x = torch.rand(1, 3, 37, 23)
    assert (exported(fmt, out)(x).clamp(0, 1) - restored(HYBRID, x)).abs().max() <= 1e-4


def test_wiener_filter_exports_at_any_size(tmp_path):
    """model=wiener (tuned at 32 x 32) exports with dynamic height and width through the same
    real-valued code, float64 inside: restore's output at an odd size."""
    run = trained_run("wiener")
    assert export_main(run, "--format", "torchscript", "--out", tmp_path / "w.pt") == 0
    side = json.loads((tmp_path / "w.pt.json").read_text())
    assert side["input"]["dynamic_axes"] == {"0": "batch", "2": "height", "3": "width"}
    assert side["check"]["max_abs_diff"] <= 1e-6
    x = torch.rand(2, 3, 37, 23)
    got = torch.jit.load(str(tmp_path / "w.pt"))(x).clamp(0, 1)
    assert (got - restored(run, x)).abs().max() <= 1e-6


def test_an_exported_file_that_fails_in_the_check_gets_one_line(tmp_path, capsys, monkeypatch):
    import aebench.export as export

    real = export._export_torchscript

    def breaks_at_other_sizes(net, example, path):
        runner = real(net, example, path)

        def run(x):
            if x.shape[-2:] != example.shape[-2:]:
                raise RuntimeError("shape mismatch in the traced graph\nmore detail")
            return runner(x)
        return run
    monkeypatch.setattr(export, "_export_torchscript", breaks_at_other_sizes)
    assert export_main(trained_run("cnn"), "--format", "torchscript", "--out", tmp_path / "m.pt") == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "fails on input" in lines[0] and "shape mismatch" in lines[0]
    assert list(tmp_path.iterdir()) == []
