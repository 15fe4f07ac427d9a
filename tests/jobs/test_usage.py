"""The usage sampler sees a job's whole process tree: the pids it walks from the tree's own
``/proc`` files are the ones psutil finds by reading every process on the machine, and the
memory it sums is the tree's."""

from __future__ import annotations

import subprocess
import sys

import psutil

from modelyard.jobs import ProcessTreeSampler
from modelyard.jobs.usage import tree_pids
from waiting import wait_until

# a parent with two children, one of which has a child of its own; each holds ~30 MB
TREE = """
import subprocess, sys, time
block = b"x" * (30 * 2**20)  # touched, so resident
depth = int(sys.argv[1])
kids = [subprocess.Popen([sys.executable, "-c", sys.argv[2], str(depth - 1), sys.argv[2]])
        for _ in range(2 if depth == 2 else 1 if depth == 1 else 0)]
time.sleep(120)
"""


def test_the_sampler_walks_the_same_tree_as_psutil_and_sums_its_memory() -> None:
    root = subprocess.Popen([sys.executable, "-c", TREE, "2", TREE])
    try:
        process = psutil.Process(root.pid)
        wait_until(lambda: len(process.children(recursive=True)) == 4, "the tree of five")
        expected = [root.pid, *(p.pid for p in process.children(recursive=True))]
        found = tree_pids(root.pid)
        assert found[0] == root.pid
        assert sorted(found) == sorted(expected)

        def resident() -> int:
            return sum(psutil.Process(pid).memory_info().rss for pid in expected)

        wait_until(lambda: resident() >= 5 * 30 * 2**20, "each process to hold its block")
        _, rss = ProcessTreeSampler(root.pid).read()
        assert rss >= 5 * 30 * 2**20
        assert abs(rss - resident()) < 0.1 * rss
    finally:
        for pid in reversed(tree_pids(root.pid)):
            psutil.Process(pid).kill()
        root.wait()
    assert tree_pids(root.pid) == [root.pid]  # gone: nothing below it is found
