"""`hw2-grade bench`: training and evaluation throughput of the grading engine against the course's
starter-style pipeline and the synthetic compute bound, measured in one run on one machine, plus the wall
time of a full grade of the reference split by phase, and peak memory.

(1) starter: torchvision DataLoader over the dataset as PIL images with ToTensor/Normalize, batch 4 and 64;
(2) engine: `grader.engine.train` on in-memory uint8 tensors (batches are index slices of a permutation);
(3) bound: the same model and optimiser on ONE batch reused, no data movement at all, in eager PyTorch's
default NCHW layout (the engine trains this network channels-last: see the options below).
All three train the handout's network with SGD at the protocol's batch size, for the same wall budget.
Then the options beyond eager PyTorch, each on the synthetic batch against the same bound: channels_last
memory format, `torch.compile` (its compile time apart), and k networks trained as one (torch.func.vmap
over stacked parameters: what training the graded variants or calibration seeds together would give),
counted as images/s summed over the k networks.
"""
from __future__ import annotations

import os
import platform
import resource
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from grader.engine import Protocol, default_device, fast_layout_ok, predict, to_inputs, train
from grader.messages import ArgumentParser, fail


@dataclass(frozen=True)
class BenchConfig:
    seconds: float = 10.0  # wall budget per throughput measurement (s)
    warmup_steps: int = 5  # steps before timing starts
    grade: bool = True  # also time a full hw2-grade of the reference
    options: bool = True  # also measure channels_last, torch.compile and networks batched with vmap
    data: str | None = None
    class_size: int = 0  # students of the synthetic class graded end to end (grader.tools.throughput); 0: none
    quiet_load: float = 0.5  # 1-minute load average below which the machine counts as quiet at the start


def _model():
    from solutions.cnn import Net

    return Net()


def _timed_steps(step, batch: int, seconds: float, warmup: int) -> float:
    for _ in range(warmup):
        step()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        n += batch
    return n / (time.perf_counter() - start)


def starter_throughput(dataset, batch: int, seconds: float, warmup: int) -> float:
    """The starter code's pipeline: per-image PIL -> ToTensor -> Normalize in a DataLoader."""
    from PIL import Image
    from torch.utils.data import DataLoader, Dataset
    from torchvision import transforms

    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])

    class Pil(Dataset):
        def __len__(self):
            return len(dataset.train_y)

        def __getitem__(self, i):
            return tf(Image.fromarray(dataset.train_x[i].transpose(1, 2, 0))), int(dataset.train_y[i])

    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9, weight_decay=5e-4)
    loader = DataLoader(Pil(), batch_size=batch, shuffle=True, num_workers=0)

    def epochs():  # as many epochs as the time budget takes (a fast machine finishes one in under 10 s)
        while True:
            yield from loader
    batches = epochs()

    def step():
        x, y = next(batches)
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    return _timed_steps(step, batch, seconds, warmup)


def engine_throughput(dataset, protocol: Protocol, seconds: float) -> float:
    x, y = torch.from_numpy(dataset.train_x), torch.from_numpy(dataset.train_y)
    images = max(protocol.batch_size * 20, int(seconds * 20_000))  # enough images to fill the budget on a fast machine
    p = replace(protocol, epochs=1, train_images=min(images, len(y)))
    model = _model()
    layout = fast_layout_ok(model)  # as graded and calibrated runs of this network train
    train(model, x, y, replace(p, train_images=protocol.batch_size * 5), seed=0, channels_last=layout)  # warm-up
    return train(model, x, y, p, seed=0, channels_last=layout).images_per_s


def _synthetic_batch(protocol: Protocol) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    x = to_inputs(torch.randint(0, 256, (protocol.batch_size, 3, 32, 32), dtype=torch.uint8, generator=gen))
    return x, torch.randint(0, 10, (protocol.batch_size,), generator=gen)  # (B, 3, 32, 32), (B,)


def _sgd_step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, protocol: Protocol, forward=None):
    """One step of the protocol's SGD on the fixed batch (x, y), through `forward` (default: the model)."""
    opt = torch.optim.SGD(model.parameters(), lr=protocol.lr, momentum=protocol.momentum, weight_decay=protocol.weight_decay)
    forward = model if forward is None else forward

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(forward(x), y).backward()
        opt.step()

    return step


def bound_throughput(protocol: Protocol, seconds: float, warmup: int) -> float:
    x, y = _synthetic_batch(protocol)
    return _timed_steps(_sgd_step(_model(), x, y, protocol), protocol.batch_size, seconds, warmup)


