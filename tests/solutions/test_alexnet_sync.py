"""Problem 3 reference (solutions/alexnet_sync.py): the two-column AlexNet and its derived synchronisation stages."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from solutions import alexnet_sync as ax


@pytest.fixture(scope="module")
def small_model() -> ax.TwoColumnAlexNet:
    torch.manual_seed(0)
    return ax.TwoColumnAlexNet(width=1 / 16, input_size=67).eval()


def test_sync_stages_are_the_stages_reading_both_columns() -> None:
    assert ax.sync_stages() == ["conv3", "fc6", "fc7", "fc8"]


def test_sync_stages_are_derived_from_the_model_not_typed_in() -> None:
    rewired = [
        dataclasses.replace(s, reads_both_columns=s.name in ("conv2", "conv3", "fc6")) for s in ax.ALEXNET_STAGES
    ]
    torch.manual_seed(0)
    assert ax.sync_stages(ax.TwoColumnAlexNet(rewired, width=1 / 16, input_size=67)) == ["conv2", "conv3", "fc6"]


def test_stage_table_is_the_papers_per_column_layout() -> None:
    table = {s.name: (s.kind, s.out_per_column, s.kernel, s.stride, s.reads_both_columns) for s in ax.ALEXNET_STAGES}
    assert table == {
        "conv1": ("conv", 48, 11, 4, False),
        "conv2": ("conv", 128, 5, 1, False),
        "conv3": ("conv", 192, 3, 1, True),
        "conv4": ("conv", 192, 3, 1, False),
        "conv5": ("conv", 128, 3, 1, False),
        "fc6": ("fc", 2048, 1, 1, True),
        "fc7": ("fc", 2048, 1, 1, True),
        "fc8": ("fc", 500, 1, 1, True),
    }
    assert ax.STAGE_NAMES == tuple(table)


def test_full_size_network_has_the_papers_sixty_million_parameters() -> None:
    with torch.device("meta"):  # shapes only: no 240 MB of weights
        model = ax.TwoColumnAlexNet()
        logits = model(torch.empty(2, 3, 227, 227))
    assert sum(p.numel() for p in model.parameters()) == 60_965_224
    assert logits.shape == (2, 1000)


def test_full_size_conv_maps_have_the_papers_sizes() -> None:
    with torch.device("meta"):
        acts = ax.TwoColumnAlexNet().column_activations(torch.empty(1, 3, 227, 227))
    # per column, after each stage's pooling: 27x27 after conv1's pool, 13x13 after conv2's, 6x6 after conv5's
    maps = [tuple(a[0].shape[1:]) for a in acts[1:6]]
    assert maps == [(48, 27, 27), (128, 13, 13), (192, 13, 13), (192, 13, 13), (128, 6, 6)]


def test_logits_are_the_two_fc8_halves_side_by_side(small_model) -> None:
    images = torch.randn(3, 3, 67, 67)
    with torch.no_grad():
        halves = small_model.column_activations(images)[-1]
        logits = small_model(images)
    assert [tuple(h.shape) for h in halves] == [(3, 500), (3, 500)]
    torch.testing.assert_close(logits, torch.cat(halves, dim=1))


@pytest.mark.parametrize("stage", ["conv2", "conv4", "conv5"])
def test_column_local_stage_ignores_the_other_column(small_model, stage) -> None:
    index = ax.STAGE_NAMES.index(stage)
    with torch.no_grad():
        acts = small_model.column_activations(torch.randn(2, 3, 67, 67))[index]
        before = small_model.run_stage(index, acts)
        after = small_model.run_stage(index, [acts[0], torch.randn_like(acts[1])])
    assert torch.equal(before[0], after[0]) and not torch.equal(before[1], after[1])


@pytest.mark.parametrize("stage", ["conv3", "fc6", "fc7", "fc8"])
def test_cross_column_stage_reads_the_other_column(small_model, stage) -> None:
    index = ax.STAGE_NAMES.index(stage)
    with torch.no_grad():
        acts = small_model.column_activations(torch.randn(2, 3, 67, 67))[index]
        before = small_model.run_stage(index, acts)
        after = small_model.run_stage(index, [acts[0], torch.randn_like(acts[1])])
    assert not torch.equal(before[0], after[0])


def test_too_small_input_is_refused() -> None:
    with pytest.raises(ValueError, match="too small"):
        ax.TwoColumnAlexNet(width=1 / 16, input_size=40)


def test_sync_stages_restores_the_thread_setting() -> None:
    threads = torch.get_num_threads()
    ax.sync_stages()
    assert torch.get_num_threads() == threads
