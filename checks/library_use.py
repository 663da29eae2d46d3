"""Static check of a submission's source for use of library code that the handout asks students to write
themselves: torch's Adam/RMSprop and torchvision's transforms (Problem 5.4), automatic differentiation in
Problem 1's bptt_gradients (`function_library_uses`: that function and the module's functions it calls).
Reads the text with `ast`; never runs it."""
from __future__ import annotations

import ast

FORBIDDEN = {
    "optimizer": ("torch.optim.Adam", "torch.optim.AdamW", "torch.optim.RMSprop", "torch.optim.adam",
                  "torch.optim.adamw", "torch.optim.rmsprop", "torch.optim._functional", "torch._fused_adam_"),
    "transforms": ("torchvision.transforms",),
    "differentiation": ("torch.autograd", "torch.func", "functorch", "jax", "autograd", "tensorflow"),
}
CALLED_METHODS = {"differentiation": ("backward",)}  # `loss.backward()`: autograd, whatever `loss` is named


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
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    return _uses(tree, [tree], kind)


def function_library_uses(source: str, function: str, kind: str) -> list[str]:
    """As `library_uses`, within the module-level function `function` and the module-level functions it
    calls by name, transitively (a training loop elsewhere in the file may use autograd freely)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    defs = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    todo, reached = [function], {}
    while todo:
        name = todo.pop()
        if name in defs and name not in reached:
            reached[name] = defs[name]
            todo += [c.func.id for c in ast.walk(defs[name]) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)]
    return _uses(tree, list(reached.values()), kind) if reached else []


def _uses(tree: ast.AST, scopes: list[ast.AST], kind: str) -> list[str]:
    """Forbidden names referred to inside `scopes`, with the aliases of every import in `tree`."""
    aliases: dict[str, str] = {}
    found: list[str] = []
    prefixes = FORBIDDEN[kind]

    def hit(name: str, line: int) -> None:
        if any(name == p or name.startswith(p + ".") for p in prefixes) and name not in found:
            found.append(f"{name} (line {line})")

    in_scope = {id(n) for scope in scopes for n in ast.walk(scope)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
                if id(node) in in_scope:
                    hit(a.name, node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                full = f"{node.module}.{a.name}"
                aliases[a.asname or a.name] = full
                if id(node) in in_scope:
                    hit(full, node.lineno)
    for scope in scopes:
        for node in ast.walk(scope):
            if isinstance(node, ast.Attribute):
                name = _dotted(node)
                if name:
                    head, _, rest = name.partition(".")
                    hit(f"{aliases.get(head, head)}{'.' + rest if rest else ''}", node.lineno)
            elif isinstance(node, ast.Name) and node.id in aliases:
                hit(aliases[node.id], node.lineno)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in CALLED_METHODS.get(kind, ()) and f".{node.func.attr}()" not in found:
                found.append(f".{node.func.attr}() (line {node.lineno})")
    return found
