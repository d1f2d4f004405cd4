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
