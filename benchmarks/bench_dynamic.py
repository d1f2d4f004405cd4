"""Speed of the default adoption effect against one naive pyfixest and one linearmodels fit.

On a 5,000-team x 260-week ``simulate_org`` panel, in the same run: ``cts.estimate_adoption_effect``
with its defaults and clustered inference (``method="auto"``: a ``bias_corrected`` fit with the
residual AR(2) test, then one fit with the next lag and the lead placebo, each a split-panel
jackknife, i.e. three two-way demeanings, each an exact direct solve of the week effects after
sweeping out the team means, see :mod:`cts.estimators.demean`; the homogeneity test of the
persistence on 500 drawn teams; then the effect-homogeneity step, :func:`cts.counterfactual`
with 199 team bootstrap draws on every team), and ``method="bias_corrected"`` (the one fit
``auto`` starts from), against single naive fits of the dynamic model (two-way FE, lagged
outcome, team-clustered SEs): ``pyfixest.feols`` (the fastest peer; its demeaner is iterative
and multi-threaded) and ``linearmodels.PanelOLS``. Each contender runs in its own process, so
its peak RSS is its own (all include the loaded panel). Medians of ``--repeats`` warm runs
(after one untimed warm-up). Targets: default <= 1.5x pyfixest, below PanelOLS, peak RSS < 3 GB.

Measure on a quiet machine (``uptime``): under load, multi-threaded OpenBLAS (cts's small
dense solves) and pyfixest's threaded demeaner slow down by large, unequal factors. Before the
effect-homogeneity step, measured on 2 cores: wall-clock medians of 3, pyfixest 1.61-1.66 s,
default 2.87-3.50 s (1.8-2.1x), ``bias_corrected`` 1.18-1.29 s, PanelOLS 5.5-6.7 s.

Since that step, CPU seconds with one BLAS / Rayon thread, all in one process (medians of 3,
a shared 2-core machine under a load of 10-28): pyfixest 1.2-1.5; the default 9.4, 6.2-7.9x
(11.0, 7.3x, before the demeaner's blocked last step, row-major jackknife parts and the
table-lookup lags), of which the step's counterfactual is 6.0-6.3 (7.7 before, see
``bench_counterfactual.py``); ``bias_corrected`` 1.26-1.30 (1.69 before; 0.84-1.10x); peak RSS
of the default 1.13 GB. The 1.5x target is missed by design: the counterfactual's 199 draws
alone cost 4-5x a pyfixest fit, whatever the rest of ``auto`` costs.
"""

import argparse
import json
import warnings

from _measure import median_seconds, peak_rss_mib, run_contenders

import cts

CONTROLS = ["rollback_rate", "interventions_per_deploy"]
CONTENDERS = ["pyfixest", "linearmodels", "cts", "cts_fixed"]


def _run(contender: str, path: str, repeats: int) -> dict:
    warnings.simplefilter("ignore")
    panel = cts.load_panel(path)
    if contender in ("cts", "cts_fixed"):
        options = {"method": "bias_corrected"} if contender == "cts_fixed" else {}

        def fit():
            cts.estimate_adoption_effect(panel, **options)
    elif contender == "pyfixest":
        import pyfixest as pf

        data = panel.assign(lagged=cts.lag(panel, "cr_velocity")).dropna(subset=["lagged"])
        rhs = " + ".join(["lagged", "ai_usage_rate", *CONTROLS])

        def fit():
            pf.feols(f"cr_velocity ~ {rhs} | team_id + week", data, vcov={"CRV1": "team_id"})
    else:
        from linearmodels import PanelOLS

        data = panel.assign(lagged=cts.lag(panel, "cr_velocity")).dropna(subset=["lagged"])
        data = data.set_index(["team_id", "week"])

        def fit():
            PanelOLS(
                data["cr_velocity"],
                data[["lagged", "ai_usage_rate", *CONTROLS]],
                entity_effects=True,
                time_effects=True,
            ).fit(cov_type="clustered", cluster_entity=True)

    return {
        "median_s": median_seconds(fit, repeats),
        "rows": len(panel),
        "peak_rss_mib": peak_rss_mib(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-teams", type=int, default=5000)
    parser.add_argument("--n-weeks", type=int, default=260)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--contender", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--panel", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.contender:
        print(json.dumps(_run(args.contender, args.panel, args.repeats)))
        return

    options = ["--repeats", str(args.repeats)]
    results = run_contenders(__file__, CONTENDERS, args.n_teams, args.n_weeks, options)
    pyfixest, panelols = results["pyfixest"], results["linearmodels"]
    print(f"panel: {pyfixest['rows']:,} team-weeks ({args.n_teams:,} teams x {args.n_weeks} weeks)")
    labels = {
        "pyfixest": "pyfixest feols, naive, clustered (peer)",
        "linearmodels": "linearmodels PanelOLS, naive, clustered",
        "cts": "cts estimate_adoption_effect, default (auto)",
        "cts_fixed": "cts, method='bias_corrected' (one fit)",
    }
    for contender in CONTENDERS:
        run = results[contender]
        print(
            f"{labels[contender]:<42} median {run['median_s']:6.2f} s  "
            f"peak RSS {run['peak_rss_mib']:,.0f} MiB"
        )
    for contender in ("cts", "cts_fixed"):
        seconds = results[contender]["median_s"]
        to_pyfixest, to_panelols = seconds / pyfixest["median_s"], seconds / panelols["median_s"]
        rss = results[contender]["peak_rss_mib"] / 1024
        print(
            f"ratio {contender} / pyfixest: {to_pyfixest:.2f}x (target <= 1.5, "
            f"{'met' if to_pyfixest <= 1.5 else 'missed'}); "
            f"{contender} / PanelOLS: {to_panelols:.2f}x (target < 1, "
            f"{'met' if to_panelols < 1 else 'missed'}); "
            f"peak RSS {rss:.2f} GB (target < 3, {'met' if rss < 3 else 'missed'})"
        )


if __name__ == "__main__":
    main()
