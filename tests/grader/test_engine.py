"""The training engine: seeded and repeatable, it learns, its channels-last layout computes what NCHW does,
and a graded run trained by the grader equals a calibration run of the same network and seed."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from grader.calibration import Calibration
from grader.data import perturb_test_images
from grader.engine import Protocol, predict, to_inputs, train_variant
from grader.grade import bundled_reference, grade
from grader.options import GradeOptions
from grader.rubric.items import RUBRIC
from solutions.cnn import Net, NetBN

SMALL = Protocol(epochs=1, train_images=1280, log_every=5)  # 20 steps of 64: seconds on the CPU


def _data(n: int = 1280, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=gen), torch.randint(0, 10, (n,), generator=gen)


def test_the_same_seed_gives_the_same_weights_and_another_seed_does_not():
    x, y = _data()
    runs = [train_variant(Net, None, x, y, SMALL, seed=s)[1] for s in (3, 3, 4)]
    same = [torch.equal(a, b) for a, b in zip(runs[0].epoch_states[-1].values(), runs[1].epoch_states[-1].values())]
    assert all(same) and runs[0].losses == runs[1].losses
    assert runs[0].losses != runs[2].losses


def test_training_lowers_the_loss_on_a_learnable_task():
    # labels that are a function of the image (its brightest channel): learnable in 60 steps
    x, _ = _data(3840)
    y = x.float().mean(dim=(2, 3)).argmax(1)  # (N,) in {0, 1, 2}
    result = train_variant(Net, None, x, y, replace(SMALL, train_images=3840, lr=0.01), seed=0)[1]
    assert result.diverged_at is None and len(result.losses) == 12
    assert np.mean(result.losses[-3:]) < 0.8 * np.mean(result.losses[:3]), result.losses


@pytest.mark.parametrize("cls", [Net])
def test_channels_last_gradients_equal_the_nchw_gradients(cls):
    """The same start and batch in each memory format: the same loss, and every gradient equal within 1e-4
    of its largest entry (float32 summation order). Biases followed by BatchNorm have a true gradient of
    zero; theirs is noise below 1e-5 in both formats and is skipped."""
    torch.manual_seed(0)
    a = cls()
    b = cls()
    b.load_state_dict(a.state_dict())
    b.to(memory_format=torch.channels_last)
    x_uint8, y = _data(64)
    x = to_inputs(x_uint8)  # (64, 3, 32, 32)
    la = F.cross_entropy(a(x), y)
    lb = F.cross_entropy(b(x.contiguous(memory_format=torch.channels_last)), y)
    la.backward()
    lb.backward()
    assert la.item() == pytest.approx(lb.item(), rel=1e-6)
    checked = 0
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        scale = float(p.grad.abs().max())
        if scale < 1e-5:
            continue
        checked += 1
        assert float((p.grad - q.grad).abs().max()) <= 1e-4 * scale, name
    assert checked >= 5


def test_engine_trains_net_channels_last_and_batchnorm_nets_nchw():
    x, y = _data()
    model, _ = train_variant(Net, None, x, y, SMALL, seed=0)
    assert model.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    bn, _ = train_variant(NetBN, None, x, y, SMALL, seed=0)
    assert bn.conv1.weight.is_contiguous() and not bn.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    nchw = Net()
    nchw.load_state_dict(model.state_dict())
    assert torch.equal(predict(model, x[:256]), predict(nchw, x[:256]))


@pytest.mark.slow
def test_a_graded_run_is_a_calibration_run_of_the_same_network_and_seed(cifar10, calibration, isolation):
    """The grader trains the reference network from the starting weights the submission's code made, so the
    bundled reference's graded accuracy is exactly what calibration's procedure gives for that seed."""
    protocol = replace(Protocol(), epochs=1, train_images=3200, log_every=10)
    raw = {**calibration.raw, "protocol": protocol.__dict__}
    result = grade(bundled_reference(), GradeOptions(selected=RUBRIC.select("5.1.3"), verify_reference=False, seed=5),
                   dataset=cifar10, calibration=Calibration(raw, calibration.classifier_file), isolation=isolation)
    graded = next(c for c in result.curves if c.epoch_accuracy)
    torch.set_num_threads(2)
    model, _ = train_variant(Net, None, torch.from_numpy(cifar10.train_x), torch.from_numpy(cifar10.train_y),
                             protocol, seed=5)
    test_x = torch.from_numpy(perturb_test_images(cifar10.test_x, 5))
    expected = float((predict(model, test_x) == torch.from_numpy(cifar10.test_y)).float().mean())
    assert graded.epoch_accuracy[-1] == pytest.approx(expected, abs=1e-9)
    assert "trained it itself" in next(i for i in result.items if i.number == "5.1.3").feedback
