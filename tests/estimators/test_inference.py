"""Few-cluster inference: wild cluster bootstrap and randomization inference."""

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest
from conftest import quiet_load

import cts
from cts.estimators.inference import draw_batches
from cts.panel import lag
from cts.reporting import plots


@pytest.fixture(scope="module")
def small_null_org():
    """30 teams x 52 weeks with no AI effect."""
    sim = cts.simulate_org(30, 52, seed=3, cr_effect=0.0, deploy_effect=0.0)
    return quiet_load(sim.panel)


@pytest.mark.parametrize("seed", [1, 2])
def test_fe_wild_bootstrap_matches_pyfixest_wildboottest(small_null_org, seed):
    panel = small_null_org
    data = panel.assign(
        lag_y=lag(panel, "cr_velocity", 1), team=pd.factorize(panel["team_id"])[0]
    ).dropna(subset=["lag_y", "rollback_rate", "interventions_per_deploy"])
    fit = pf.feols(
        "cr_velocity ~ lag_y + ai_usage_rate + rollback_rate + interventions_per_deploy"
        " | team + week",
        data,
        vcov={"CRV1": "team"},
    )
    theirs = fit.wildboottest(param="ai_usage_rate", reps=4999, seed=seed + 10)["Pr(>|t|)"]
    ours = cts.estimate_adoption_effect(
        panel, method="fe", inference="wild_bootstrap", reps=4999, seed=seed
    )
    # Different draws: p-values agree within Monte Carlo error (SD at most 0.007 each, at p ~0.5).
    assert ours.table.loc["short_run", "p_value"] == pytest.approx(float(theirs), abs=0.025)
    # A case where the test is not trivially 0 or 1. No effect: p is uniform over panels (0.45
    # here; 0.2-0.3 before the simulator's page effect turned positive), so any p well inside
    # (0, 1) makes the comparison informative.
    assert 0.05 < float(theirs) < 0.95


@pytest.mark.parametrize("inference", ["wild_bootstrap", "randomization"])
def test_resampling_keeps_the_estimate_and_moves_only_the_effect_rows(small_null_org, inference):
    effect = cts.estimate_adoption_effect(small_null_org)
    resampled = cts.estimate_adoption_effect(small_null_org, inference=inference, reps=199)
    test = resampled.model.resampling
    # auto's effect-homogeneity step adds the counterfactual's rows under clustered inference
    # only (it is skipped under resampling), and widens the clustered SEs of the effect rows for
    # its search: with the chosen model's SEs put back, the pooled model's rows must be the same.
    cluster = effect.table.copy()
    cluster.loc[effect.search.table.index, "se"] = effect.search.table["se_fixed"]
    rows = resampled.table.index
    assert set(rows) <= set(cluster.index)
    pd.testing.assert_series_equal(cluster.loc[rows, "estimate"], resampled.table["estimate"])
    pd.testing.assert_series_equal(cluster.loc[rows, "se"], resampled.table["se"])
    effect_rows = ["short_run", "long_run"]
    others = ["rollback_rate", "interventions_per_deploy"]
    pd.testing.assert_frame_equal(cluster.loc[others], resampled.table.loc[others])
    # The observed t is the chosen model's; the randomization interval is the resampling
    # critical value x SE, the wild bootstrap's the inverted test (about as wide, not symmetric).
    table = cluster.loc[effect_rows]
    np.testing.assert_allclose(test.t_stat, table["estimate"] / table["se"], rtol=1e-10)
    high = (resampled.table.loc[effect_rows, "ci_high"] - table["estimate"]).to_numpy()
    low = (table["estimate"] - resampled.table.loc[effect_rows, "ci_low"]).to_numpy()
    if inference == "randomization":
        np.testing.assert_allclose(high, test.critical_value * table["se"], rtol=1e-10)
        np.testing.assert_allclose(low, high, rtol=1e-10)
    else:
        np.testing.assert_allclose(high, test.critical_value * table["se"], rtol=0.25)
        np.testing.assert_allclose(low, test.critical_value * table["se"], rtol=0.25)
        assert not np.allclose(low, high, rtol=1e-3)
    assert test.draws.shape == (199, 2)
    assert (test.critical_value > 1.5).all() and (test.critical_value < 3.5).all()
    # The p-value is consistent with the interval: zero lies inside exactly when p >= 0.05.
    for term in effect_rows:
        row = resampled.table.loc[term]
        assert (row["ci_low"] <= 0 <= row["ci_high"]) == (row["p_value"] >= 0.05)
    assert inference in resampled.summary()


