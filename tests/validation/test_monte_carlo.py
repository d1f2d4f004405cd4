"""Smoke test of the threat cells of the Monte Carlo."""

import pandas as pd
import pytest

from cts.validation.monte_carlo import (
    THREATS,
    control_bias,
    control_bias_section,
    few_cluster_section,
    threat_section,
    threats,
    validation_report,
)


def test_threat_cells_run_and_summarise():
    summary = threats(
        cells=("clean", "ar1_0.3"), n_teams=60, n_weeks=(20,), reps=2, workers=1, progress=False
    )
    assert set(summary.index.get_level_values("cell")) == {"clean", "ar1_0.3"}
    # the clean cell also scores the counterfactual (CELL_METHODS)
    methods = summary.index.get_level_values("method")
    assert set(methods) == {"bias_corrected", "auto", "counterfactual"}
    assert set(methods[summary.index.get_level_values("cell") == "ar1_0.3"]) == {
        "bias_corrected",
        "auto",
    }
    assert (summary["reps"] == 2).all()
    # AR(1) cells score no persistence (its lag sum has no truth); the others do.
    terms = summary.index.get_level_values("term")
    ar_terms = set(terms[summary.index.get_level_values("cell") == "ar1_0.3"])
    # (auto adds the counterfactual's att and total when its effect-homogeneity step runs)
    assert {"short_run", "long_run"} <= ar_terms <= {"short_run", "long_run", "att", "extra_units"}
    clean = summary.xs(("clean", "persistence"), level=("cell", "term"))
    assert clean["truth"].to_numpy() == pytest.approx(0.5)
    # The MC SE of the relative bias is the SD of the estimates over sqrt(reps), in % of truth.
    expected = 100 * summary["sd"] / summary["reps"] ** 0.5 / summary["truth"].abs()
    assert summary["rel_bias_mcse_pct"].to_numpy() == pytest.approx(expected.to_numpy())
    section = threat_section(summary)
    assert section[0].startswith("## Threats to the dynamic model")
    assert "MC SE" in section[2] and "| cell" in section[-1]
    # No 39- or 104-week cell here: nothing judged, nothing claimed.
    assert "in 0 of 0 cells" in section[4] and "clear misses (beyond 2 MC SEs): none" in section[4]
    report = validation_report(
        summary.xs("clean", level="cell"), None, None, summary, n_teams=60, seconds=1.0
    )
    assert "## Threats to the dynamic model" in report
    assert set(THREATS) >= {"feedback", "persistence_spread_0.3"}
    with pytest.raises(ValueError, match="unknown cells"):
        threats(cells=("typo",), reps=1, workers=1, progress=False)


def test_threat_section_names_only_the_clear_misses():
    index = pd.MultiIndex.from_tuples(
        [("clean", 39, "auto", t) for t in ("short_run", "long_run", "persistence", "x")],
        names=["cell", "n_weeks", "method", "term"],
    )
    summary = pd.DataFrame(
        {
            "reps": 40,
            "truth": 0.3,
            "rel_bias_pct": [1.0, 20.0, 1.0, 6.0],
            "rel_bias_mcse_pct": [1.0, 1.0, 1.0, 1.0],
            "coverage": [1.0, 0.95, 0.5, 0.95],  # 100% of 40: within 2 MC SEs (3.4 points)
            "coverage_mcse": [0.0, 0.034, 0.079, 0.034],
            "sd": 0.02,
            "mean_se": 0.02,
            "meets_target": [False, False, False, False],
        },
        index=index,
    )
    verdict = threat_section(summary)[4]
    assert "2 more miss it within 2 Monte Carlo SEs" in verdict
    assert verdict.endswith("clean 39 wk long_run, clean 39 wk persistence.**")


def test_control_bias_cell_runs_and_isolates_the_controls():
    summary = control_bias(n_teams=60, n_weeks=26, reps=2, workers=1, progress=False)
    assert set(summary.index.get_level_values("counts")) == {"per_deployment", "per_week"}
    assert set(summary.index.get_level_values("controls")) == {"old default", "new default"}
    assert (summary["reps"] == 2).all()
    # Without controls the counts do not enter: the two count models give the same estimates.
    new = summary.xs("new default", level="controls")
    pd.testing.assert_frame_equal(
        new.xs("per_deployment", level="counts"), new.xs("per_week", level="counts")
    )
    old = summary.xs("old default", level="controls")
    assert not old.xs("per_week", level="counts")["bias"].equals(
        old.xs("per_deployment", level="counts")["bias"]
    )
    section = control_bias_section(summary)
    assert section[0] == "## Controls of deployment velocity" and "| counts" in section[-1]
    with pytest.raises(ValueError, match="unknown counts"):
        control_bias(counts=("typo",), reps=1, workers=1, progress=False)


