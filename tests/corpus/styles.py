"""Correct submissions in different styles. Styles that define only the required names get the base's
hand-written Adam, RMSProp and augment appended, so every style can earn every automatic point of 5.*."""
from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
STYLES = ("base", "functional", "modulelist_dropout", "bias_free_bn", "script_with_main")


def build(style: str, folder: Path) -> Path:
    out = folder / style
    out.mkdir(parents=True, exist_ok=True)
    base = (HERE / "base_submission.py").read_text()
    if style == "base":
        (out / "submission.py").write_text(base)
        return out
    source = (HERE / "styles" / style / "submission.py").read_text()
    if "class Adam" not in source:
        optional = "import math  # noqa: E402\n\nimport torch.nn.functional as F  # noqa: E402\n\n\n" + base[base.index("class Adam"):]
        main = '\n\nif __name__ == "__main__":'
        source = source.replace(main, "\n\n" + optional + main) if main in source else source + "\n\n" + optional
    (out / "submission.py").write_text(source)
    return out
