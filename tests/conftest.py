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
