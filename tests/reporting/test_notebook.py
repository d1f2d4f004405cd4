"""The notebook helpers: small teams are dropped in one place, design checks are shown."""

import warnings

import cts
from cts.reporting import notebook


def _with_a_small_team(path):
    raw = cts.simulate_org(12, 20, seed=1).panel
    raw = raw.loc[raw["n_builders"] >= 5].copy()  # only the team made small below is small
    small = raw["team_id"].iloc[0]
    rows = raw["team_id"].eq(small)
    raw.loc[rows, "n_builders"] = 3
    for column in ("ai_active_builders", "oncall_builders"):
        raw.loc[rows, column] = raw.loc[rows, column].clip(upper=3)
    raw.to_csv(path, index=False)
    return raw, small


def test_load_drops_team_weeks_under_min_team_size_and_says_how_many(tmp_path):
    raw, small = _with_a_small_team(tmp_path / "panel.csv")
    panel, notes = notebook.load(tmp_path / "panel.csv")
    dropped = int(raw["team_id"].eq(small).sum())
    assert len(panel) == len(raw) - dropped
    assert small not in set(panel["team_id"]) and (panel["n_builders"] >= 5).all()
    assert panel.attrs["min_team_size"] == 5
    assert any(f"{dropped:,} of {len(raw):,} team-weeks" in note for note in notes)
    framed, _ = notebook.load(tmp_path / "panel.csv", start=str(raw["week"].max()))
    inside = cts.panel.windowed(framed)  # the window travels with the panel, rows are kept
    assert len(framed) == len(panel) and inside["week"].nunique() == 1
    assert (inside["n_builders"] >= 5).all()


def test_design_markdown_lists_checks_caveats_and_refusals(tmp_path):
    _with_a_small_team(tmp_path / "panel.csv")
    panel, _ = notebook.load(tmp_path / "panel.csv")
    teams = panel["team_id"].nunique()
    assert 2 <= teams < 12
    shown = notebook.design_markdown(cts.identification(panel))
    assert "Design checks" in shown and f"| teams | {teams} |" in shown
    assert f"- only {teams} teams" in shown and "Refused" not in shown
    refused = notebook.design_markdown(cts.identification(panel.assign(ai_usage_rate=0.0)))
    assert "**Refused: adoption effect.** no team's `ai_usage_rate` ever changes" in refused
    with warnings.catch_warnings():
        notebook.show_design(cts.identification(panel))  # displays without error outside Jupyter
        with warnings.catch_warnings(record=True) as caught:
            warnings.warn("shown already", cts.FewTeamsWarning, stacklevel=1)
        assert caught == []  # the report states caveats in words; no stderr repeats


def test_inference_methods_with_different_estimates_decline_in_words(capsys):
    import pandas as pd

    index = pd.MultiIndex.from_product(
        [["cluster", "wild_bootstrap"], ["short_run", "long_run"]], names=["inference", "term"]
    )
    same = pd.DataFrame({"estimate": [0.384009, 0.669366] * 2}, index=index)
    notebook.same_estimates(same)  # one estimate per term: nothing to say
    differ = same.assign(estimate=[0.433852, 0.668994, 0.384009, 0.669366])
    with notebook.section("With few teams"):
        notebook.same_estimates(differ)
    shown = capsys.readouterr().out
    assert "With few teams cannot be estimated on this panel: PanelError:" in shown
    assert "long_run: +0.6690 to +0.6694; short_run: +0.3840 to +0.4339" in shown
