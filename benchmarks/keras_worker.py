"""The Keras side of benchmarks/keras_compare.py: run by .venv-keras's python, driven over stdin.

    .venv-keras/bin/python benchmarks/keras_worker.py DATA.npz THREADS   (make keras-venv)

Reads one JSON request per line on stdin and answers one JSON line on stdout (everything else
TensorFlow prints goes to stderr). DATA.npz is written by keras_compare.py: `time_in`/`time_x`
(the timed batches, blurred input and clean target, (N, 32, 32, 3) uint8, in the order the
PyTorch side uses them) and, for --epochs, `train_in`/`train_x`/`test_in`/`test_x`. The blurred
inputs come from aebench's own degradation (blur sigma 1.0 + 8-bit rounding), so both sides see
the same pixels.

Requests:
  {"op": "build", "model": M, "batch": B}   compile M, run a few steps (trace); -> params, jit
  {"op": "time", "model": M, "batch": B, "steps": S}   -> seconds per step of S steps after 3
  {"op": "train", "model": M, "batch": B, "epochs": E, "seed": K}
        a fresh M trained E epochs on train_* (shuffled), -> test PSNR (mean per image), seconds
  {"op": "quit"}
"""
from __future__ import annotations

import json
import os
import sys
import time

# Keras 3 on TensorFlow, CPU only, quiet; thread counts are set before TensorFlow starts
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["CUDA_VISIBLE_DEVICES"] = ""

MODELS = ("lstm_seq", "lstm", "rnn", "cnn_small")


def build(name: str):
    """The Keras notebooks' models: the CNN ends in a sigmoid, the recurrent ones in a linear
    Dense (as the notebooks, and aebench's presets of them)."""
    import keras
    from keras import layers

    if name == "cnn_small":
        model = keras.Sequential([
            keras.Input((32, 32, 3)),
            layers.Conv2D(32, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(2),
            layers.Conv2D(32, 3, activation="relu", padding="same"),
            layers.UpSampling2D(2),
            layers.Conv2D(3, 3, activation="sigmoid", padding="same"),
        ])
    elif name == "lstm_seq":
        model = keras.Sequential([
            keras.Input((32, 96)),
            layers.LSTM(128, return_sequences=True),
            layers.LSTM(64, return_sequences=True),
            layers.Dense(96),
        ])
    elif name in ("lstm", "rnn"):
        cell = layers.LSTM if name == "lstm" else layers.SimpleRNN
        model = keras.Sequential([
            keras.Input((32, 96)),
            cell(128),
            layers.RepeatVector(32),
            cell(128, return_sequences=True),
            layers.Dense(96),
        ])
    else:
        raise ValueError(f"no Keras model {name!r}; one of {', '.join(MODELS)}")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    return model


def as_input(name: str, images):
    """uint8 (N, 32, 32, 3) -> float32 in [0, 1]: images for the CNN, 32 rows of 96 for RNNs."""
    import numpy as np

    x = images.astype(np.float32) / 255.0
    return x if name == "cnn_small" else x.reshape(len(x), 32, 96)


def psnr(model, name: str, inputs, targets, batch: int = 500) -> float:
    """Mean per-image PSNR (data range 1, outputs clipped to [0, 1]), as aebench scores it."""
    import numpy as np

    out = model.predict(as_input(name, inputs), batch_size=batch, verbose=0)
    out = np.clip(out.reshape(len(out), -1).astype(np.float64), 0.0, 1.0)
    ref = targets.reshape(len(targets), -1).astype(np.float64) / 255.0
    mse = ((out - ref) ** 2).mean(axis=1)
    return float((10 * np.log10(1.0 / mse)).mean())


def main() -> None:
    path, threads = sys.argv[1], int(sys.argv[2])
    out = sys.stdout
    sys.stdout = sys.stderr  # only answers go to the real stdout
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    import keras

    data = np.load(path)
    models: dict = {}

    class Clock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.t = []

        def on_train_batch_begin(self, batch, logs=None):
            if batch == 3:
                self.t.append(time.perf_counter())

        def on_train_end(self, logs=None):
            self.t.append(time.perf_counter())

    def answer(obj) -> None:
        out.write(json.dumps(obj) + "\n")
        out.flush()

    answer({"tf": tf.__version__, "keras": keras.__version__, "threads": threads,
            "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default")})
    for line in sys.stdin:
        req = json.loads(line)
        op = req["op"]
        try:
            if op == "quit":
                break
            name, bs = req["model"], int(req["batch"])
            if op == "build":
                keras.utils.set_random_seed(0)
                model = models[(name, bs)] = build(name)
                x, y = as_input(name, data["time_in"][:4 * bs]), as_input(name, data["time_x"][:4 * bs])
                t = time.perf_counter()
                model.fit(x, y, batch_size=bs, epochs=1, shuffle=False, verbose=0)  # traces
                answer({"params": int(model.count_params()), "warm_s": time.perf_counter() - t,
                        "jit_compile": bool(model.jit_compile)})
            elif op == "time":
                model, steps = models[(name, bs)], int(req["steps"])
                n = (steps + 3) * bs
                x, y = as_input(name, data["time_in"][:n]), as_input(name, data["time_x"][:n])
                clock = Clock()
                model.fit(x, y, batch_size=bs, epochs=1, shuffle=False, verbose=0,
                          callbacks=[clock])
                answer({"s_per_step": (clock.t[1] - clock.t[0]) / steps})
            elif op == "train":
                keras.utils.set_random_seed(int(req.get("seed", 0)))
                model = build(name)
                t = time.perf_counter()
                # the model's own preset split (lstm_seq: 40,000 of 50,000), else the shared one
                train_in = data[f"train_in_{name}"] if f"train_in_{name}" in data else data["train_in"]
                train_x = data[f"train_x_{name}"] if f"train_x_{name}" in data else data["train_x"]
                hist = model.fit(as_input(name, train_in), as_input(name, train_x),
                                 batch_size=bs, epochs=int(req["epochs"]), shuffle=True, verbose=0)
                seconds = time.perf_counter() - t
                answer({"psnr": psnr(model, name, data["test_in"], data["test_x"]),
                        "seconds": seconds, "loss": float(hist.history["loss"][-1])})
            else:
                answer({"error": f"unknown op {op!r}"})
        except Exception as err:  # the driver prints it in the model's row
            answer({"error": f"{type(err).__name__}: {err}"})


if __name__ == "__main__":
    main()
