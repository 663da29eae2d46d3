"""The exchange between the grading process and a sandboxed child, written once for both sides.

A child gets `in/request.json` (a `Request`) and `.npy` input arrays, and answers with `out/result.json`
and `.npy` output arrays. Tasks, variants, request fields and every array name are defined here; neither
side builds a task id or an array name by hand. This module is one of the child's allowed modules
(`grader.sandbox.bwrap.CHILD_MODULES`): it imports nothing but the standard library.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

# ----- contract -------------------------------------------------------------------------------------------
CONTRACT = ("Net", "init_weights", "NetBN", "loss_fn", "bptt_gradients", "Adam", "RMSProp", "augment")
BPTT_KEYS = ("W_xh", "W_hh", "b_h", "W_hz", "b_z")  # the parameters of Problem 1's RNN, in the handout's order
NETWORKS = ("Net", "NetBN")
OPTIMIZERS = ("Adam", "RMSProp")
# Other spellings of a contract name that a submission may use instead (torch spells it RMSprop).
ALIASES = {"RMSProp": ("RMSprop", "RmsProp", "Rmsprop")}


def canonical(name: str) -> str:
    """The contract's spelling of `name` (itself, or the name it is an alias of)."""
    return next((c for c, spellings in ALIASES.items() if name in spellings), name)


@dataclass(frozen=True)
class Variant:
    """One graded training run: which network class, and whether the student's init_weights runs first."""

    name: str  # "net", "kaiming", "bn"
    network: str  # contract class name
    init: bool  # call init_weights after building
    label: str  # in the report's curves
    accuracy_label: str  # in the report's accuracy table


VARIANTS = {v.name: v for v in (
    Variant("net", "Net", False, "Net (5.1.3)", "baseline Net"),
    Variant("kaiming", "Net", True, "Net + init_weights (5.2.2)", "Kaiming (He) init"),
    Variant("bn", "NetBN", False, "NetBN (5.3.2)", "BatchNorm"),
)}


# ----- tasks ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, order=True)
class Task:
    """One observation a child makes. `key` is its name in JSON (request and result); `Task.parse` reads it
    back, and is the only place a key is taken apart."""

    kind: str
    arg: str = ""

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.arg}" if self.arg else self.kind

    @property
    def phase(self) -> str:
        return PHASE_OF[self.kind]

    @classmethod
    def parse(cls, key: str) -> Task:
        kind, _, arg = str(key).partition(":")
        if kind not in PHASE_OF:
            raise ValueError(f"unknown task {key!r}")
        return cls(kind, arg)


# kind -> the phase (one child process) that runs it. "slice" reads a notebook and chooses the statements
# to run (grader.sandbox.slicing, which never runs student code); probe tasks are quick and independent of
# the data; "start" builds the starting networks of the graded runs, in the same child as the probes (one
# interpreter, torch import and submission import fewer per grade); "train"/"predict" run the student's own
# training (only for networks the grader cannot train itself).
PHASE_OF = {"slice": "slice", "names": "probe", "arch": "probe", "loss": "probe", "pipeline": "probe", "init": "probe",
            "bptt": "probe", "optimizer": "probe", "augment": "probe", "start": "probe", "train": "train",
            "predict": "predict"}
# The module a phase's child runs (`python -m MODULE PHASE BASE`): the slice phase needs no torch.
PHASE_MODULE = {"slice": "grader.sandbox.slicing"}
CHILD_MODULE = "grader.sandbox.child"

SLICE = Task("slice")
NAMES = Task("names")
LOSS = Task("loss")
PIPELINE = Task("pipeline")  # loss_fn(Net()(x), y): the student's own pipeline, for 5.1.2
INIT = Task("init")
BPTT = Task("bptt")
AUGMENT = Task("augment")


def contract_names(task: Task) -> tuple[str, ...]:
    """The contract names whose code a task runs (the item feedback says where a notebook defines them)."""
    if task.kind in ("arch", "optimizer"):
        return (task.arg,)
    if task.kind in ("start", "train", "predict"):
        v = VARIANTS[task.arg]
        return (v.network, "init_weights") if v.init else (v.network,)
    return {"loss": ("loss_fn",), "pipeline": ("loss_fn", "Net"), "init": ("init_weights", "Net"), "bptt": ("bptt_gradients",),
            "augment": ("augment",)}.get(task.kind, ())


def arch(network: str) -> Task:
    return Task("arch", network)


def optimizer(name: str) -> Task:
    return Task("optimizer", name)


def start(variant: str) -> Task:
    return Task("start", variant)


def train(variant: str) -> Task:
    return Task("train", variant)


def predict(variant: str) -> Task:
    return Task("predict", variant)


