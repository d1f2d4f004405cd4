import os
import resource
import warnings

import pytest

import cts


def quiet_load(source, **kwargs):
    """Load a panel without the small-team warning (tests that are not about it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cts.PanelWarning)
        return cts.load_panel(source, **kwargs)


#: The heavy tests, marked ``slow`` here in one place (CPU seconds measured with
#: CTS_TEST_CPU_TIMES, see below): ``make test`` leaves them out for a fast edit-test loop,
#: ``make test-slow`` runs them, and CI runs both. A name covers every parameter of the test.
SLOW = {
    # every notebook, end to end, on two small simulated panels: ~110 CPU s each
    "tests/analyses/test_corpus.py::test_every_report_runs_on_small_simulated_panels",
    # every notebook on two panel shapes the loader accepts
    "tests/reporting/test_report.py::test_every_report_runs_on_every_panel_the_loader_accepts",
    # two reports on the default panel (1,000 teams x 156 weeks) rendered in Chromium
    "tests/reporting/test_report.py::"
    "test_the_brief_shows_net_return_guardrails_and_both_cts_sw_lines_at_1280px",
    # the checks' false-flag rate over many seeds: ~12 CPU s
    "tests/analyses/test_exogeneity.py::test_false_flags_stay_near_five_percent_of_seeds",
    # every report built on a panel whose ids and names hold markup: ~100 CPU s
    "tests/security/test_report_escapes_data.py::"
    "test_report_escapes_team_ids_file_name_column_names_and_attrs",
    # simulated power and size of the clustered test: ~51 CPU s
    "tests/analyses/test_planning.py::test_power_has_nominal_size_and_grows_with_the_effect",
    # `cts report` on the sample end to end in a subprocess, until a full disk stops it (~15
    # CPU s) or until SIGKILL once two notebooks compute (~8 CPU s, then a third report): 160
    # s of wall time between them in `make test` on a busy machine
    "tests/security/test_disk_full.py::"
    "test_a_full_disk_stops_the_run_with_one_line_and_leaves_the_earlier_set",
    "tests/security/test_disk_full.py::"
    "test_a_killed_run_takes_its_kernels_along_and_the_next_run_cleans_up",
}


#: The test files that take longest, longest first (wall seconds of ``make test``'s two
#: workers, measured with ``--durations``): ``make test`` hands whole files to its workers
#: (``--dist loadfile``, so a module's fixtures are built once) in this order, then the rest
#: in the usual order, so that no long file starts last while the other worker waits
#: (longest-processing-time order).
LONGEST_FIRST = (
    "tests/reporting/test_report.py",
    "tests/sources/test_build.py",
    "tests/analyses/test_planning.py",
    "tests/sources/test_devlake.py",
    "tests/estimators/test_inference.py",
    "tests/analyses/test_drivers.py",
    "tests/analyses/test_specification.py",
    "tests/analyses/test_impact.py",
    "tests/analyses/test_corpus.py",
    "tests/estimators/test_dynamic.py",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.nodeid.split("[")[0] in SLOW:
            item.add_marker(pytest.mark.slow)
    rank = {path: k for k, path in enumerate(LONGEST_FIRST)}
    # A stable sort: tests keep their order within a file.
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


@pytest.fixture(scope="session")
def medium_org():
    """300 teams x 80 weeks: enough for estimates within a few percent of the truth."""
    sim = cts.simulate_org(n_teams=300, n_weeks=80, seed=21)
    return sim, quiet_load(sim.panel)


@pytest.fixture(scope="session", autouse=True)
def private_result_cache(tmp_path_factory):
    """Tests (and the notebooks and reports they run) cache results in a folder of their own,
    never in the user's ~/.cache/cts."""
    import os

    from cts.core.cache import CACHE_ENV

    previous = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(tmp_path_factory.mktemp("cts-cache"))
    yield
    if previous is None:
        os.environ.pop(CACHE_ENV, None)
    else:
        os.environ[CACHE_ENV] = previous


def _cpu_seconds() -> float:
    """CPU time of this process and of the children it waited for (kernels, servers)."""
    own, children = (
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """With CTS_TEST_CPU_TIMES=file, append each test's CPU seconds (setup, call and teardown)
    to ``file``: a profile that a busy machine does not distort as wall times
    (``pytest --durations``) are."""
    path = os.environ.get("CTS_TEST_CPU_TIMES")
    start = _cpu_seconds() if path else 0.0
    yield
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(f"{_cpu_seconds() - start:.2f}\t{item.nodeid}\n")