def test_few_cluster_section_names_the_method_that_ran():
    index = pd.MultiIndex.from_tuples(
        [(0.8, "cr_velocity", inference, "short_run") for inference in ("cluster", "wild")],
        names=["never_adopter_share", "outcome", "inference", "term"],
    )
    size = pd.DataFrame(
        {"reps": [10, 10], "rejection_rate": [0.2, 0.05], "mcse": [0.1, 0.07]}, index=index
    )
    assert "`auto` on 30 teams" in few_cluster_section(size.assign(method="auto"))[2]
    text = few_cluster_section(size.assign(method="bias_corrected"))[2]
    assert text.startswith("`bias_corrected` on 30 teams")


def test_bootstrap_coverage_cell_runs_and_summarises():
    from cts.validation.monte_carlo import bootstrap_coverage, bootstrap_coverage_section

    summary = bootstrap_coverage(
        n_teams=12, n_weeks=26, reps=2, draws=19, workers=1, progress=False
    )
    from cts.validation.monte_carlo import COVERAGE_DESIGNS

    assert set(summary.index.get_level_values("method")) == set(COVERAGE_DESIGNS)
    assert {"fixed_inverted", "recursive_inverted", "randomization"} <= set(COVERAGE_DESIGNS)
    assert (summary["reps"] == 2).all()
    assert (summary["width"] > 0).all() and (summary["seconds"] > 0).all()
    # the same estimate under every inference: only the intervals differ
    estimates = summary["bias"].unstack("method")
    assert estimates.nunique(axis=1).eq(1).all()
    section = bootstrap_coverage_section(summary)
    assert section[0].startswith("## Coverage of the effect's 95% intervals")
    assert "| inference" in section[-1] and "width" in section[-1]
    with pytest.raises(ValueError, match="unknown designs"):
        bootstrap_coverage(reps=1, designs=("percentile",), workers=1, progress=False)


def test_validation_report_without_the_main_and_exogeneity_blocks():
    """``validate --reps 0 --exogeneity-reps 0`` runs the other blocks alone."""
    from cts.validation.monte_carlo import validation_report

    report = validation_report(None, None, n_teams=500, seconds=90.0)
    assert report.startswith("# Monte Carlo validation")
    assert "main block was skipped" in report and "1.5 min" in report


def test_local_alternative_cells_run_at_the_judged_lengths_only():
    from cts.validation.monte_carlo import LOCAL_ALTERNATIVES

    assert set(LOCAL_ALTERNATIVES) <= set(THREATS)
    assert THREATS["ar1_0.15"] == {"error_ar": 0.15}
    assert THREATS["feedback_0.3"] == {"feedback": 0.3}
    assert THREATS["persistence_spread_0.1"] == {"persistence_spread": 0.1}
    summary = threats(
        cells=("feedback_0.3",),
        n_teams=60,
        n_weeks=(20, 39),
        reps=1,
        methods=("bias_corrected",),
        workers=1,
        progress=False,
    )
    assert set(summary.index.get_level_values("n_weeks")) == {39}
    with pytest.raises(ValueError, match="nothing to run"):
        threats(cells=("ar1_0.15",), n_weeks=(20,), reps=1, workers=1, progress=False)


def test_new_threat_cells_score_their_own_methods_and_counterfactual_terms(monkeypatch):
    """The cells of effects that differ by team, org waves and learning run their own methods
    (CELL_METHODS); a method registered in ESTIMATORS is scored on every term its table shares
    with the truth, the counterfactual's att and extra_units included."""
    from cts.validation import monte_carlo

    assert set(monte_carlo.CELL_METHODS) == {
        "clean",
        "team_effects_early",
        "org_waves",
        "learning_8wk",
        *monte_carlo.LOCAL_ALTERNATIVES,
    }
    for cell in ("clean", "team_effects_early", "org_waves", "learning_8wk"):
        assert "counterfactual" in monte_carlo.CELL_METHODS[cell], cell

    def truth_table(panel, outcome, **options):
        # A stand-in estimator: finite numbers with an interval that covers any truth.
        rows = ["short_run", "att", "total_extra_crs_merged"]  # scored as extra_units
        return pd.DataFrame(
            {"estimate": 1.0, "se": 1.0, "ci_low": -1e9, "ci_high": 1e9}, index=rows
        )

    monkeypatch.setitem(monte_carlo.ESTIMATORS, "stand_in", truth_table)
    monkeypatch.setitem(monte_carlo.CELL_METHODS, "org_waves", ("auto", "stand_in"))
    summary = threats(
        cells=("org_waves",), n_teams=60, n_weeks=(20,), reps=2, workers=1, progress=False
    )
    stand_in = summary.xs("stand_in", level="method")
    assert set(stand_in.index.get_level_values("term")) == {"short_run", "att", "extra_units"}
    assert (stand_in["coverage"] == 1.0).all()
    auto = summary.xs("auto", level="method")
    # auto adds the counterfactual's att and total when its effect-homogeneity step runs
    terms = set(auto.index.get_level_values("term"))
    assert {"short_run", "persistence", "long_run"} <= terms
    assert terms <= {"short_run", "persistence", "long_run", "att", "extra_units"}
    assert auto.xs("persistence", level="term")["truth"].to_numpy() == pytest.approx(0.5)
