"""report.html: one self-contained page per sweep (and per run) that a browser shows without
network or JavaScript; `python -m aebench.report DIR` rewrites it; rendered in headless Chromium
when it is installed (scripts/install-chromium.sh); the first run (`make run`) is the benchmark
in miniature; `--help` introduces aebench."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aebench.report import main as report_main
from aebench.running.leaderboard import write_leaderboard

ROOT = Path(__file__).resolve().parents[1]


def _png(path: Path, color: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1))
    ax.add_patch(plt.Rectangle((0, 0), 1, 1, color=color))
    fig.savefig(path, dpi=50)
    plt.close(fig)


def _trial(folder: Path, overrides: list[str], metrics: dict | None, pictures: bool = True):
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    if metrics is not None:
        (folder / "metrics.json").write_text(json.dumps({"overrides": overrides, **metrics}))
        if pictures and metrics.get("status", "ok") == "ok":
            _png(folder / "reconstructions.png", "tab:blue")
            _png(folder / "loss_curve.png", "tab:orange")
            (folder / "report.html").write_text("<!DOCTYPE html>")  # a run writes its own page


@pytest.fixture
def sweep(tmp_path) -> Path:
    """A finished sweep: classical rows, two learned models at two latents, a failed and an
    unfinished trial."""
    root = tmp_path / "multirun" / "2026-11-29" / "10-00-00-000001"
    base = {"data": "shapes", "degradation": "blur", "degradation_detail": "blur 1, 8-bit",
            "blur": 1.0, "baseline": "input", "baseline_psnr": 26.43, "baseline_mse": 0.0041,
            "baseline_ssim": 0.899, "epochs": 4, "train_seconds": 5.0, "device": "cpu"}
    rows = [("unsharp", None, 30.88, 0), ("wiener", None, 33.72, 0),
            ("lstm", 32, 14.1, 90_000), ("lstm", 128, 14.4, 260_192),
            ("cnn", 32, 29.9, 30_000), ("cnn", 128, 31.2, 52_131)]
    for job, (model, latent, psnr, params) in enumerate(rows):
        over = [f"model={model}"] + ([f"latent={latent}"] if latent else [])
        _trial(root / str(job), over, {**base, "model": model, "latent": latent, "depth": 1,
                                       "test_psnr": psnr, "test_ssim": 0.8, "test_mse": 0.002,
                                       "psnr_gain": psnr - 26.43, "params": params,
                                       "code_size": latent or 3072})
    _trial(root / "6", ["model=unet", "lr=10"], {
        "status": "failed", "model": "unet", "data": "shapes", "degradation": "blur",
        "error": "RunStopped: training loss became nan at step 3 <lr too high>",
        "error_file": str(root / "6" / "error.txt")})
    (root / "6" / "error.txt").write_text("Traceback (most recent call last):\n  boom <here>\n")
    _trial(root / "7", ["model=vae"], None)  # started, never ended
    return root


def test_sweep_report_is_one_self_contained_page(sweep):
    info = write_leaderboard(sweep)
    page = info["html"].read_text()
    assert info["html"] == sweep / "report.html"
    # self-contained: no scripts, no style sheets or pictures fetched from anywhere; links only
    # to the trials' own pages and error files, relative to the page
    assert "<script" not in page.lower() and "<link" not in page.lower()
    assert not re.search(r"""src\s*=\s*["'](?!data:)""", page)
    assert set(re.findall(r'href="([^"]*)"', page)) == {
        *(f"{i}/report.html" for i in range(6)), "6/error.txt"}
    # the leaderboard: best first, each against its baseline with the gain, classical marked
    rows = re.findall(r"<tr class=\"([^\"]*)\">(.*?)</tr>", page.split("<tbody>")[1])
    models = [re.sub(r"<[^>]+>", "", re.findall(r"<td[^>]*>(.*?)</td>", cells)[1])
              for cls, cells in rows if 'class="err"' not in cells]
    assert models == ["wiener", "cnn", "unsharp", "cnn", "lstm", "lstm", "unet", "vae"]
    assert rows[0][0] == "classical best" and "+7.29 dB" in rows[0][1]
    assert 'class="neg">-12.03 dB' in page and "input as is" in page
    # the failed trial with its error (escaped), the end of error.txt; the unfinished one
    assert "training loss became nan at step 3 &lt;lr too high&gt;" in page
    assert "boom &lt;here&gt;" in page and "unfinished" in page
    # pictures: the gain chart, PSNR vs latent (two models at two latents), and the best five
    # finished trials' reconstructions (+ loss curve for the learned ones: cnn, cnn, lstm), all
    # inlined; the sixth (lstm latent=32) is its leaderboard row, linked to its own page
    pictures = page.count('src="data:image/png;base64,')
    assert 'alt="gain over the baseline"' in page and 'alt="psnr_vs_latent"' in page
    assert pictures == 2 + 5 + 3
    assert "<h3>6. lstm" not in page and "<h3>5. lstm" in page
    assert info["table"].splitlines()[2].split()[:2] == ["1", "wiener"]


