"""The reference networks of Problems 5.1 and 5.3."""
from __future__ import annotations

import torch

from solutions.cnn import Net, NetBN, loss_fn


def _count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def test_net_has_the_handouts_62006_parameters():
    # conv 3*6*25+6, conv 6*16*25+16, FC 400*120+120, FC 120*84+84, FC 84*10+10
    assert _count(Net()) == 456 + 2416 + 48120 + 10164 + 850 == 62006


def test_net_maps_images_to_ten_logits():
    assert Net()(torch.randn(5, 3, 32, 32)).shape == (5, 10)


def test_netbn_adds_batchnorm_after_each_conv_and_hidden_fc_only():
    bns = [m for m in NetBN().modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert [m.num_features for m in bns] == [6, 16, 120, 84]


def test_width_multiplies_every_hidden_width_but_not_the_classes():
    wide = Net(width=4)
    assert wide.conv1.out_channels == 24 and wide.fc2.out_features == 336 and wide.fc3.out_features == 10
    assert wide(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_dropout_is_active_in_training_only():
    torch.manual_seed(0)
    model, x = Net(dropout=0.5), torch.randn(4, 3, 32, 32)
    model.train()
    assert not torch.equal(model(x), model(x))
    model.eval()
    assert torch.equal(model(x), model(x))


def test_loss_is_the_mean_negative_log_softmax_of_the_target():
    logits, targets = torch.randn(8, 10, dtype=torch.float64), torch.randint(0, 10, (8,))
    expected = -torch.log_softmax(logits, 1)[torch.arange(8), targets].mean()
    assert torch.allclose(loss_fn(logits, targets), expected, rtol=1e-12)
