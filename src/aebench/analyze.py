"""After training: what the codes hold (PCA / t-SNE, a linear probe) and anomaly detection.

Chosen with `analysis=` (conf/analysis/): `none` (default), `latent` (latent_pca.png,
latent_tsne.png, linear probe), `anomaly` (train without one class, AUROC of reconstruction
error), `all`. Runs at the end of a training run (`aebench`) on the tested (best) checkpoint, or
later on any finished run: `aebench analyze RUN_DIR analysis=latent`.

Codes are `net.encode(degraded input)` for the images the model is scored on; a code that is a
sequence (T, H) or a feature map (C, H, W) is flattened row-major into one vector per item, and
`code_layout` in the results says which it was. Only scikit-learn, numpy and matplotlib here.
"""
from __future__ import annotations

import datetime
import logging
import math
from pathlib import Path

import numpy as np
import torch

from aebench.core.data.base import to_float

log = logging.getLogger("aebench")


@torch.no_grad()
def encode(net, x: torch.Tensor, degradation, split: str, batch: int = 512):
    """(codes (N, D) float32 numpy, layout) for items `x` as the model sees them."""
    device = next((p.device for p in net.parameters()), torch.device("cpu"))
    was_training = net.training
    net.eval()
    out, layout = [], None
    for i in range(0, len(x), batch):
        xb = to_float(x[i:i + batch].to(device))
        idx = torch.arange(i, i + len(xb))
        code = net.encode(degradation(xb, idx, split))
        if layout is None:
            shape = tuple(code.shape[1:])
            layout = {1: f"vector ({shape[0]})",
                      2: f"sequence {shape} (steps x features), flattened row-major to "
                         f"{math.prod(shape)}",
                      3: f"feature map {shape} (channels x height x width), flattened row-major "
                         f"to {math.prod(shape)}"}.get(len(shape), f"tensor {shape}, flattened")
        out.append(code.flatten(1).float().cpu())
    net.train(was_training)
    return torch.cat(out).numpy(), layout


