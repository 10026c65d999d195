"""Package trained weights as a shipped pretrained model (src/aebench/running/pretrained/NAME/).

    python scripts/make_pretrained.py NAME --weights STATE.pt --data-dir DIR \
        --command "the command that trained it" -- OVERRIDE ...

STATE.pt is the network's state_dict (benchmarks/time_to_quality.py --out writes one per model)
or a run folder's checkpoint; OVERRIDES are the ones it was trained with (model=..., blur=...,
no data.root). The folder gets weights.safetensors (tensors only), metrics.json (the overrides,
the item shape and the CIFAR-10 test scores measured here with `aebench evaluate`, beside the
blurred input and the Wiener filter told sigma on the same images) and README.md (the model card).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name")
    ap.add_argument("--weights", type=Path, required=True)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--command", required=True, help="the command that trained the weights")
    ap.add_argument("--trained-for", default="", help="e.g. '40 min on 1 CPU core'")
    ap.add_argument("overrides", nargs="+")
    args = ap.parse_args(argv)

    import torch
    from safetensors.torch import save_file

    from aebench.core.config import build_parts, compose
    from aebench.evaluate import evaluate_run

    state = torch.load(args.weights, map_location="cpu", weights_only=True)
    if "state_dict" in state:  # a Lightning checkpoint: the network's part
        state = {k[4:]: v for k, v in state["state_dict"].items() if k.startswith("net.")}
    choices = dict(o.split("=", 1) for o in args.overrides if "=" in o)
    dest = ROOT / "src" / "aebench" / "running" / "pretrained" / args.name
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / args.name
        folder.mkdir()
        save_file({k: v.contiguous() for k, v in state.items()}, str(folder / "weights.safetensors"))
        record = {"status": "ok", "overrides": list(args.overrides), "item_shape": [3, 32, 32],
                  "model": choices.get("model"), "data": choices.get("data", "cifar10"),
                  "degradation": choices.get("degradation", "blur"),
                  "test_mse": None}  # filled in below, by the evaluation
        (folder / "metrics.json").write_text(json.dumps(record, indent=1))
        scores = evaluate_run(folder, [f"data.root={args.data_dir}"], out=Path(tmp) / "eval")
        # the Wiener filter told sigma, tuned on training images, on the same test images
        wiener = None
        if choices.get("model") != "wiener" and "[" not in choices.get("blur", "1.0"):
            from aebench.running.train import tune

            keep = [o for o in args.overrides if o.split("=")[0] in ("blur", "data", "degradation")
                    or o.startswith("degradation.")]
            cfg = compose(["model=wiener", *keep, f"data.root={args.data_dir}", "logger=none"],
                          Path(tmp) / "wiener").cfg
            dm, degradation, net, _ = build_parts(cfg)
            tune(net, dm, degradation)
            dm.setup("test")
            from aebench.core.data.base import to_float
            from aebench.core.metrics import psnr_per_image

            clean = to_float(dm.test_x)
            with torch.no_grad():
                out = torch.cat([net(degradation(clean[i:i + 1000], torch.arange(i, min(i + 1000, len(clean))), "test"))
                                 for i in range(0, len(clean), 1000)])
            wiener = round(psnr_per_image(out.clamp(0, 1), clean).mean().item(), 2)
        def finite(v, digits):  # PSNR of an image returned exactly is infinite: no mean then
            return round(v, digits) if v is not None and abs(v) != float("inf") else None
        record.update(
            test_mse=scores["test_mse"], test_psnr=round(scores["test_psnr"], 2), test_ssim=round(scores["test_ssim"], 4),
            baseline_test_psnr=finite(scores["baseline_psnr"], 2),
            baseline_test_ssim=round(scores["baseline_ssim"], 4), wiener_test_psnr=wiener,
            trained_on=scores.get("degradation_detail", ""), params=sum(v.numel() for v in state.values()),
            command=args.command, trained_for=args.trained_for)
        (folder / "metrics.json").write_text(json.dumps(record, indent=1) + "\n")
        (folder / "README.md").write_text(card(args.name, record))
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(folder, dest)
        for f in dest.iterdir():
            f.chmod(0o644)  # safetensors writes 0600: readable by whoever installs the package
    print(f"{dest}: test PSNR {record['test_psnr']} dB (input {record['baseline_test_psnr']}, "
          f"Wiener told sigma {wiener})")
    return 0


def card(name: str, r: dict) -> str:
    wiener = "" if r["wiener_test_psnr"] is None else \
        f" | Wiener filter told sigma | {r['wiener_test_psnr']:.2f} | |\n"
    return f"""# pretrained:{name}

`{r['model']}` ({r['params']:,} parameters) trained on CIFAR-10 ({r['trained_on']}).

| CIFAR-10 test split (10,000 images, mean per-image PSNR, SSIM) | PSNR dB | SSIM |
| --- | --- | --- |
| this model | {r['test_psnr']:.2f} | {r['test_ssim']:.4f} |
| the degraded input, returned as is | {'infinite (some images come through unchanged)' if r['baseline_test_psnr'] is None else format(r['baseline_test_psnr'], '.2f')} | {r['baseline_test_ssim']:.4f} |
{wiener}
Trained with ({r['trained_for']}):

    {r['command']}

Overrides it was trained with: `{' '.join(r['overrides'])}`. Use it with no training:

    aebench restore pretrained:{name} photos/ --out restored/
    aebench evaluate pretrained:{name} data.root=DIR
    aebench export pretrained:{name}
"""


if __name__ == "__main__":
    from aebench.core.errors import ConfigError

    try:
        sys.exit(main())
    except ConfigError as err:  # bad input (a run, the data folder): one line, exit 2
        print(f"{Path(__file__).name}: error: {err}", file=sys.stderr)
        sys.exit(2)