# ----- the request ----------------------------------------------------------------------------------------
@dataclass
class Request:
    """in/request.json. Fields a phase does not use keep their defaults."""

    tasks: list[str] = field(default_factory=list)  # Task.key of each task, in order
    entry: str = ""  # the file to import, inside submission/
    threads: int = 2  # torch threads
    task_timeout_s: float = 120.0  # seconds per task at full speed: the child's own alarm allows this times `threads` of CPU time
    seed: int = 0  # start and train phases: the run's seed
    fresh_seeds: list[int] = field(default_factory=list)  # start phase: construction seeds of further starting networks
    protocol: dict = field(default_factory=dict)  # train phase: grader.engine.Protocol's fields
    epochs: int = 0  # predict phase: epochs whose weights to evaluate
    bptt_instances: int = 0  # probe: random RNNs given as inputs
    init_draws: int = 0  # probe: fresh networks initialised by init_weights
    optimizer_steps: int = 0  # probe: steps of each optimiser trajectory
    optimizer_settings: dict = field(default_factory=dict)  # probe: optimiser name -> list of kwargs dicts

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Request:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


# ----- array names ----------------------------------------------------------------------------------------
# Inputs (in/)
ARCH_X1 = "arch_x1"  # (8, 3, 32, 32) float32: a train-mode pass
ARCH_X2 = "arch_x2"  # (8, 3, 32, 32) float32: eval-mode passes
LOSS_LOGITS = "loss_logits"  # (R, N, 10) float32
LOSS_TARGETS = "loss_targets"  # (R, N) int64
PIPELINE_TARGETS = "pipeline_targets"  # (8,) int64: classes of ARCH_X2 for loss_fn(Net()(x), y)
OPT_X, OPT_Y, OPT_W0 = "opt_X", "opt_Y", "opt_W0"  # float64 least-squares problem (N, D), (N, K), (K, D)
AUG_IMAGES = "aug_images"  # (N, 3, 32, 32) float32 in [-1, 1]
GRAD_X = "grad_x"  # (B, N, 3, 32, 32) float32: B batches whose loss gradients the networks report (train mode)
GRAD_Y = "grad_y"  # (B, N) int64: their random class targets
TRAIN_X, TRAIN_Y, TEST_X = "train_x", "train_y", "test_x"  # uint8 images, int64 labels (no test labels, ever)
BPTT_INPUTS = ("xs", "ys", "h0")


def bptt_input(instance: int, key: str) -> str:
    """A parameter (BPTT_KEYS) or input (BPTT_INPUTS) of one random RNN."""
    return f"bptt{instance}_{key}"


# Outputs (out/)
LOSS_VALUES = "loss_values"  # (R,) float64
PIPELINE_OUTPUT = "pipeline_output"  # (8, 10) float32: Net()(ARCH_X2) in eval mode, as loss_fn received it
PIPELINE_LOSS = "pipeline_loss"  # (1,) float64: loss_fn(Net()(ARCH_X2), PIPELINE_TARGETS)
START_PASSES = (("eval", ARCH_X2), ("train", ARCH_X1), ("eval_after", ARCH_X2))  # (pass, input), in order


def network_output(network: str, mode: str) -> str:
    """Logits of the probe's `network` in "eval" or "train" mode."""
    return f"{network}_y_{mode}"


def state_tensor(owner: str, index: int) -> str:
    """The index-th tensor (parameter or buffer) of a network a child exported; `owner` is the network's
    class name (probe) or the variant (start phase)."""
    return f"{owner}_t{index}"


def state_gradient(owner: str, index: int) -> str:
    """(B, *shape) float32: the gradient, on each GRAD_X batch, of the cross-entropy loss with respect to
    tensor `index` of P.state_tensor(owner, index)."""
    return f"{owner}_g{index}"


def start_output(variant: str, pass_name: str) -> str:
    return f"{variant}_y_{pass_name}"


def start_weight(variant: str, layer: int, draw: int) -> str:
    """The weight of the layer-th conv/linear layer (forward order) of the starting network built with
    construction seed `draw` (0: the run's seed, then Request.fresh_seeds in order)."""
    return f"{variant}_w{layer}_d{draw}"


def start_bias(variant: str, layer: int, draw: int) -> str:
    return f"{variant}_b{layer}_d{draw}"


def init_weight(layer: int, draw: int) -> str:
    return f"init_w{layer}_d{draw}"


def init_bias(layer: int, draw: int) -> str:
    return f"init_b{layer}_d{draw}"


def bptt_gradient(instance: int, key: str) -> str:
    return f"bptt{instance}_grad_{key}"


def optimizer_trajectory(name: str, setting: int) -> str:
    """(steps, K*D + K) float64: the parameters after each step."""
    return f"opt_{name}_{setting}"


def augmented(call: str) -> str:
    """augment's output for call "a" (seed 7), "b" (seed 7 again) or "c" (seed 8)."""
    return f"aug_{call}"


def predictions(variant: str, epoch: int) -> str:
    return f"pred_{variant}_e{epoch}"


def epoch_state(variant: str, epoch: int) -> str:
    """A file, not an array: the weights (torch.save) of a run the student's code trained, after `epoch`; the
    train phase writes it to out/, the grader carries it into the predict phase's work/."""
    return f"{variant}_e{epoch}.pt"


# ----- the child's stdout ---------------------------------------------------------------------------------
# Written by the grader's child code to its stdout just before the submission is imported (followed by the
# child's sandbox marker): its absence tells the parent that no student code ever ran, so a child that died
# or hit a limit before it is the grader's failure, not the student's.
LOADING_LINE = "hw2-grade child: importing the submission"
MARKER_VAR = "HW2_GRADE_SANDBOX"  # in the environment of every child: "<grader pid>-<run id>"
