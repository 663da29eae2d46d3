"""Trusted training results, content-addressed: a network the grader trains itself is never trained twice.

When a student's network maps onto the reference network (grader.evidence.training), the grader trains the
reference network from the student's starting tensors with its own engine. That run is a pure function of
the starting network (its class, its BatchNorm placement and every tensor of its state, byte for byte), the
protocol, the seed, the data (training set, test images and labels), the grader's code that trains and
evaluates it, torch's version, the thread count and the device. Students of one class who build their
networks in the handout's order with a common initialiser start from identical bytes, so the key of a run
is a SHA-256 of all of those, and its result (accuracy before and after every epoch, the loss curve, the
first conv's filters) is stored under the key in a folder only the grading process writes:

- only runs the grader trained itself are stored (`TrainingCache.run` is called by `_train_here` alone);
  nothing a child returns reaches this module, and children never see the folder (it is hidden from the
  sandbox, and the cache is off where no bubblewrap sandbox keeps the student's code off the file system);
- a lock file per key (fcntl) lets one process train a key while the others (batch workers, Dask workers on
  one machine) wait for its result instead of training it again;
- an entry is written to a temporary name and renamed, so a reader sees a whole entry or none.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import tempfile
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from grader.engine import Protocol, default_device

FORMAT = 1  # of a stored entry; bump when what an entry holds changes
MAX_ENTRY_BYTES = 16 << 20  # an entry larger than this is not one this grader wrote
# The grader's code a cached run depends on: how it trains, evaluates and perturbs, and the networks
_SOURCES = ("grader/engine.py", "grader/evidence/training.py", "grader/evidence/cache.py", "grader/data.py",
            "grader/reference/networks.py", "solutions/cnn.py")


@dataclass(frozen=True)
class CachedRun:
    """What a trusted training run measured, as stored (every float exactly as computed)."""

    initial_accuracy: float  # before training, 0..1
    steps: list[int]
    losses: list[float]
    epoch_accuracy: list[float]  # after each epoch, 0..1
    images_per_s: float
    seconds: float  # wall time of the original training
    error: str  # "" or why the run failed (the loss diverged)
    first_conv: np.ndarray | None  # (C, 3, k, k) final weights of the first conv


@lru_cache(maxsize=1)
def code_digest() -> str:
    """SHA-256 of the grader's sources a trained run depends on (computed once per process)."""
    root = Path(__file__).resolve().parents[2]
    h = hashlib.sha256()
    for rel in _SOURCES:
        path = root / rel
        h.update(rel.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"(absent)") + b"\0")
    return h.hexdigest()


def _array_digest(h: "hashlib._Hash", name: str, a: np.ndarray) -> None:
    a = np.ascontiguousarray(a)
    h.update(f"{name}:{a.dtype.str}:{a.shape}\0".encode())
    h.update(memoryview(a).cast("B"))


def data_digest(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray) -> str:
    """SHA-256 of the training set and the (perturbed) test images and labels a run is evaluated on."""
    h = hashlib.sha256()
    for name, a in (("train_x", train_x), ("train_y", train_y), ("test_x", test_x), ("test_y", test_y)):
        _array_digest(h, name, a)
    return h.hexdigest()


def run_key(model: torch.nn.Module, protocol: Protocol, seed: int, threads: int, data: str) -> str:
    """The content address of training `model` (the reference network holding a student's starting tensors)."""
    h = hashlib.sha256()
    device = default_device()
    context = {"format": FORMAT, "code": code_digest(), "torch": torch.__version__, "numpy": np.__version__,
               "machine": platform.machine(), "device": str(device),
               "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "",
               "threads": threads, "protocol": protocol.__dict__, "seed": seed, "data": data,
               "network": f"{type(model).__module__}.{type(model).__qualname__}", "layers": repr(model),
               "orders": repr(getattr(model, "orders", None))}
    h.update(json.dumps(context, sort_keys=True).encode() + b"\0")
    for name, t in model.state_dict().items():  # parameters and buffers (BatchNorm's running statistics)
        _array_digest(h, name, t.detach().cpu().contiguous().numpy())
    return h.hexdigest()


class TrainingCache:
    """A folder of trusted training results, shared by the processes of one machine."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def _entry(self, key: str) -> Path:
        return self.folder / f"{key}.npz"

    def run(self, key: str, train: Callable[[], CachedRun]) -> tuple[CachedRun, bool]:
        """(the run under `key`, True when it was reused): read it, or train it under the key's lock, so that
        two processes never train the same key at once."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / f"{key}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this process dies
            try:
                found = self.read(key)
                if found is not None:
                    return found, True
                result = train()
                self.write(key, result)
                return result, False
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def read(self, key: str) -> CachedRun | None:
        """The entry under `key`, or None (absent, unreadable or not of this format: then it is trained again)."""
        path = self._entry(key)
        try:
            if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_ENTRY_BYTES:
                return None
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(z["meta"].tobytes().decode("utf-8"))
                first_conv = z["first_conv"].copy() if "first_conv" in z.files else None
            if meta.pop("format") != FORMAT or meta.pop("key") != key:
                return None
            return CachedRun(initial_accuracy=float(meta["initial_accuracy"]), steps=[int(s) for s in meta["steps"]],
                             losses=[float(x) for x in meta["losses"]],
                             epoch_accuracy=[float(a) for a in meta["epoch_accuracy"]],
                             images_per_s=float(meta["images_per_s"]), seconds=float(meta["seconds"]),
                             error=str(meta["error"]), first_conv=first_conv)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, zipfile.BadZipFile):
            return None

    def write(self, key: str, run: CachedRun) -> None:
        meta = {"format": FORMAT, "key": key, "initial_accuracy": run.initial_accuracy, "steps": run.steps,
                "losses": run.losses, "epoch_accuracy": run.epoch_accuracy, "images_per_s": run.images_per_s,
                "seconds": run.seconds, "error": run.error}
        # json writes a float as the shortest text that reads back to the same double: the reuse is exact
        arrays = {"meta": np.frombuffer(json.dumps(meta, allow_nan=True).encode("utf-8"), dtype=np.uint8)}
        if run.first_conv is not None:
            arrays["first_conv"] = np.ascontiguousarray(run.first_conv)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{key[:16]}.", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, self._entry(key))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
