"""aebench.restore: one test per promise of issue 13's Restore section, on tiny finished runs."""
from __future__ import annotations

import logging
import math
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from trained_runs import exit_code, trained_run


def smooth_image(h: int, w: int, c: int = 3, seed: int = 0) -> np.ndarray:
    """(h, w, c) uint8: gradients and a few rectangles, like a small photograph."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = rng.uniform(40, 120, size=c) + (rng.uniform(-1, 1) * xx + rng.uniform(-1, 1) * yy)[..., None]
    for _ in range(4):
        y0, x0 = rng.integers(0, h - 8), rng.integers(0, w - 8)
        img[y0:y0 + h // 4, x0:x0 + w // 4] = rng.uniform(0, 255, size=c)
    return np.clip(img, 0, 255).astype(np.uint8)


def restore_main(*argv) -> int:
    return exit_code("aebench.restore", *argv)


def test_tiled_path_agrees_with_whole_image_on_fully_convolutional_model():
    from aebench.restore import Restorer
    from aebench.running.trained import load_net

    loaded = load_net(trained_run("cnn"))
    assert loaded.multiple == 2  # cnn, depth 1: sides padded to even
    x = torch.from_numpy(smooth_image(75, 93)).permute(2, 0, 1).float() / 255  # odd sides
    whole = Restorer(loaded, torch.device("cpu")).image(x)
    tiled = Restorer(loaded, torch.device("cpu"), tile=32, overlap=8).image(x)
    assert whole.shape == tiled.shape == x.shape
    mse = float(((whole - tiled) ** 2).mean())
    psnr = 10 * math.log10(1 / max(mse, 1e-20))
    assert psnr >= 45, psnr


def test_constant_image_stays_constant_through_tiles(tmp_path):
    from aebench.restore import run_tiled

    # the blending itself: tiles of a size-tied network that returns a constant
    x = torch.rand(1, 3, 50, 77)
    out = run_tiled(lambda t: torch.full_like(t, 0.37), x, (32, 32), (16, 16), batch=5)
    assert out.shape == x.shape and torch.allclose(out, torch.full_like(x, 0.37), atol=1e-6)
    # through the command: the identity row on tiles, a constant 8-bit image comes back exactly
    Image.fromarray(np.full((45, 70, 3), 131, np.uint8)).save(tmp_path / "flat.png")
    code = restore_main(trained_run("identity"), tmp_path / "flat.png", "--out", tmp_path / "o",
                        "--tile", "16", "--overlap", "6")
    assert code == 0
    back = np.asarray(Image.open(tmp_path / "o" / "flat.png"))
    assert back.shape == (45, 70, 3) and (back == 131).all()


def test_size_tied_model_restores_any_size_on_its_tiles(tmp_path):
    from aebench.running.trained import load_net

    assert load_net(trained_run("lstm")).multiple is None  # row-sequence LSTM: tied to 32x32
    Image.fromarray(smooth_image(41, 70)).save(tmp_path / "a.jpg")
    Image.fromarray(smooth_image(20, 25, seed=1)).save(tmp_path / "small.PNG")  # below a tile
    assert restore_main(trained_run("lstm"), tmp_path, "--out", tmp_path / "o") == 0
    assert Image.open(tmp_path / "o" / "a.png").size == (70, 41)
    assert Image.open(tmp_path / "o" / "small.png").size == (25, 20)


def test_colour_converted_to_what_the_model_was_trained_on(tmp_path, caplog):
    grey = smooth_image(40, 48, c=1)[..., 0]
    rgba = np.dstack([smooth_image(36, 36), np.arange(36 * 36).reshape(36, 36) % 256]).astype(np.uint8)
    Image.fromarray(grey, "L").save(tmp_path / "grey.png")
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    Image.fromarray(smooth_image(30, 30)).convert("P").save(tmp_path / "pal.png")
    with caplog.at_level(logging.INFO, logger="aebench"):
        assert restore_main(trained_run("cnn"), tmp_path, "--out", tmp_path / "o") == 0
    assert Image.open(tmp_path / "o" / "grey.png").mode == "L"  # greyscale in, greyscale out
    out = Image.open(tmp_path / "o" / "rgba.png")
    assert out.mode == "RGBA" and out.size == (36, 36)
    assert (np.asarray(out)[..., 3] == rgba[..., 3]).all()  # alpha put back unchanged
    assert Image.open(tmp_path / "o" / "pal.png").mode == "RGB"
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("colour:")]
    assert any("greyscale inputs restored as RGB" in m for m in lines)
    assert any("alpha" in m for m in lines) and any("palette" in m for m in lines)
    assert len(lines) == 3  # one line per kind of conversion


def test_bad_inputs_are_listed_and_the_rest_restored(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(smooth_image(40, 40)).save(src / "good.png")
    Image.fromarray(smooth_image(40, 40, seed=2)).save(src / "good2.jpeg")
    data = (src / "good.png").read_bytes()
    (src / "truncated.png").write_bytes(data[: len(data) // 2])
    (src / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 50)
    (src / "fake.png").write_bytes(b"this is text, not an image")
    Image.fromarray(smooth_image(120, 120)).save(src / "huge.png")
    (tmp_path / "notes.txt").write_text("x")
    code = restore_main(trained_run("wiener"), src, tmp_path / "notes.txt", tmp_path / "missing.png",
                        "--out", tmp_path / "o", "--max-pixels", "10000")
    err = capsys.readouterr().err
    assert code == 2
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["good.png", "good2.png"]
    assert "failed: 6 input(s) not restored" in err
    for name, why in [("truncated.png", "truncated"), ("corrupt.jpg", "corrupt"),
                      ("fake.png", "not an image"), ("huge.png", "--max-pixels"),
                      ("notes.txt", "not a .png/.jpg/.jpeg file"),
                      ("missing.png", "no such file")]:
        line = next(ln for ln in err.splitlines() if name in ln)
        assert why in line, line


@pytest.mark.parametrize("case", ["no checkpoint", "another model's checkpoint"])
def test_unusable_run_dir_restores_nothing(tmp_path, capsys, case):
    run = tmp_path / "run"
    shutil.copytree(trained_run("cnn"), run)
    import json

    metrics = json.loads((run / "metrics.json").read_text())
    ckpt = next((run / "checkpoints").glob("epoch*.ckpt"))
    metrics["best_checkpoint"] = str(ckpt)
    (run / "metrics.json").write_text(json.dumps(metrics))
    if case == "no checkpoint":
        shutil.rmtree(run / "checkpoints")
    else:
        other = next((trained_run("lstm") / "checkpoints").glob("epoch*.ckpt"))
        shutil.copy(other, ckpt)
    Image.fromarray(smooth_image(32, 32)).save(tmp_path / "a.png")
    code = restore_main(run, tmp_path / "a.png", "--out", tmp_path / "o")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and not (tmp_path / "o").exists()
    assert len(err) == 1 and err[0].startswith("aebench: error:")
    assert ("no finished checkpoint" in err[0] if case == "no checkpoint"
            else "does not hold weights of this run's model" in err[0])


def test_sequences_npy_and_csv(tmp_path, capsys):
    t = np.linspace(0, 2 * np.pi, 50)
    seqs = np.stack([np.sin(f * t) for f in (0.7, 1.3, 2.1)]).astype(np.float32)  # (3, 50)
    np.save(tmp_path / "waves.npy", seqs)
    np.savetxt(tmp_path / "waves.csv", np.sin(1.1 * np.linspace(0, 9, 80))[None], delimiter=",")
    code = restore_main(trained_run("sine"), tmp_path / "waves.npy", tmp_path / "waves.csv",
                        "--out", tmp_path / "o", "--degrade")
    assert code == 0
    assert np.load(tmp_path / "o" / "waves.npy").shape == (3, 50)
    back = np.loadtxt(tmp_path / "o" / "waves.csv", delimiter=",", ndmin=2)
    assert back.shape == (1, 80) and np.isfinite(back).all()  # longer than training: windows
    out = capsys.readouterr().out
    assert "mean MSE" in out and "noise 0.1" in out


@pytest.mark.slow
def test_degrade_writes_strips_scores_and_summary():
    """The printed contract, as a user runs it (the one subprocess test)."""
    import json
    import tempfile
    from pathlib import Path

    tmp = Path(tempfile.mkdtemp())
    for i in range(3):
        Image.fromarray(smooth_image(48, 64, seed=i)).save(tmp / f"p{i}.png")
    proc = subprocess.run([sys.executable, "-m", "aebench.restore", str(trained_run("wiener")),
                           str(tmp), "--out", str(tmp / "out"), "--degrade"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "restored 3 file(s)" in proc.stdout
    assert "| mean PSNR (dB) |" in proc.stdout and "| mean SSIM |" in proc.stdout
    summary = json.loads((tmp / "out" / "summary.json").read_text())["summary"]
    assert summary["n"] == 3 and summary["restored_psnr"] > summary["degraded_psnr"]
    strip = Image.open(tmp / "out" / "strips" / "p0.png")
    assert strip.size[0] > 3 * 64  # clean | degraded | restored
    assert (tmp / "out" / "scores.csv").read_text().count("\n") == 4


def test_tiles_blend_over_exactly_their_overlap_with_weights_that_sum_to_one():
    """run_tiled's window: a tile's output counts alone outside the overlaps, and across an
    overlap of N pixels the two tiles' weights are the raised cosine sin^2 / cos^2 of
    pi/2 (k + 0.5) / N (k = 0..N-1), which sum to 1: a window one pixel wider or narrower, or
    another ramp, changes these values."""
    from aebench.restore import run_tiled

    tile, overlap, width = 16, 6, 36  # tiles start at 0, 10, 20: overlaps 10..15 and 20..25
    x = (torch.arange(width, dtype=torch.float64) / 100).expand(1, 1, tile, width).clone()
    # each tile comes back filled with its own mean: which tile a pixel took its value from shows
    out = run_tiled(lambda t: t.mean(dim=(1, 2, 3), keepdim=True).expand_as(t).clone(), x,
                    (tile, tile), (overlap, overlap), batch=2)[0, 0, 0]
    means = [(start + (tile - 1) / 2) / 100 for start in (0, 10, 20)]
    expected = torch.empty(width, dtype=torch.float64)
    expected[:10], expected[16:20], expected[26:] = means[0], means[1], means[2]
    k = torch.arange(overlap, dtype=torch.float64)
    rise = torch.sin(0.5 * math.pi * (k + 0.5) / overlap) ** 2  # the next tile's weight
    for i, start in enumerate((10, 20)):
        expected[start:start + overlap] = (1 - rise) * means[i] + rise * means[i + 1]
    assert torch.allclose(out, expected, rtol=0, atol=1e-12), (out - expected).abs().max()


def test_greyscale_in_greyscale_out_and_colour_on_a_greyscale_model(tmp_path):
    """An RGB model restores a greyscale image as RGB (channel replicated) and gives it back as
    greyscale (ITU-R 601 luma); a greyscale model restores an RGB image channel by channel."""
    from aebench.restore import Restorer, luma
    from aebench.running.trained import load_net

    grey = smooth_image(33, 41, c=1)[..., 0]
    Image.fromarray(grey, "L").save(tmp_path / "grey.png")
    rgb = smooth_image(33, 41, seed=3)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    for name in ("cnn", "cnn_grey"):
        assert restore_main(trained_run(name), tmp_path / "grey.png", tmp_path / "rgb.png",
                            "--out", tmp_path / name) == 0
        assert Image.open(tmp_path / name / "grey.png").mode == "L"
        assert Image.open(tmp_path / name / "rgb.png").mode == "RGB"
        assert Image.open(tmp_path / name / "rgb.png").size == (41, 33)
    x = torch.from_numpy(grey).float()[None] / 255
    rgb_model = Restorer(load_net(trained_run("cnn")), torch.device("cpu"))
    expected = luma(rgb_model.image(x.expand(3, -1, -1).contiguous()))
    got = np.asarray(Image.open(tmp_path / "cnn" / "grey.png"))
    assert np.abs(got.astype(int) - (expected[0] * 255).round().numpy()).max() <= 1
    grey_model = Restorer(load_net(trained_run("cnn_grey")), torch.device("cpu"))
    c = torch.from_numpy(rgb).permute(2, 0, 1).float() / 255
    expected = torch.cat([grey_model.image(c[i:i + 1]) for i in range(3)])
    got = np.asarray(Image.open(tmp_path / "cnn_grey" / "rgb.png"))
    assert np.abs(got.astype(int) - (expected.permute(1, 2, 0) * 255).round().numpy()).max() <= 1


def test_a_sweep_folder_names_its_trial_folders(tmp_path, capsys):
    """restore (and every command that reads a run) pointed at a sweep: one line naming the
    trial folders and the best of them, nothing restored."""
    import json

    sweep = tmp_path / "sweep"
    for i, psnr in enumerate([24.0, 27.5, None]):
        (sweep / str(i)).mkdir(parents=True)
        metrics = {"status": "ok" if psnr else "failed", "model": "cnn", "overrides": []}
        if psnr:
            metrics["test_psnr"] = psnr
        (sweep / str(i) / "metrics.json").write_text(json.dumps(metrics))
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    Image.fromarray(smooth_image(32, 32)).save(tmp_path / "a.png")
    assert restore_main(sweep, tmp_path / "a.png", "--out", tmp_path / "o") == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and "is a sweep folder, not a run folder" in err[0], err
    assert "3 run folders (0, 1, 2)" in err[0]
    assert f"the best: {sweep / '1'} (cnn, test PSNR 27.50 dB)" in err[0]
    assert not (tmp_path / "o").exists()


def test_a_png_declaring_30000x30000_pixels_is_refused_before_decoding(tmp_path, capsys):
    from fakedata import write_png_declaring

    write_png_declaring(tmp_path / "bomb.png", 30000, 30000)  # 2.7 GB as RGB if trusted
    code = restore_main(trained_run("wiener"), tmp_path / "bomb.png", "--out", tmp_path / "o")
    assert code == 2
    err = capsys.readouterr().err
    line = next(ln for ln in err.splitlines() if "bomb.png" in ln)
    assert "too many pixels" in line and "900000000" in line, line
    assert not (tmp_path / "o" / "bomb.png").exists()