def test_large_sweep_inlines_the_best_few_and_links_the_rest(tmp_path, monkeypatch):
    """Pictures of the best few and of the classical rows only; every other trial is a
    leaderboard row linked to its own report.html (a failed one: its error.txt); many gains
    are one sorted curve, not a bar each."""
    import shutil

    import aebench.running.html_report as html_report

    monkeypatch.setattr(html_report, "BARS_MAX", 10)
    root = tmp_path / "sweep"
    _trial(root / "0", ["model=wiener"], {"model": "wiener", "test_psnr": 14.0,
                                          "baseline_psnr": 26.0, "psnr_gain": -12.0, "params": 0})
    for i in range(1, 26):  # copies of one learned trial, worse and worse
        if i == 1:
            _trial(root / "1", ["model=unet", "seed=1"], {
                "model": "unet", "test_psnr": 40.0, "baseline_psnr": 26.0, "psnr_gain": 14.0,
                "params": 1000})
            continue
        shutil.copytree(root / "1", root / str(i))
        (root / str(i) / "metrics.json").write_text(json.dumps({
            "model": "unet", "test_psnr": 40.0 - i, "baseline_psnr": 26.0, "psnr_gain": 14.0 - i,
            "params": 1000, "overrides": ["model=unet", f"seed={i}"]}))
    _trial(root / "26", ["model=unet", "seed=26"], {"status": "failed", "model": "unet",
                                                    "error": "RuntimeError: boom"})
    (root / "26" / "error.txt").write_text("RuntimeError: boom\n")
    page = html_report.write_report(root).read_text()

    sections = re.findall(r"<h3>(\d+)\. ", page)
    # the best 5 (unet seeds 1-5), the classical row (last of the finished: rank 26), the
    # failed trial (rank 27)
    assert sections == ["1", "2", "3", "4", "5", "26", "27"]
    assert page.count('alt="reconstructions"') == 6 and page.count('alt="loss curve"') == 5
    links = re.findall(r'<a href="([^"]*)">', page)
    assert len(links) == 27 and "26/error.txt" in links and "25/report.html" in links
    assert "links to its own report.html" in page
    assert 'alt="gain over the baseline"' in page  # one curve of 26 finished trials


def test_report_command_rewrites_the_page(sweep, capsys):
    write_leaderboard(sweep)
    (sweep / "report.html").write_text("stale")
    report_main([str(sweep)])
    assert "report.html" in capsys.readouterr().err
    assert (sweep / "report.html").read_text().startswith("<!DOCTYPE html>")


def test_single_run_page(sweep):
    from aebench.running.html_report import write_report

    page = write_report(sweep / "4").read_text()  # one run folder: its own page
    assert "<h1>aebench run</h1>" in page and page.count("data:image/png;base64,") == 2


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="chromium is not installed (Debian package "
                    "`chromium`; scripts/install-chromium.sh installs it as root)")
def test_report_renders_in_headless_chromium(sweep, tmp_path):
    from PIL import Image

    write_leaderboard(sweep)
    shot = tmp_path / "report.png"
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
           "--window-size=1280,2000", (sweep / "report.html").as_uri()]
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert shot.is_file(), "chromium wrote no screenshot"
    if os.environ.get("AEBENCH_SCREENSHOT_DIR"):  # to look at it
        shutil.copy(shot, Path(os.environ["AEBENCH_SCREENSHOT_DIR"]) / "report-test.png")
    img = Image.open(shot).convert("RGB")
    assert img.size == (1280, 2000)
    top = img.crop((0, 0, 1280, 400))
    colors = top.getcolors(maxcolors=1 << 20)
    assert len(colors) > 50  # text and table drawn, not a blank page
    # the green gain of the best row and the red of the losing ones are on screen
    pixels = list(img.crop((0, 0, 1280, 1200)).getdata())
    assert any(r < 40 and 100 < g < 140 and b < 70 for r, g, b in pixels)
    assert any(r > 160 and g < 60 and b < 50 for r, g, b in pixels)


# -- the first run ------------------------------------------------------------------------------
def test_make_run_is_the_benchmark_in_miniature():
    from aebench.core.config import compose

    c = compose(["experiment=benchmark_shapes"], "/tmp/unused")
    assert c.choices["data"] == "shapes" and c.cfg.blur == 1.0
    makefile = (ROOT / "Makefile").read_text()
    run_line = next(line for line in makefile.splitlines() if "-m aebench" in line
                    and line.startswith("\t") and "experiment=benchmark_shapes" in line)
    assert " -m experiment=benchmark_shapes" in run_line
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from aebench.core.config import CONF_DIR

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        full = hydra_compose(config_name="config", overrides=["experiment=benchmark_shapes"],
                             return_hydra_config=True)
    GlobalHydra.instance().clear()
    models = str(full.hydra.sweeper.params.model).split(",")
    assert {"unsharp", "wiener"} <= set(models)  # the classical rows
    assert {"lstm"} & set(models) and {"cnn_small", "cnn", "unet", "unet_small"} & set(models)


def test_help_introduces_aebench_with_the_readme_usage():
    res = subprocess.run([sys.executable, "-m", "aebench", "--help"], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.startswith("usage: aebench")
    assert "aebench: train and benchmark autoencoders" in res.stdout
    assert "cli is powered by Hydra" not in res.stdout
    readme = (ROOT / "README.md").read_text()
    for line in ("aebench -m latent=32,128,256", "aebench report ",
                 "aebench -m experiment=benchmark_shapes"):
        assert line in res.stdout and line in readme
