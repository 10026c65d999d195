"""Read an offline W&B run file (`run-*.wandb`) record by record (wandb ships no reader).

The file is a LevelDB-style log: a 7-byte header (":W&B", 2-byte magic, 1-byte version), then
32 KiB blocks of chunks (crc32 u32, length u16, type u8: 1 full, 2 first, 3 middle, 4 last;
fewer than 7 bytes left in a block is padding). Each joined record is a
`wandb.proto.wandb_internal_pb2.Record`.
"""
from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

BLOCK = 32 * 1024
HEADER = 7


def raw_records(path: Path) -> list[bytes]:
    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    out, pending, pos = [], b"", HEADER
    while pos < len(data):
        left = BLOCK - pos % BLOCK
        if left < 7:  # block padding
            pos += left
            continue
        crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        chunk = data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind == 0 and length == 0:
            continue
        # the crc (zlib's CRC-32) covers the type byte and the payload (LevelDB's layout; checked on
        # the offline runs of wandb 0.31: every chunk matches)
        assert zlib.crc32(bytes([kind]) + chunk) == crc, (
            f"{path}: chunk at byte {pos - 7 - length} fails its CRC (a torn or foreign file)")
        if kind == 1:
            out.append(chunk)
        elif kind == 2:
            pending = chunk
        elif kind == 3:
            pending += chunk
        elif kind == 4:
            out.append(pending + chunk)
            pending = b""
    return out


def records(path: Path):
    from wandb.proto import wandb_internal_pb2

    for raw in raw_records(path):
        rec = wandb_internal_pb2.Record()
        rec.ParseFromString(raw)
        yield rec


def _key(item) -> str:
    return "/".join(item.nested_key) if item.nested_key else item.key


class OfflineRun:
    """What a user would see of one offline run: config, history rows, summary, artifacts."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.run = None
        self.config: dict = {}
        self.history: list[dict] = []
        self.summary: dict = {}
        self.artifacts: list = []
        self.metrics: dict = {}  # define_metric records by name
        for rec in records(self.path):
            kind = rec.WhichOneof("record_type")
            if kind == "run":
                self.run = rec.run
                for item in rec.run.config.update:
                    self.config[_key(item)] = json.loads(item.value_json)
            elif kind == "config":
                for item in rec.config.update:
                    self.config[_key(item)] = json.loads(item.value_json)
            elif kind == "history":
                self.history.append({_key(i): json.loads(i.value_json) for i in rec.history.item})
            elif kind == "summary":
                for item in rec.summary.update:
                    self.summary[_key(item)] = json.loads(item.value_json)
            elif kind == "artifact":
                self.artifacts.append(rec.artifact)
            elif kind == "metric":
                self.metrics[rec.metric.name or rec.metric.glob_name] = rec.metric

    def value(self, key: str):
        """config[key] without W&B's {"value": ...} wrapper."""
        v = self.config[key]
        return v["value"] if isinstance(v, dict) and set(v) <= {"value", "desc"} else v


def offline_runs(root: Path, timeout: float = 30.0) -> list[OfflineRun]:
    """Every offline run below `root`, oldest first. wandb's writer (its own process) may still
    be appending when `finish()` has returned: each file is read again until it holds the run's
    `exit` record and has stopped growing."""
    import time

    files = sorted(Path(root).rglob("offline-run-*/run-*.wandb"),
                   key=lambda p: p.parent.name)
    runs = []
    for f in files:
        deadline = time.monotonic() + timeout
        while True:
            size = f.stat().st_size
            done = any(r.WhichOneof("record_type") == "exit" for r in records(f))
            time.sleep(0.2)
            if (done and f.stat().st_size == size) or time.monotonic() > deadline:
                break
        runs.append(OfflineRun(f))
    return runs