def channels_last_throughput(protocol: Protocol, seconds: float, warmup: int) -> float:
    x, y = _synthetic_batch(protocol)
    model = _model().to(memory_format=torch.channels_last)
    step = _sgd_step(model, x.contiguous(memory_format=torch.channels_last), y, protocol)
    return _timed_steps(step, protocol.batch_size, seconds, warmup)


def compiled_throughput(protocol: Protocol, seconds: float, warmup: int) -> tuple[float, float]:
    """(images/s once compiled, seconds the first step took to compile)."""
    x, y = _synthetic_batch(protocol)
    model = _model()
    step = _sgd_step(model, x, y, protocol, forward=torch.compile(model))
    start = time.perf_counter()
    step()
    return _timed_steps(step, protocol.batch_size, seconds, warmup), time.perf_counter() - start


def batched_models_throughput(k: int, protocol: Protocol, seconds: float, warmup: int) -> float:
    """k networks trained as one: parameters stacked (k, ...), forward vmapped over them with the batch
    shared, one SGD over the stacks (elementwise, so equal to k separate optimisers); images/s summed."""
    import copy

    from torch.func import functional_call, stack_module_state, vmap

    models = [_model() for _ in range(k)]
    params, buffers = stack_module_state(models)
    skeleton = copy.deepcopy(models[0]).to("meta")
    opt = torch.optim.SGD(list(params.values()), lr=protocol.lr, momentum=protocol.momentum, weight_decay=protocol.weight_decay)
    forward = vmap(lambda p, b, x: functional_call(skeleton, (p, b), (x,)), in_dims=(0, 0, None))
    x, y = _synthetic_batch(protocol)

    def step():
        opt.zero_grad(set_to_none=True)
        logits = forward(params, buffers, x)  # (k, B, 10)
        # the sum of the k mean losses: each network's gradient is that of its own loss
        F.cross_entropy(logits.flatten(0, 1), y.repeat(k), reduction="sum").div(protocol.batch_size).backward()
        opt.step()

    return _timed_steps(step, k * protocol.batch_size, seconds, warmup)


def option_rows(protocol: Protocol, seconds: float, warmup: int) -> dict[str, float]:
    compiled, compile_s = compiled_throughput(protocol, seconds, warmup)
    return {
        "channels_last": channels_last_throughput(protocol, seconds, warmup),
        f"torch.compile (first step {compile_s:.0f} s)": compiled,
        "2 networks as one (vmap)": batched_models_throughput(2, protocol, seconds, warmup),
        "3 networks as one (vmap)": batched_models_throughput(3, protocol, seconds, warmup),
    }


def eval_throughput(dataset) -> float:
    model = _model()
    x = torch.from_numpy(dataset.test_x)
    predict(model, x[:1000])
    start = time.perf_counter()
    predict(model, x)
    return len(x) / (time.perf_counter() - start)