@pytest.mark.parametrize("inference", ["wild_bootstrap", "randomization"])
def test_resampling_detects_a_real_effect(inference):
    panel = quiet_load(cts.simulate_org(30, 52, seed=4, cr_effect=0.6).panel)
    effect = cts.estimate_adoption_effect(panel, inference=inference, reps=199)
    assert effect.table.loc["short_run", "p_value"] <= 0.01


def test_randomization_p_value_counts_the_observed_assignment(small_null_org):
    test = cts.estimate_adoption_effect(
        small_null_org, inference="randomization", reps=99
    ).model.resampling
    exceed = (test.draws.abs() >= test.t_stat.abs()).sum()
    np.testing.assert_allclose(test.p_value, (1 + exceed) / 100)


def test_resampling_is_reproducible_by_seed(small_null_org):
    run = [
        cts.estimate_adoption_effect(
            small_null_org, inference="wild_bootstrap", reps=99, seed=seed
        ).model.resampling.draws
        for seed in (5, 5, 6)
    ]
    pd.testing.assert_frame_equal(run[0], run[1])
    assert not run[0].equals(run[2])


def test_bad_inference_options_fail_clearly(small_null_org):
    with pytest.raises(ValueError, match="inference must be one of"):
        cts.estimate_adoption_effect(small_null_org, inference="bootstrap")
    with pytest.raises(ValueError, match="available for 'fe' and 'bias_corrected'"):
        cts.estimate_adoption_effect(small_null_org, method="gmm", inference="randomization")


def test_no_usage_variation_is_a_clear_error(small_null_org):
    flat = small_null_org.assign(ai_usage_rate=0.0)
    with pytest.raises(cts.PanelError, match="no variation left after the team and week"):
        cts.estimate_adoption_effect(flat)


def test_batches_cover_every_draw():
    assert draw_batches(999, 30) == [999]
    assert sum(draw_batches(999, 100_000)) == 999
    assert max(draw_batches(999, 100_000)) == 200


def test_compare_inference_side_by_side(small_null_org):
    table = cts.compare_inference(small_null_org, reps=199)
    assert table.index.get_level_values("inference").unique().tolist() == [
        "cluster",
        "wild_bootstrap",
        "randomization",
    ]
    by_term = table.groupby(level="term")
    assert (by_term["estimate"].nunique() == 1).all()
    # the resampling tests keep the chosen model's SE; auto's clustered SE is widened for its
    # search (cts.analyses.post_search), never narrowed
    resampled = table.drop(index="cluster", level="inference").groupby(level="term")["se"]
    assert (resampled.nunique() == 1).all()
    widened = table.loc["cluster", "se"].sort_index()
    assert (widened >= resampled.first().sort_index() - 1e-15).all()
    assert table["p_value"].between(0, 1).all()
    assert len(plots.plot_methods(table, level="inference").axes) == 2


def test_few_cluster_size_and_its_report_section():
    from cts.validation.monte_carlo import few_cluster_section, few_cluster_size

    size = few_cluster_size(
        reps=2,
        draws=19,
        never_adopter_share=(0.2,),
        outcomes=("cr_velocity",),
        workers=1,
        progress=False,
    )
    assert size.index.names == ["never_adopter_share", "outcome", "inference", "term"]
    assert len(size) == 6 and (size["reps"] == 2).all()
    assert size["rejection_rate"].isin([0, 0.5, 1]).all()
    section = "\n".join(few_cluster_section(size))
    header = next(line for line in section.splitlines() if line.startswith("|"))
    assert [c.strip() for c in header.strip("|").split("|")][-3:] == [
        "cluster",
        "wild_bootstrap",
        "randomization",
    ]
    assert section.count("| cr_velocity") == 2  # one row per term


def test_controls_that_never_vary_are_left_out_with_a_warning(small_null_org):
    """A git-derived panel records no pipeline interventions: the control is constant."""
    flat = small_null_org.assign(interventions_per_deploy=0.0)
    with pytest.warns(cts.PanelWarning, match="`interventions_per_deploy` never vary"):
        effect = cts.estimate_adoption_effect(flat)
    assert effect.controls == ("rollback_rate",)
    assert "interventions_per_deploy" not in effect.table.index
    with pytest.warns(cts.PanelWarning, match="never vary"):
        checks = cts.exogeneity_checks(flat)
    assert not any("interventions_per_deploy" in str(i) for i in checks.table.index)


