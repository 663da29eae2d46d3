"""Wrong submissions: the correct base with exactly one defect, the rubric item that must lose points for
it, and words the feedback must contain to name it."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

BASE = Path(__file__).with_name("base_submission.py")
# The base's Net.forward up to the next class (NetBN's forward has the same body)
NET_FORWARD = ("    def forward(self, x):\n        x = self.features(x)\n        x = x.view(x.size(0), -1)\n"
               "        return self.classifier(x)\n\n\nclass NetBN")
NETBN_FORWARD = ("    def forward(self, x):\n        x = self.features(x)\n        x = x.view(x.size(0), -1)\n"
                 "        return self.classifier(x)\n\n\ndef init_weights")
CUT_AFTER_CONVS = ("conv 1, conv 2 receive no gradient", "cuts the graph after conv 2")


def cut_net_forward(features: str) -> tuple[tuple[str, str], ...]:
    """Net.forward with its convolutional features computed by `features` (lines setting `x`, indented
    for the method body): the same logits, but the graph cut after the convs."""
    return ((NET_FORWARD, "    def forward(self, x):\n" + features +
             "        x = x.view(x.size(0), -1)\n        return self.classifier(x)\n\n\nclass NetBN"),)


@dataclass(frozen=True)
class Defect:
    edits: tuple[tuple[str, str], ...]  # (text in the base, replacement); each text occurs exactly once
    item: str  # the rubric item that must lose points
    feedback: tuple[str, ...]  # phrases the feedback must contain (case-insensitive)
    training: bool = False  # shows only in a training run (slow)


DEFECTS: dict[str, Defect] = {
    "second_conv_padding": Defect(
        (("nn.Conv2d(6, 16, kernel_size=5), nn.ReLU()", "nn.Conv2d(6, 16, kernel_size=5, padding=2), nn.ReLU()"),
         ("nn.Linear(16 * 5 * 5, 120), nn.ReLU(),", "nn.Linear(16 * 7 * 7, 120), nn.ReLU(),")),
        "5.1.1", ("second conv uses padding 2",)),
    "no_relu_after_fc120": Defect(
        (("nn.Linear(16 * 5 * 5, 120), nn.ReLU(),\n            nn.Linear(120, 84), nn.ReLU(),\n            nn.Linear(84, 10),\n        )\n\n    def forward(self, x):\n        x = self.features(x)\n        x = x.view(x.size(0), -1)\n        return self.classifier(x)\n\n\nclass NetBN",
          "nn.Linear(16 * 5 * 5, 120),\n            nn.Linear(120, 84), nn.ReLU(),\n            nn.Linear(84, 10),\n        )\n\n    def forward(self, x):\n        x = self.features(x)\n        x = x.view(x.size(0), -1)\n        return self.classifier(x)\n\n\nclass NetBN"),),
        "5.1.1", ("no relu after fc 120",)),
    "average_pooling": Defect(
        (("nn.Conv2d(3, 6, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),", "nn.Conv2d(3, 6, kernel_size=5), nn.ReLU(), nn.AvgPool2d(2),"),),
        "5.1.1", ("average pooling after conv 1", "max pooling is specified")),
    "fc1_width_100": Defect(
        (("nn.Linear(16 * 5 * 5, 120), nn.ReLU(),\n            nn.Linear(120, 84), nn.ReLU(),\n            nn.Linear(84, 10),\n        )\n\n    def forward(self, x):\n        x = self.features(x)\n        x = x.view(x.size(0), -1)\n        return self.classifier(x)\n\n\nclass NetBN",
          "nn.Linear(16 * 5 * 5, 100), nn.ReLU(),\n            nn.Linear(100, 84), nn.ReLU(),\n            nn.Linear(84, 10),\n        )\n\n    def forward(self, x):\n        x = self.features(x)\n        x = x.view(x.size(0), -1)\n        return self.classifier(x)\n\n\nclass NetBN"),),
        "5.1.1", ("has 100 outputs", "120")),
    "loss_nll_on_logits": Defect(
        (("return F.cross_entropy(logits, targets)", "return F.nll_loss(logits, targets)"),),
        "5.1.2", ("nll_loss applied to raw logits",)),
    "loss_summed": Defect(
        (("return F.cross_entropy(logits, targets)", "return F.cross_entropy(logits, targets, reduction='sum')"),),
        "5.1.2", ("summed over the batch",)),
    "loss_naive_softmax": Defect(
        (("return F.cross_entropy(logits, targets)",
          "p = torch.exp(logits) / torch.exp(logits).sum(1, keepdim=True)\n    return -torch.log(p[torch.arange(len(targets)), targets]).mean()"),),
        "5.1.2", ("numerically unstable",)),
    "init_std_001": Defect(
        (('nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")', "nn.init.normal_(m.weight, 0.0, 0.01)"),),
        "5.2.1", ("conv 1", "off by a factor")),
    "init_without_relu_gain": Defect(
        (('nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")', 'nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="linear")'),),
        "5.2.1", ("off by a factor of 0.5",)),
    "init_skips_linear": Defect(
        (("if isinstance(m, (nn.Conv2d, nn.Linear)):", "if isinstance(m, nn.Conv2d):"),),
        "5.2.1", ("2 of 5 layers", "fc 120")),
    "bn_after_last_fc": Defect(
        (("nn.Linear(120, 84), nn.BatchNorm1d(84), nn.ReLU(),\n            nn.Linear(84, 10),",
          "nn.Linear(120, 84), nn.BatchNorm1d(84), nn.ReLU(),\n            nn.Linear(84, 10), nn.BatchNorm1d(10),"),),
        "5.3.1", ("batchnorm after the last fc",)),
    "no_bn_after_conv2": Defect(
        (("nn.Conv2d(6, 16, kernel_size=5), nn.BatchNorm2d(16), nn.ReLU()", "nn.Conv2d(6, 16, kernel_size=5), nn.ReLU()"),),
        "5.3.1", ("no batchnorm after conv 2",)),
    "adam_without_bias_correction": Defect(
        (('m_hat = st["m"] / (1 - b1 ** st["t"])', 'm_hat = st["m"]'), ('v_hat = st["v"] / (1 - b2 ** st["t"])', 'v_hat = st["v"]')),
        "5.4.1", ("departs from torch.optim.adam",)),
    "adam_calls_library": Defect(
        (("class Adam(torch.optim.Optimizer):", "class Adam(torch.optim.Adam):\n    pass\n\n\nclass _Unused(torch.optim.Optimizer):"),),
        "5.4.1", ("must be written by hand", "torch.optim.adam")),
    "rmsprop_eps_inside_sqrt": Defect(
        (('update = g / (st["sq"].sqrt() + group["eps"])', 'update = g / (st["sq"] + group["eps"]).sqrt()'),),
        "5.4.2", ("departs from torch.optim.rmsprop",)),
    "augment_modifies_input": Defect(
        (('return F.grid_sample(images, grid, padding_mode="border", align_corners=False)',
          'out = F.grid_sample(images, grid, padding_mode="border", align_corners=False)\n    images.mul_(1.0001)\n    return out'),),
        "5.4.3", ("not: leaves its input untouched",)),
    "augment_uses_torchvision": Defect(
        (("def augment(images, generator):\n", "def augment(images, generator):\n    import torchvision.transforms.functional as TF\n    return TF.hflip(images) if torch.rand(1, generator=generator) < 2 else images\n"),),
        "5.4.3", ("not: does not use torchvision's transforms",)),
    "augment_ignores_generator": Defect(
        (("angle = (torch.rand(n, generator=generator) - 0.5)", "angle = (torch.rand(n) - 0.5)"),),
        "5.4.3", ("not: deterministic for a seeded generator",)),
    # forward computes the handout's logits but cuts the graph after the convs: they would never learn
    "detach_after_convs": Defect(
        cut_net_forward("        x = self.features(x).detach()  # keep the feature maps for plotting\n"),
        "5.1.1", CUT_AFTER_CONVS),
    "numpy_round_trip": Defect(
        cut_net_forward("        feature_maps = self.features(x).detach().cpu().numpy()  # for the report's figures\n"
                        "        x = torch.from_numpy(feature_maps)\n"),
        "5.1.1", CUT_AFTER_CONVS),
    "dot_data_after_convs": Defect(
        cut_net_forward("        x = self.features(x).data\n"), "5.1.1", CUT_AFTER_CONVS),
    "no_grad_inside_forward": Defect(
        cut_net_forward("        with torch.no_grad():  # the convs are only feature extractors\n"
                        "            x = self.features(x)\n"),
        "5.1.1", CUT_AFTER_CONVS),
    "rewrapped_with_torch_tensor": Defect(
        cut_net_forward("        x = torch.tensor(self.features(x), dtype=torch.float32)\n"), "5.1.1", CUT_AFTER_CONVS),
    "netbn_no_grad_inside_forward": Defect(
        ((NETBN_FORWARD, "    def forward(self, x):\n        with torch.no_grad():\n            x = self.features(x)\n"
                         "        x = x.view(x.size(0), -1)\n        return self.classifier(x)\n\n\ndef init_weights"),),
        "5.3.1", ("conv 1, conv 1's batchnorm, conv 2, conv 2's batchnorm receive no gradient",
                  "cuts the graph after conv 2's batchnorm")),
    # defects that only a training run shows
    "net_zero_initialised": Defect(
        (("    def forward(self, x):\n        x = self.features(x)\n        x = x.view(x.size(0), -1)\n        return self.classifier(x)\n\n\nclass NetBN",
          "        for p in self.parameters():\n            nn.init.zeros_(p)\n\n    def forward(self, x):\n        x = self.features(x)\n        x = x.view(x.size(0), -1)\n        return self.classifier(x)\n\n\nclass NetBN"),),
        "5.1.3", ("does not start from a fresh random draw", "the same weights (all zero)"), training=True),
    "init_huge_bias": Defect(
        (("nn.init.zeros_(m.bias)", "nn.init.constant_(m.bias, 30.0)"),),
        "5.2.2", ("test accuracy", "pass mark"), training=True),
    "bn_never_updates_running_stats": Defect(
        (("nn.Linear(16 * 5 * 5, 120), nn.BatchNorm1d(120), nn.ReLU(),", "nn.Linear(16 * 5 * 5, 120), nn.BatchNorm1d(120, momentum=0.0), nn.ReLU(),"),),
        "5.3.2", ("test accuracy", "pass mark"), training=True),
}


def build(name: str, folder: Path) -> Path:
    """Write the submission with defect `name` into folder/<name>/ and return that folder."""
    source = BASE.read_text()
    for old, new in DEFECTS[name].edits:
        assert source.count(old) == 1, f"{name}: edit target occurs {source.count(old)} times"
        source = source.replace(old, new)
    out = folder / name
    out.mkdir(parents=True, exist_ok=True)
    (out / "submission.py").write_text(source)
    return out
