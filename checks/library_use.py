"""Static check of a submission's source for use of library code that Problem 5.4 asks students to write
themselves (torch's Adam/RMSprop, torchvision's transforms). Reads the text with `ast`; never runs it."""
from __future__ import annotations

import ast

FORBIDDEN = {
    "optimizer": ("torch.optim.Adam", "torch.optim.AdamW", "torch.optim.RMSprop", "torch.optim.adam",
                  "torch.optim.adamw", "torch.optim.rmsprop", "torch.optim._functional", "torch._fused_adam_"),
    "transforms": ("torchvision.transforms",),
}


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def library_uses(source: str, kind: str) -> list[str]:
    """Forbidden library names the source refers to (after resolving `import x as y` aliases), in order."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    aliases: dict[str, str] = {}
    found: list[str] = []
    prefixes = FORBIDDEN[kind]

    def hit(name: str, line: int) -> None:
        if any(name == p or name.startswith(p + ".") for p in prefixes) and name not in found:
            found.append(f"{name} (line {line})")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
                hit(a.name, node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                full = f"{node.module}.{a.name}"
                aliases[a.asname or a.name] = full
                hit(full, node.lineno)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            name = _dotted(node)
            if name:
                head, _, rest = name.partition(".")
                hit(f"{aliases.get(head, head)}{'.' + rest if rest else ''}", node.lineno)
    return found