def run_bench(config: BenchConfig) -> dict:
    from grader.calibration import load_calibration
    from grader.data import load_cifar10

    load_start = os.getloadavg()
    torch.set_num_threads(2)
    protocol = load_calibration().protocol() or Protocol()
    t = time.perf_counter()
    dataset = load_cifar10(config.data)
    load_s = time.perf_counter() - t
    s, w = config.seconds, config.warmup_steps
    rows = {
        "starter, batch 4": starter_throughput(dataset, 4, s, w),
        "starter, batch 64": starter_throughput(dataset, 64, s, w),
        f"engine, batch {protocol.batch_size}": engine_throughput(dataset, protocol, s),
        f"bound, batch {protocol.batch_size}": bound_throughput(protocol, s, w),
    }
    out = {"device": str(default_device()), "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, "
           f"torch {torch.__version__}", "train_images_per_s": rows, "eval_images_per_s": eval_throughput(dataset),
           "data_load_s": load_s}
    engine, bound = rows[f"engine, batch {protocol.batch_size}"], rows[f"bound, batch {protocol.batch_size}"]
    out["engine/starter_b4"] = engine / rows["starter, batch 4"]
    out["engine/bound"] = engine / bound
    if config.options:
        out["options_images_per_s"] = option_rows(protocol, s, w)
        out["options/bound"] = {k: v / bound for k, v in out["options_images_per_s"].items()}
    if config.grade:
        out["grade"] = time_full_grade(config.data)
    if config.class_size:
        from grader.tools.throughput import compare_class

        with tempfile.TemporaryDirectory(prefix="hw2-bench-class-") as work:
            out["class"] = compare_class(config.class_size, Path(work), config.data)
    load_end = os.getloadavg()
    out["load"] = {"start": load_start[0], "end": load_end[0],
                   "noisy": is_noisy(load_start[0], load_end[0], os.cpu_count() or 1, config.quiet_load)}
    out["peak_rss_mib"] = {"bench": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                           "children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}
    return out


def is_noisy(start: float, end: float, cpus: int, quiet: float) -> bool:
    """Other work shared the machine: a 1-minute load average of `quiet` or more before the bench began, or
    at its end more than the bench's own busy threads (at most one per CPU) explain."""
    return start >= quiet or end > cpus + quiet


def time_full_grade(data: str | None) -> dict:
    """A full grade of the bundled reference as `hw2-grade` runs it: interpreter start-up and imports (timed in
    a fresh process), grading (its phases as the report lists them), then rendering and writing the outputs."""
    import subprocess
    import sys

    from grader.grade import bundled_reference, grade
    from grader.options import GradeOptions
    from grader.results.write import write_outputs

    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import grader.cli, grader.grade, grader.results.write, torch"], check=True)
    startup = time.perf_counter() - t
    start = time.perf_counter()
    result = grade(bundled_reference(), GradeOptions(data=data))  # no training cache: a first grade's cost
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        write_outputs(result, Path(out))
    report = time.perf_counter() - t
    wall = startup + time.perf_counter() - start
    phases = {"start-up (fresh interpreter, imports)": f"{startup:.1f} s"}
    phases |= {k.removeprefix("time: "): v for k, v in result.environment.items() if k.startswith("time: ")}
    phases["report (results.json, report.html, badge.svg)"] = f"{report:.1f} s"
    return {"wall_s": wall, "score": result.score, "max_score": result.max_score, "phases": phases}


def render(result: dict) -> str:
    load = result["load"]
    lines = [f"device: {result['device']} ({result['machine']})",
             f"load average (1 min): {load['start']:.2f} at the start, {load['end']:.2f} at the end"
             + (" -- NOISY: other work shared the machine, the figures are not comparable" if load["noisy"] else
                " (quiet)"), "",
             f"{'pipeline':<24} {'train images/s':>15}"]
    lines += [f"{k:<24} {v:>15,.0f}" for k, v in result["train_images_per_s"].items()]
    lines += ["", f"engine / starter batch 4: {result['engine/starter_b4']:.1f}x",
              f"engine / compute bound:   {result['engine/bound']:.2f}x",
              f"evaluation: {result['eval_images_per_s']:,.0f} images/s",
              f"CIFAR-10 load (cache): {result['data_load_s']:.2f} s"]
    if "options_images_per_s" in result:
        lines += ["", f"{'option (synthetic batch)':<34} {'train images/s':>15} {'/ bound':>8}"]
        lines += [f"{k:<34} {v:>15,.0f} {result['options/bound'][k]:>7.2f}x" for k, v in result["options_images_per_s"].items()]
    if "grade" in result:
        g = result["grade"]
        lines += ["", f"full grade of the reference: {g['wall_s']:.1f} s wall, {g['score']:g}/{g['max_score']:g} points"]
        lines += [f"  {k}: {v}" for k, v in g["phases"].items()]
    if "class" in result:
        from grader.tools.throughput import render_class

        lines += ["", *render_class(result["class"])]
    lines += [f"peak memory: bench {result['peak_rss_mib']['bench']:.0f} MiB, largest child {result['peak_rss_mib']['children']:.0f} MiB"]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    p = ArgumentParser(prog="hw2-grade bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=BenchConfig.seconds, help="wall budget per measurement (s)")
    p.add_argument("--quick", action="store_true",
                   help="1 s per measurement, no torch.compile or other options, no full grade (under a minute)")
    p.add_argument("--class", dest="class_size", type=int, default=BenchConfig.class_size, metavar="N",
                   help="also grade a synthetic class of N students end to end, without and with the training cache "
                        "and for each split of the cores (needs the source checkout; 30 take about an hour on 2 cores)")
    p.add_argument("--no-grade", action="store_true", help="skip the full grade of the reference")
    p.add_argument("--data", help="CIFAR-10 location (default: $HW2_CIFAR10)")
    args = p.parse_args(argv)
    from grader.data import DataError

    if args.class_size < 0:
        return fail("--class must be a number of students (0 for none)", prog=p.prog)
    config = BenchConfig(seconds=1.0 if args.quick else args.seconds, grade=not (args.quick or args.no_grade),
                         options=not args.quick, data=args.data, class_size=args.class_size)
    from grader.tools.throughput import ClassBenchError

    try:
        print(render(run_bench(config)))
    except (DataError, ClassBenchError) as e:
        return fail(str(e), prog=p.prog)
    return 0
