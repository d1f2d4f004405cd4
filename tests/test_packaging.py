import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import tomllib
import yaml

import cts

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names that differ from PyPI's.
CONDA_NAMES = {"duckdb": "python-duckdb", "jupyter-client": "jupyter_client"}


def _requirement(spec: str) -> tuple[str, str]:
    name, bound = re.match(r"([A-Za-z0-9_.\-]+)\s*(.*)", spec).groups()
    return name.lower(), bound.replace(" ", "")


def test_environment_yml_lists_the_same_packages_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = dict(
        map(_requirement, project["dependencies"] + project["optional-dependencies"]["dev"])
    )
    wanted = {CONDA_NAMES.get(name, name): bound for name, bound in wanted.items()}
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in environment["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    listed = dict(_requirement(d) for d in conda + [d for d in pip if not d.startswith("-e")])
    listed.pop("python"), listed.pop("pip")
    assert listed == wanted


def test_readme_has_the_two_commands_and_the_docs_the_schema():
    readme = (ROOT / "README.md").read_text()
    for command in ("make report", "make test"):
        assert command in readme
    assert len(readme.splitlines()) < 200, "the README is the front door; the rest goes in docs/"
    schema = (ROOT / "docs" / "panel.md").read_text()
    for column in [*cts.REQUIRED_COLUMNS, *cts.OPTIONAL_COLUMNS, *cts.DERIVED_COLUMNS]:
        assert f"`{column}`" in schema, column
    for column in [*cts.SOURCE_COLUMNS, *cts.AI_TOOLS]:
        assert f"`{column}`" in schema, column


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_data_command_writes_panel_and_truth(tmp_path):
    out = tmp_path / "org" / "panel.parquet"
    result = subprocess.run(
        [sys.executable, "-m", "cts", "data", str(out), "--n-teams", "8", "--n-weeks", "12"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "team-weeks" in result.stdout
    truth = json.loads(out.with_name("panel.truth.json").read_text())
    assert truth["params"]["n_teams"] == 8
    assert set(truth["truth"]) == {"cr_velocity", "deploy_velocity"}
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []
    assert out.stat().st_mode & 0o044  # readable by others, like any file the user writes


def test_committed_sample_is_small_and_valid():
    sample = ROOT / "data" / "sample" / "panel_sample.csv"
    assert sample.stat().st_size <= 200_000
    panel = cts.load_panel(sample, min_team_size=1)
    assert panel["team_id"].nunique() == 25


def test_write_panel_refuses_unknown_formats(tmp_path):
    import pytest

    with pytest.raises(ValueError, match="unknown panel format '.xlsx'"):
        cts.write_panel(cts.simulate_org(3, 5).panel, tmp_path / "p.xlsx")
    assert list(tmp_path.iterdir()) == []


def test_committed_sample_is_what_the_simulator_writes(tmp_path):
    """The README says the sample is simulate_org(25, 52, seed=7): a simulator change must
    regenerate it (`python -m cts data data/sample/panel_sample.csv --n-teams 25 --n-weeks 52
    --seed 7`)."""
    committed = cts.load_panel(ROOT / "data" / "sample" / "panel_sample.csv", min_team_size=1)
    fresh = cts.load_panel(cts.simulate_org(25, 52, seed=7).panel, min_team_size=1)
    pd.testing.assert_frame_equal(committed, fresh, check_dtype=False)


def test_static_imports_name_every_public_name():
    """IDEs and type checkers see the lazy API through the ``TYPE_CHECKING`` block: it must
    import exactly the names ``cts`` exports, each from where it is defined."""
    import ast

    tree = ast.parse((ROOT / "cts" / "__init__.py").read_text())
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    static = {
        alias.asname or alias.name: f"{node.module}.{alias.name}"
        for node in ast.walk(block)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert sorted(static) == sorted(cts.__all__)
    for name, dotted in static.items():
        module, attribute = dotted.rsplit(".", 1)
        defined = importlib.import_module(module)
        target = getattr(defined, attribute, None)
        if target is None:  # a submodule: `from cts.reporting import plots`
            target = importlib.import_module(dotted)
        assert target is getattr(cts, name), name
