import gc
import os
from pathlib import Path

# One OpenMP thread per test process, set before anything imports torch (the worker processes
# the tests start inherit it): the tiny models gain nothing from more, and on a shared machine
# (or under `-n 2` on two cores) torch's threads wait for each other's cores: one test of the
# tiny engine took 56 s with two threads and 2 s with one on the 2-core box.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import cpuinfo
import pytest
import structlog
from fsspec.implementations.memory import MemoryFileSystem
from hypothesis import settings

from harness.processes import fork_servers
from tests import helpers
from tests.helpers import shut_down_test_containers

# A test process makes and drops objects by the million (its imports, hypothesis' examples,
# parametrized items) and keeps few cycles: at CPython's default first-generation threshold
# (700 allocations) the collector runs tens of thousands of times during collection and the
# tests to free almost nothing. Set before collection imports anything; the worker processes
# the tests start keep the default (they run as in production).
gc.set_threshold(100_000, *gc.get_threshold()[1:])

# The servers the tests start are forked from a process that has imported torch and the web
# stack once (harness/forked.py says what a fork keeps of a fresh process and what it cannot).
fork_servers()

# No per-example deadline for any property test: on a shared 2-core machine a first example that
# imports a library (cn2an, num2words' languages) takes several times hypothesis' 200 ms default,
# which fails the test for the machine's load, not the code's behaviour. Timing is the benchmarks'.
settings.register_profile("shared-cpu", deadline=None)
settings.load_profile("shared-cpu")


def _no_cpu_probe() -> dict[str, str]:
    raise AssertionError(
        "py-cpuinfo's probe ran in a test process (a second Python interpreter, 1.1 s of CPU): "
        "import runpod through adapters/runpod_import.py"
    )


# runpod runs the probe when it is first imported, unless it is imported through
# adapters/runpod_import.py: a test module (or code under test) importing it another way
# fails its collection here instead of costing every xdist worker a second interpreter.
cpuinfo.get_cpu_info = _no_cpu_probe


@pytest.hookimpl(trylast=True)  # after tests/web/conftest.py has marked its browser tests
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The files that hold slow tests (worker processes, browsers, fuzzers) first, each file's
    tests together and in their order. xdist hands out whole files (`--dist loadfile`, with
    `--no-loadscope-reorder`: its own order puts the files with most tests first, which are the
    quick ones), so the long files start early instead of ending the run with one worker busy
    and the others done."""
    order: dict[str, int] = {}  # each file's place in the collection
    slow: set[str] = set()
    for item in items:
        file = item.nodeid.partition("::")[0]
        order.setdefault(file, len(order))
        if item.get_closest_marker("slow") is not None:
            slow.add(file)

    def rank(item: pytest.Item) -> tuple[bool, int]:
        file = item.nodeid.partition("::")[0]
        return file not in slow, order[file]

    items.sort(key=rank)


def pytest_collection_finish(session: pytest.Session) -> None:
    """What collection imported (every test module, torch, the adapters: about 600,000 objects)
    lives to the end of the run: frozen, the collector stops walking it, which cost 0.6 s per
    full collection on the 2-core box (`test_text_scaling`'s runs made 20 s of it)."""
    gc.collect()
    gc.freeze()


@pytest.fixture(scope="session", autouse=True)
def _one_model_cache_per_run(tmp_path_factory: pytest.TempPathFactory):
    """The tiny models are written once per run: into the run's temp folder, which xdist's
    workers share (each has its own sub-folder of it), so whichever worker asks first writes
    them under a file lock and the others read its settings (`helpers.script_settings`)."""
    run_dir = tmp_path_factory.getbasetemp()
    # xdist's workers say who they are (not through its worker_id fixture: the GPU suite runs without xdist)
    helpers.model_cache = (run_dir.parent if os.environ.get("PYTEST_XDIST_WORKER") else run_dir) / "models"
    helpers.model_cache.mkdir(exist_ok=True)
    yield
    helpers.model_cache = None


@pytest.fixture(scope="session")
def tiny_checkpoint() -> dict[str, str]:
    """The settings that load the tiny random F5 checkpoint (scripts/make_tiny_checkpoint.py)."""
    return helpers.script_settings("make_tiny_checkpoint.py", Path())


@pytest.fixture(scope="session")
def tiny_aligner() -> Path:
    """The folder of the tiny random aligner (scripts/make_tiny_aligner.py)."""
    return Path(helpers.script_settings("make_tiny_aligner.py", Path())["ALIGNER_PATH"])


@pytest.fixture(autouse=True)
def _clean_memory_store():
    """memory:// is one process-wide dict; every test starts with it empty."""
    MemoryFileSystem.store.clear()
    MemoryFileSystem.pseudo_dirs.clear()
    MemoryFileSystem.pseudo_dirs.append("")
    yield


@pytest.fixture(autouse=True)
def _shut_down_containers():
    """Containers made by make_test_container release their resources (the batcher's thread)."""
    yield
    shut_down_test_containers()


@pytest.fixture(autouse=True)
def _default_logging():
    """A test that configures structlog binds it to its captured stream; undo that after."""
    yield
    structlog.reset_defaults()


@pytest.fixture(autouse=True)
def _environment_restored():
    """What a test (or the code it runs) wrote into this process's environment goes with it:
    upstream's `seed_everything` sets PYTHONHASHSEED, and every later server would inherit it
    (and, as a start-up variable, be exec'd instead of forked)."""
    before = dict(os.environ)
    yield
    if os.environ != before:
        os.environ.clear()
        os.environ.update(before)
