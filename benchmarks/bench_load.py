"""How much does validating a panel cost? ``cts.load_panel`` against plain ``pandas.read_parquet``.

Both read the same simulated Parquet file (default: 1,000 teams x 156 weeks) in the same run;
the ratio is the price of validation and derived rates. Medians of repeated runs; peak RSS is
the whole benchmark process's.
"""

import argparse
import tempfile
import warnings
from pathlib import Path

import pandas as pd
from _measure import median_seconds, peak_rss_mib

import cts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-teams", type=int, default=1000)
    parser.add_argument("--n-weeks", type=int, default=156)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    warnings.simplefilter("ignore", cts.PanelWarning)

    simulate = median_seconds(lambda: cts.simulate_org(args.n_teams, args.n_weeks), 3, warmup=False)
    sim = cts.simulate_org(args.n_teams, args.n_weeks)
    with tempfile.TemporaryDirectory() as folder:
        path = cts.write_panel(sim.panel, Path(folder) / "panel.parquet")
        plain = median_seconds(lambda: pd.read_parquet(path), args.repeats, warmup=False)
        loaded = median_seconds(lambda: cts.load_panel(path), args.repeats, warmup=False)
    peak_mib = peak_rss_mib()
    rows = len(sim.panel)
    print(f"panel: {rows:,} team-weeks ({args.n_teams:,} teams x {args.n_weeks} weeks)")
    print(f"simulate_org            median {simulate:7.3f} s")
    print(f"pandas.read_parquet     median {plain:7.3f} s  (peer)")
    print(f"cts.load_panel          median {loaded:7.3f} s  ({rows / loaded:,.0f} rows/s)")
    print(f"ratio load_panel / read_parquet: {loaded / plain:.1f}x")
    print(f"peak RSS: {peak_mib:,.0f} MiB")


if __name__ == "__main__":
    main()