def _frame(panel, y, x):
    """The estimation frame of dynamic_panel with one lag (rows with every value observed)."""
    frame = pd.DataFrame(
        {
            y: panel[y].to_numpy(float),
            f"L1.{y}": lag(panel, y, 1).to_numpy(),
            **{c: panel[c].to_numpy(float) for c in x},
            "_entity": pd.factorize(panel["team_id"])[0],
            "_time": panel["week"].to_numpy(),
            "_cluster": pd.factorize(panel["team_id"])[0],
        }
    )
    return frame.dropna().reset_index(drop=True)


def test_recursive_design_regenerates_the_outcome_and_its_lags(small_null_org):
    """Fed the restricted fit's own residuals, the recursion returns the data exactly; fed
    other shocks, each row's lag is the draw's outcome one week earlier wherever that week is in
    the frame, and the observed lag where it is not (a team's first week, after a gap)."""
    from cts.estimators.inference import RecursiveDesign

    y, x = "cr_velocity", ("rollback_rate",)
    frame = _frame(small_null_org, y, ("ai_usage_rate", *x))
    fit = pf.feols(f"{y} ~ Q('L1.{y}') + rollback_rate | _entity + _time", frame)
    b = fit.coef().to_numpy()[:1]
    residuals = fit.resid()
    recursion = RecursiveDesign(frame, [f"L1.{y}"], b, frame[y].to_numpy() - residuals)
    outcomes, lags = recursion(residuals[:, None])
    np.testing.assert_allclose(outcomes[:, 0], frame[y], atol=1e-9)
    np.testing.assert_allclose(lags[:, 0, 0], frame[f"L1.{y}"], atol=1e-9)
    shocks = np.random.default_rng(0).standard_normal((len(frame), 3))
    outcomes, lags = recursion(shocks)
    keys = zip(frame["_entity"], frame["_time"], strict=True)
    previous = {key: r for r, key in enumerate(keys)}
    for r in range(0, len(frame), 7):
        before = previous.get((frame["_entity"][r], frame["_time"][r] - pd.Timedelta(weeks=1)))
        expected = frame[f"L1.{y}"][r] if before is None else outcomes[before]
        np.testing.assert_allclose(lags[r, :, 0], expected)
    assert not np.allclose(lags[:, :, 0], frame[[f"L1.{y}"]].to_numpy())


def test_recursive_bootstrap_runs_through_dynamic_panel(small_null_org):
    panel = small_null_org
    options = dict(inference="wild_bootstrap", reps=99, seed=1, bootstrap_interval="bootstrap_t")
    fixed = cts.dynamic_panel(panel, "cr_velocity", ["ai_usage_rate"], "team_id", "week", **options)
    recursive = cts.dynamic_panel(
        panel,
        "cr_velocity",
        ["ai_usage_rate"],
        "team_id",
        "week",
        bootstrap_design="recursive",
        **options,
    )
    pd.testing.assert_series_equal(fixed.table["estimate"], recursive.table["estimate"])
    assert not fixed.resampling.draws.equals(recursive.resampling.draws)
    assert 1.5 < recursive.resampling.critical_value["short_run"] < 3.5
    with pytest.raises(ValueError, match="design must be"):
        cts.dynamic_panel(
            panel,
            "cr_velocity",
            ["ai_usage_rate"],
            "team_id",
            "week",
            bootstrap_design="sideways",
            **options,
        )


@pytest.fixture(scope="module")
def small_effect_frame():
    """The estimation frame of 20 teams x 39 weeks with the default effect (short run 0.3)."""
    sim = cts.simulate_org(20, 39, seed=2)
    return _frame(quiet_load(sim.panel), "cr_velocity", ("ai_usage_rate", "rollback_rate"))


def _shifted_test(frame, value, jackknife, seed):
    """The wild bootstrap test of ``short_run = value``: under the fixed design it is the test
    of no effect on ``y - value x`` with the observed lag kept as a regressor."""
    from cts.estimators.inference import wild_cluster_bootstrap

    shifted = frame.assign(cr_velocity=frame["cr_velocity"] - value * frame["ai_usage_rate"])
    return wild_cluster_bootstrap(
        shifted,
        ["L1.cr_velocity"],
        ("ai_usage_rate", "rollback_rate"),
        y="cr_velocity",
        jackknife=jackknife,
        reps=199,
        seed=seed,
    ).p_value["short_run"]


