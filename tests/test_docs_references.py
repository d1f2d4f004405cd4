"""Docs that cannot drift: every ``cts.`` reference in code, README and docs names something real.

A reference is a dotted name in backticks (``cts.load_panel``, :func:`cts.dynamic_panel`) in a
docstring or comment under ``cts/``, in the README, in ``docs/`` or in a notebook's Markdown.
It resolves when importing its longest module prefix and getting the remaining attributes works; a
dataclass field (declared, not a class attribute) counts as an attribute.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = re.compile(r"`+(cts(?:\.[A-Za-z_]\w*)+)")
#: Words a reader of the project cannot look up: tracker vocabulary.
TRACKER = re.compile(r"\b(?:issue|ticket)\s+#?\d+|(?<![\w/&])#\d{1,3}\b", re.IGNORECASE)


def _texts() -> dict[str, str]:
    texts = {str(p.relative_to(ROOT)): p.read_text() for p in sorted(ROOT.glob("cts/**/*.py"))}
    texts["README.md"] = (ROOT / "README.md").read_text()
    for page in sorted(ROOT.glob("docs/**/*.md")):
        texts[str(page.relative_to(ROOT))] = page.read_text()
    for notebook in sorted(ROOT.glob("notebooks/*.ipynb")):
        cells = json.loads(notebook.read_text())["cells"]
        texts[str(notebook.relative_to(ROOT))] = "\n".join(
            "".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown"
        )
    return texts


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            fields = {f.name for f in dataclasses.fields(target)} if _is_dataclass(target) else ()
            if name in fields:
                return name == parts[-1]
            if not hasattr(target, name):
                return False
            target = getattr(target, name)
        return True
    return False


def _is_dataclass(target: object) -> bool:
    return isinstance(target, type) and dataclasses.is_dataclass(target)


def test_every_cts_reference_resolves():
    broken = [
        f"{where}: {name}"
        for where, text in _texts().items()
        for name in sorted(set(REFERENCE.findall(text)))
        if not _resolves(name)
    ]
    assert not broken, "references to names that do not exist:\n" + "\n".join(broken)


@pytest.mark.parametrize("dotted", ["cts.nonexistent", "cts.load_panel.nope", "cts.effects"])
def test_a_stale_reference_is_caught(dotted):
    assert not _resolves(dotted)


def test_no_tracker_numbers_in_code_docs_or_notebooks():
    texts = _texts()
    texts.update(
        {str(p.relative_to(ROOT)): p.read_text() for p in sorted(ROOT.glob("benchmarks/*.py"))}
    )
    found = [
        f"{where}: {match.group(0)!r}"
        for where, text in texts.items()
        for match in TRACKER.finditer(text)
    ]
    assert not found, "say what the thing is, not its tracker number:\n" + "\n".join(found)