def _scatter(points, labels, classes, title, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    if labels is None or (labels < 0).all():
        ax.scatter(points[:, 0], points[:, 1], s=4, alpha=0.6)
    else:
        for k in np.unique(labels):
            sel = labels == k
            name = classes[k] if 0 <= k < len(classes) else str(k)
            ax.scatter(points[sel, 0], points[sel, 1], s=4, alpha=0.6, label=name,
                       color=plt.cm.tab10(int(k) % 10))
        ax.legend(markerscale=3, fontsize=7, loc="best")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def latent_space(codes, labels, classes, out_dir: Path, seed: int, tsne_samples: int,
                 layout: str) -> dict:
    """latent_pca.png (all test codes) and latent_tsne.png (a seeded sample), coloured by class."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    pca = PCA(n_components=2, random_state=seed).fit(codes)
    var = pca.explained_variance_ratio_
    _scatter(pca.transform(codes), labels, classes,
             f"test codes, PCA ({var[0]:.0%} + {var[1]:.0%} of variance); code: {layout}",
             out_dir / "latent_pca.png")
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(codes), size=min(tsne_samples, len(codes)), replace=False))
    perplexity = float(min(30, max(2, (len(pick) - 1) // 3)))
    emb = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(
        codes[pick])
    _scatter(emb, None if labels is None else labels[pick], classes,
             f"test codes, t-SNE of {len(pick)} (seed {seed}, perplexity {perplexity:g})",
             out_dir / "latent_tsne.png")
    return {"latent_pca_variance": [round(float(v), 4) for v in var],
            "latent_tsne_samples": int(len(pick))}


def linear_probe(train_x, train_y, test_x, test_y, classes, seed: int, max_train: int,
                 max_iter: int = 1000):
    """Logistic regression (standardised inputs) fit on train, scored on test.

    Returns (accuracy, per-class report dict, confusion matrix, converged)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import classification_report, confusion_matrix
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(train_x) > max_train:
        pick = np.random.default_rng(seed).choice(len(train_x), size=max_train, replace=False)
        train_x, train_y = train_x[pick], train_y[pick]
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        clf.fit(train_x, train_y)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    pred = clf.predict(test_x)
    labels = sorted(int(k) for k in np.unique(np.concatenate([train_y, test_y])))
    names = [str(classes[k]) if k < len(classes) else str(k) for k in labels]
    report = classification_report(test_y, pred, labels=labels, target_names=names,
                                   output_dict=True, zero_division=0)
    return (float((pred == test_y).mean()), report,
            confusion_matrix(test_y, pred, labels=labels), converged)


def _confusion_png(cm, classes, title, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    ax.imshow(cm, cmap="Blues")
    n = len(cm)
    ax.set_xticks(range(n), [str(c) for c in classes][:n], rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(n), [str(c) for c in classes][:n], fontsize=7)
    for i in range(n):
        for j in range(n):
            ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=6,
                    color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def probe(net, datamodule, degradation, out_dir: Path, seed: int, max_train: int) -> dict:
    """Linear probe on the codes next to the same probe on the (degraded) pixels."""
    classes = tuple(getattr(datamodule, "classes", ()) or ())
    n = min(len(datamodule.train_x), max_train)
    pick = np.sort(np.random.default_rng(seed).choice(len(datamodule.train_x), n, replace=False))
    pick_t = torch.from_numpy(pick)
    tr_x, tr_y = datamodule.train_x[pick_t], datamodule.train_y[pick_t].cpu().numpy()
    te_x, te_y = datamodule.test_x, datamodule.test_y
    held_out = getattr(datamodule, "held_out", None)
    if held_out is not None:  # never seen in training: a probe could not name it
        te_x, te_y = te_x[te_y != held_out], te_y[te_y != held_out]
    te_y = te_y.cpu().numpy()
    codes_tr, _ = encode(net, tr_x, degradation, "val")
    codes_te, _ = encode(net, te_x, degradation, "test")
    acc, report, cm, ok = linear_probe(codes_tr, tr_y, codes_te, te_y, classes, seed, max_train)
    pix_tr = degradation(to_float(tr_x.cpu()), torch.arange(len(tr_x)), "val").flatten(1).numpy()
    pix_te = degradation(to_float(te_x.cpu()), torch.arange(len(te_x)), "test").flatten(1).numpy()
    acc_pix, _, _, ok_pix = linear_probe(pix_tr, tr_y, pix_te, te_y, classes, seed, max_train)
    chance = float(np.bincount(te_y).max() / len(te_y))
    seen = sorted(int(k) for k in np.unique(np.concatenate([tr_y, te_y])))
    _confusion_png(cm, [classes[k] if k < len(classes) else k for k in seen],
                   f"linear probe on codes: {acc:.1%} (pixels {acc_pix:.1%}, majority class "
                   f"{chance:.1%})", out_dir / "confusion_matrix.png")
    per_class = {k: {m: round(float(v[m]), 4) for m in ("precision", "recall", "f1-score")}
                 for k, v in report.items() if isinstance(v, dict) and k not in
                 ("macro avg", "weighted avg", "micro avg")}
    return {"probe_accuracy": round(acc, 4), "probe_accuracy_pixels": round(acc_pix, 4),
            "probe_majority_class": round(chance, 4), "probe_train_items": int(n),
            "probe_converged": ok, "probe_pixels_converged": ok_pix,
            "probe_test_items": int(len(te_y)), "probe_per_class": per_class}


@torch.no_grad()
def anomaly(net, datamodule, degradation, out_dir: Path, batch: int = 512) -> dict:
    """AUROC of per-item reconstruction error for the held-out class against all the others."""
    from sklearn.metrics import roc_auc_score

    k = getattr(datamodule, "held_out", None)
    if k is None:
        return {}
    device = next((p.device for p in net.parameters()), torch.device("cpu"))
    net.eval()
    scores = []
    x = datamodule.test_x
    for i in range(0, len(x), batch):
        xb = to_float(x[i:i + batch].to(device))
        out = net(degradation(xb, torch.arange(i, i + len(xb)), "test"))
        if datamodule.bounded:
            out = out.clamp(0, 1)
        scores.append(((out - xb) ** 2).flatten(1).mean(1).cpu())
    scores = torch.cat(scores).numpy()
    is_anomaly = (datamodule.test_y.cpu().numpy() == k)
    auroc = float(roc_auc_score(is_anomaly, scores))
    name = datamodule.classes[k] if getattr(datamodule, "classes", None) else str(k)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    bins = np.histogram_bin_edges(scores, bins=60)
    ax.hist(scores[~is_anomaly], bins=bins, alpha=0.6, density=True, label="seen classes")
    ax.hist(scores[is_anomaly], bins=bins, alpha=0.6, density=True,
            label=f"held-out class: {name}")
    ax.set_xlabel("reconstruction MSE per item")
    ax.set_ylabel("density")
    ax.set_title(f"anomaly score, test split: AUROC {auroc:.3f}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "anomaly_scores.png", dpi=110)
    plt.close(fig)
    return {"anomaly_holdout_class": name, "anomaly_auroc": round(auroc, 4),
            "anomaly_test_items": int(len(scores)), "anomaly_test_held_out": int(is_anomaly.sum()),
            "anomaly_mean_score_seen": float(scores[~is_anomaly].mean()),
            "anomaly_mean_score_held_out": float(scores[is_anomaly].mean())}


class Analysis:
    """What `analysis=` turns on (conf/analysis/): called after testing, on the tested weights."""

    def __init__(self, latent: bool = False, probe: bool = False, anomaly: bool = False,
                 holdout_class: int | str | None = None, tsne_samples: int = 2000,
                 probe_train_items: int = 5000):
        self.latent, self.probe, self.anomaly = bool(latent), bool(probe), bool(anomaly)
        self.holdout_class = holdout_class  # the data config reads it (data.holdout_class)
        self.tsne_samples, self.probe_train_items = int(tsne_samples), int(probe_train_items)

    def __call__(self, net, datamodule, degradation, out_dir: Path, seed: int) -> dict:
        """Flat results for metrics.json; figures into `out_dir`."""
        out_dir = Path(out_dir)
        results = {}
        labelled = bool(getattr(datamodule, "num_classes", 0)) and (datamodule.test_y >= 0).all()
        if self.latent:
            codes, layout = encode(net, datamodule.test_x, degradation, "test")
            results["code_layout"] = layout
            labels = datamodule.test_y.cpu().numpy() if labelled else None
            results.update(latent_space(codes, labels,
                                        tuple(getattr(datamodule, "classes", ()) or ()),
                                        out_dir, seed, self.tsne_samples, layout))
        if self.probe:
            if labelled:
                results.update(probe(net, datamodule, degradation, out_dir, seed,
                                     self.probe_train_items))
            else:
                log.warning("analysis: no linear probe, %s has no class labels", datamodule.name)
        if self.anomaly:
            results.update(anomaly(net, datamodule, degradation, out_dir))
        return results


# -- the command: aebench analyze RUN_DIR [overrides] ---------------------
# Rebuilds the run's data, degradation and model from its own overrides (RUN_DIR/.hydra/
# overrides.yaml, plus the ones given here), loads the tested checkpoint (metrics.json's
# `best_checkpoint`, else checkpoints/last.ckpt) with `torch.load(weights_only=True)`, and writes
# `analysis.json` and the figures into a new folder RUN_DIR/analysis-<time>/: nothing of the run
# is overwritten. Anomaly detection on a model that saw the held-out class in training is allowed
# but flagged (`anomaly_class_seen_in_training: true`): its AUROC then means little.
def command(args) -> int:
    """`aebench analyze RUN_DIR [OVERRIDES]`."""
    analyze_run(Path(args.run_dir), list(args.overrides))
    return 0


def parser():
    """`aebench analyze`'s arguments (aebench.core.errors.Parser: one-line errors, examples)."""
    from aebench.core.errors import Parser

    p = Parser("analyze", "Analyse a finished run from its checkpoint: its codes (PCA, t-SNE, "
               "a linear probe: analysis=latent, the default) or anomaly detection "
               "(analysis=anomaly), into RUN_DIR/analysis-<time>/.",
               ["aebench analyze outputs/2026-11-23/10-00-00-123456",
                "aebench analyze RUN_DIR analysis=all analysis.holdout_class=cat"])
    p.add_argument("run_dir", metavar="RUN_DIR", help="a finished run or sweep trial folder")
    p.add_argument("overrides", metavar="KEY=VALUE", nargs="*", default=[],
                   help="config overrides on top of the run's own (analysis=, analysis.*)")
    return p


def main(argv: list[str] | None = None) -> None:
    """`aebench analyze ARGS` and `python -m aebench.analyze ARGS` (the same code path)."""
    from aebench.core.errors import run_command

    run_command(parser(), command, argv)


def analyze_run(run_dir: Path, extra: list[str]) -> dict:
    """Analyse the run in `run_dir` with `extra` overrides into RUN_DIR/analysis-<time>/."""
    from aebench.running.outputs import write_json
    from aebench.running.trained import load_weights, read_run
    from aebench.core.config import build, build_parts
    from aebench.core.metrics import compression

    run = read_run(run_dir)
    # the analysis: the one asked for here, else the run's own, else analysis=latent
    chosen = any(o.startswith("analysis=") for o in extra)
    own = next((o.split("=", 1)[1] for o in run.overrides if o.startswith("analysis=")), "none")
    drop = ("analysis",) if chosen or own == "none" else ()
    if drop and not chosen:
        extra = ["analysis=latent", *extra]
    trained = run.compose()
    out = run.run_dir / f"analysis-{datetime.datetime.now():%Y-%m-%d_%H-%M-%S-%f}"
    composed = run.compose(extra, output_dir=out, drop=drop)
    cfg = composed.cfg
    out.mkdir()
    datamodule, degradation, net, module = build_parts(cfg)
    load_weights(module, run.checkpoint)
    results = build(cfg.analysis)(net, datamodule, degradation, out, cfg.seed)
    if cfg.analysis.get("anomaly"):
        results["anomaly_class_seen_in_training"] = trained.cfg.data.get("holdout_class") is None
    params = sum(p.numel() for p in net.parameters())
    results.update(compression(datamodule.item_shape, net.code_size, params),
                   run_dir=str(run.run_dir), checkpoint=str(run.checkpoint),
                   overrides=composed.overrides)
    write_json(results, out / "analysis.json")
    for key, value in results.items():
        if isinstance(value, (int, float, str)) and key not in ("run_dir", "checkpoint"):
            print(f"{key}: {value}")
    print(f"analysis written to {out}")
    return results


if __name__ == "__main__":
    main()