@pytest.mark.parametrize("jackknife", [True, False])
def test_inverted_interval_is_where_the_restricted_test_stops_rejecting(
    small_effect_frame, jackknife
):
    """Just inside each end of the short run's inverted interval the test of that value does not
    reject at 5%, just outside it does; the test at each value is run independently, on the
    outcome shifted by it, with the same seed (so the same weights)."""
    from cts.estimators.inference import inverted_interval

    frame, lags, x = small_effect_frame, ["L1.cr_velocity"], ("ai_usage_rate", "rollback_rate")
    interval = inverted_interval(
        frame, lags, x, y="cr_velocity", jackknife=jackknife, reps=199, seed=3
    )
    low, high = interval.loc["short_run"]
    margin = 0.03 * (high - low)
    assert _shifted_test(frame, low + margin, jackknife, 3) >= 0.05
    assert _shifted_test(frame, high - margin, jackknife, 3) >= 0.05
    assert _shifted_test(frame, low - margin, jackknife, 3) < 0.05
    assert _shifted_test(frame, high + margin, jackknife, 3) < 0.05
    assert interval.loc["long_run", "ci_low"] < interval.loc["long_run", "ci_high"]


def _long_run_p_value(frame, value, reps, seed):
    """The fixed-design test of ``long_run = value`` written out: the fit restricted to
    ``g = value (1 - b)``, its residuals flipped by Rademacher weights (drawn as the package
    draws them), bias_corrected on every draw, the delta-method t of the long run."""
    from cts.estimators.jackknife import SplitPanel, split_panel_fit

    columns = ["L1.cr_velocity", "ai_usage_rate", "rollback_rate"]
    split = SplitPanel(frame, True)
    matrices = split.within(frame[columns].to_numpy(float), 3)
    y = frame["cr_velocity"].to_numpy(float)
    lag_within, x_within, control_within = (matrices[0][:, [k]] for k in range(3))
    target = split.within(y[:, None], 1)[0][:, 0] - value * x_within[:, 0]
    others = np.column_stack([lag_within - value * x_within, control_within])
    residuals = target - others @ np.linalg.lstsq(others, target, rcond=None)[0]
    clusters = pd.factorize(frame["_cluster"])[0]
    w = np.random.default_rng(seed).choice([-1.0, 1.0], size=(split.n_clusters, reps))
    outcomes = np.column_stack([y, y[:, None] - (1 - w[clusters]) * residuals[:, None]])
    coef, influence = split_panel_fit(split, matrices, split.within(outcomes, 3), 1)
    b, g = coef[0], coef[1]
    psi = influence[:, 1] / (1 - b) + g * influence[:, 0] / (1 - b) ** 2
    se = np.sqrt(split.n_clusters / (split.n_clusters - 1) * (psi**2).sum(axis=0))
    t = (g / (1 - b) - value) / se
    return np.mean(np.abs(t[1:]) >= abs(t[0]))


def test_inverted_long_run_is_where_its_test_stops_rejecting(small_effect_frame):
    """The long run's ends, checked against the test of ``long_run = v`` written out here."""
    from cts.estimators.inference import inverted_interval

    frame, x = small_effect_frame, ("ai_usage_rate", "rollback_rate")
    interval = inverted_interval(frame, ["L1.cr_velocity"], x, y="cr_velocity", reps=199, seed=4)
    low, high = interval.loc["long_run"]
    margin = 0.03 * (high - low)
    assert _long_run_p_value(frame, low + margin, 199, 4) >= 0.05
    assert _long_run_p_value(frame, high - margin, 199, 4) >= 0.05
    assert _long_run_p_value(frame, low - margin, 199, 4) < 0.05
    assert _long_run_p_value(frame, high + margin, 199, 4) < 0.05


def test_recursive_inverted_interval_agrees_with_its_test_at_zero(small_null_org):
    """Under the recursive design the inverted interval's draws at 0 are the test's own: zero
    lies inside exactly when the test of no effect does not reject."""
    options = dict(inference="wild_bootstrap", reps=99, seed=2, bootstrap_design="recursive")
    fit = cts.dynamic_panel(
        small_null_org, "cr_velocity", ["ai_usage_rate"], "team_id", "week", **options
    )
    for row in ("ai_usage_rate", "long_run.ai_usage_rate"):
        low, high, p = fit.table.loc[row, ["ci_low", "ci_high", "p_value"]]
        assert low < fit.table.loc[row, "estimate"] < high
        assert (low <= 0 <= high) == (p >= 0.05)
    with pytest.raises(ValueError, match="bootstrap_interval must be"):
        cts.dynamic_panel(
            small_null_org,
            "cr_velocity",
            ["ai_usage_rate"],
            "team_id",
            "week",
            bootstrap_interval="percentile",
            **options,
        )
