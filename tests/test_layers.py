"""The layers of ARCHITECTURE.md: each package imports only from the layers below it (and its own), read from the
source (nothing is imported)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def layer(module: str) -> int | None:
    """1 data, 2 the network/runtime blocks and evaluation, 3 proposals, 4 the detector, 5 the command line."""
    if module.startswith("detector.data"):
        return 1
    if module.startswith(("detector.nn", "eval")):
        return 2
    if module.startswith("proposals"):
        return 3
    if module.startswith("detector"):
        return 4
    if module.startswith("cli"):
        return 5
    return None


def imports(path: Path, module: str):
    """The project modules ``path`` (module ``module``) imports, relative imports resolved."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            name = ".".join(p for p in (base, node.module) if p)
            yield from ([f"{name}.{a.name}" for a in node.names] if name in ("detector", "detector.nn") else [name])


def test_each_layer_imports_only_from_below():
    wrong = []
    for top in ("detector", "proposals", "eval", "cli"):
        for path in sorted((ROOT / top).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            own = layer(module)
            for target in imports(path, module):
                theirs = layer(target)
                if theirs is None or target == "detector.__version__":
                    continue
                same_package = target.split(".")[0] == module.split(".")[0] and theirs == own
                if theirs > own or (theirs == own and not same_package and own == 2):
                    wrong.append(f"{module} (layer {own}) imports {target} (layer {theirs})")
    assert not wrong, "\n".join(wrong)


def test_the_data_layer_reads_files_without_torch():
    """Layer 1 (``detector/data``) imports neither torch nor torchvision, read from the source: `detect eval` and the
    readers start without them (the sums over network outputs live in ``detector/nn/imagenet_map.py``)."""
    wrong = []
    for path in sorted((ROOT / "detector" / "data").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        wrong += [f"{module} imports {t}" for t in imports(path, module) if t.split(".")[0] in ("torch", "torchvision")]
    assert not wrong, "\n".join(wrong)
