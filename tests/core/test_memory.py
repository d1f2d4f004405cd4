import gc
import weakref

import numpy as np

from cts.core.memory import release_memory


class Node:
    def __init__(self) -> None:
        self.payload = np.ones(1_000_000)  # 8 MB
        self.partner = self


def test_release_memory_frees_unreachable_cycles():
    gc.disable()  # only release_memory may collect here
    try:
        node = Node()
        alive = weakref.ref(node)
        del node
        assert alive() is not None  # a cycle: reference counting alone keeps it
        release_memory()
        assert alive() is None
    finally:
        gc.enable()


def test_a_job_loop_collects_its_own_cycles_and_thaws_what_it_froze():
    from cts.core.memory import release_job_memory, thaw

    gc.unfreeze()  # a report helper run earlier in this process may have frozen the heap
    gc.disable()
    try:
        release_job_memory()  # the first job's call freezes what the process held
        frozen = gc.get_freeze_count()
        assert frozen > 0
        node = Node()  # made by a later job: still collected
        alive = weakref.ref(node)
        del node
        release_job_memory()
        assert alive() is None and gc.get_freeze_count() == frozen
    finally:
        thaw()
        gc.enable()
    assert gc.get_freeze_count() == 0
