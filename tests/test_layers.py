"""The package's layers point one way, and no module reaches into another's private names."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: lowest first; a module may import from its own layer and those before it, never after
LAYERS = (
    "core",
    "panel",
    "sources",
    "simulate",
    "estimators",
    "analyses",
    "validation",
    "reporting",
    "cli",
)


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "cts" else None


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module, names, line) for every import of a cts module in ``path``, nested ones too."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cts"):
            found.append((node.module, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names if a.name.startswith("cts")]
    return found


PACKAGE_MODULES = sorted(p for p in (ROOT / "cts").rglob("*.py") if p.parent != ROOT / "cts")


@pytest.mark.parametrize("path", PACKAGE_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_import_only_from_their_layer_or_below(path):
    own = path.relative_to(ROOT / "cts").parts[0]
    own = own.removesuffix(".py")
    assert own in LAYERS, f"{path} is in no layer; add it to LAYERS"
    for module, _, line in _imports(path):
        layer = _layer(module)
        assert layer is not None, f"{path}:{line} imports the top-level `cts` API from inside"
        assert LAYERS.index(layer) <= LAYERS.index(own), (
            f"{path}:{line} ({own}) imports {module} ({layer}), a layer above it"
        )


def test_the_layers_exist_and_the_api_is_lazy():
    for layer in LAYERS:
        assert (ROOT / "cts" / layer).is_dir() or (ROOT / "cts" / f"{layer}.py").is_file()
    tree = ast.parse((ROOT / "cts" / "__init__.py").read_text())
    eager = [
        node.lineno
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cts")
    ]
    assert eager == [], f"cts/__init__.py imports eagerly at lines {eager}"


SOURCES = sorted(
    p for folder in ("cts", "tests", "benchmarks") for p in (ROOT / folder).rglob("*.py")
)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_name_crosses_a_module_border(path):
    for module, names, line in _imports(path):
        private = [n for n in names if n.startswith("_")]
        assert not private, f"{path}:{line} imports private {private} from {module}"
