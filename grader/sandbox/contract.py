"""The contract's names as students spell and forget them: for a name a submission does not define, one line
to add, in the submission's own style where it shows (a BatchNorm flag of Net's constructor or of argparse, a
class or function under another name). Read from the syntax tree, never by running anything; used by the
slice child for notebooks and by the probe child for submission.py (both import only the standard library
here: one of grader.sandbox.bwrap.CHILD_MODULES).
"""
from __future__ import annotations

import ast
import re

from grader.sandbox import protocol as P

BN_NAME = re.compile(r"(^|_)(bn|batch_?norm|use_bn|with_bn|norm)($|_)", re.IGNORECASE)


def contract_hints(nodes: list[ast.stmt]) -> dict[str, str]:
    """For each contract name a submission does not define, one line to add, in the submission's own style
    where it shows (a BatchNorm flag of Net's constructor or of argparse, a class or function under another
    name)."""
    classes, functions, assigned, flags = {}, {}, {}, set()
    for node in nodes:
        if isinstance(node, ast.ClassDef):
            classes[node.name] = node
            if node.name.lower() == "args":
                flags |= {t.id for s in node.body if isinstance(s, ast.Assign) for t in s.targets if isinstance(t, ast.Name)}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions[node.name] = [a.arg for a in node.args.args]
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    assigned[t.id] = ast.unparse(node.value.func)
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and sub.func.attr == "add_argument":
                for a in sub.args:
                    if isinstance(a, ast.Constant) and isinstance(a.value, str) and a.value.startswith("--"):
                        flags.add(a.value[2:].replace("-", "_"))
    modules = {n for n, c in classes.items() if any("Module" in ast.unparse(b) or ast.unparse(b) in classes for b in c.bases)}
    optimizers = {n for n, c in classes.items() if any("Optimizer" in ast.unparse(b) for b in c.bases)}
    hints: dict[str, str] = {}

    def other(pool, pattern: str, exclude=()) -> str | None:
        return next((n for n in sorted(pool) if re.search(pattern, n, re.IGNORECASE) and n not in exclude), None)

    if "Net" not in classes and "Net" not in functions:
        found = other(modules, r"net|cnn|model|conv", exclude=P.CONTRACT)
        hints["Net"] = f"Net = {found}" if found else "class Net(nn.Module): ...  # the handout's network"
    if "NetBN" not in classes and "NetBN" not in functions:
        init = next((s for s in classes.get("Net", ast.ClassDef(body=[])).body
                     if isinstance(s, ast.FunctionDef) and s.name == "__init__"), None)
        param = next((a.arg for a in init.args.args + init.args.kwonlyargs if BN_NAME.search(a.arg)), None) if init else None
        flag = next((f for f in sorted(flags) if BN_NAME.search(f)), None)
        found = other(modules, r"bn|batch_?norm", exclude=("Net",))
        if param:
            hints["NetBN"] = f"def NetBN(): return Net({param}=True)"
        elif flag and "Net" in classes:
            hints["NetBN"] = f"def NetBN(): args.{flag} = True; net = Net(); args.{flag} = False; return net"
        else:
            hints["NetBN"] = f"NetBN = {found}" if found else "class NetBN(nn.Module): ...  # Net with a BatchNorm after each conv and hidden FC"
    if "loss_fn" not in functions and "loss_fn" not in assigned:
        loss = next((n for n, f in sorted(assigned.items()) if f.endswith("Loss")), None)
        hints["loss_fn"] = f"loss_fn = {loss}" if loss else "loss_fn = nn.CrossEntropyLoss()"
    if "init_weights" not in functions:
        found = next((n for n in sorted(functions) if "init" in n.lower() and len(functions[n]) == 1), None)
        hints["init_weights"] = (f"def init_weights(model): model.apply({found})" if found else
                                 "def init_weights(model): ...  # Var[w] = 2 / fan_in for every conv and linear layer")
    for name, pattern, torch_name in (("Adam", r"adam", "Adam"), ("RMSProp", r"rms", "RMSprop")):
        if not ({name, *P.ALIASES.get(name, ())} & (set(classes) | set(assigned))):
            found = other(optimizers, pattern)
            hints[name] = (f"{name} = {found}" if found else
                           f"class {name}(torch.optim.Optimizer): ...  # torch.optim.{torch_name}'s arguments and defaults")
    if "augment" not in functions:
        found = next((n for n in sorted(functions) if "aug" in n.lower() and len(functions[n]) == 2), None)
        hints["augment"] = f"augment = {found}" if found else "def augment(images, generator): ..."
    if "bptt_gradients" not in functions:
        found = next((n for n in sorted(functions) if re.search(r"bptt|backprop", n, re.IGNORECASE)), None)
        hints["bptt_gradients"] = f"bptt_gradients = {found}" if found else "def bptt_gradients(params, xs, ys, h0): ..."
    return hints
