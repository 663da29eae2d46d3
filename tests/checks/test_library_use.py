"""Static detection of library optimisers and transforms in a submission's source."""
from checks.library_use import library_uses


def test_aliased_import_of_torch_adam_is_found():
    src = "import torch.optim as o\nclass Adam(o.Adam):\n    pass\n"
    assert library_uses(src, "optimizer") == ["torch.optim.Adam (line 2)"]


def test_from_import_of_rmsprop_is_found():
    assert library_uses("from torch.optim import RMSprop\n", "optimizer") == ["torch.optim.RMSprop (line 1)"]


def test_torchvision_transforms_found_and_plain_torch_not():
    assert library_uses("import torchvision.transforms.functional as TF\n", "transforms")
    assert library_uses("import torch\nx = torch.optim.SGD\n", "optimizer") == []


def test_unparseable_source_reports_nothing():
    assert library_uses("def (:\n", "optimizer") == []
