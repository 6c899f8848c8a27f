"""The memory policy of :mod:`cbn.numerics.memory`, observed through page faults (counts, not
times: the kernel reports each page it had to map).

A 64 MiB block is above glibc's largest mmap threshold (32 MiB), so under the default policy
each new block is mapped afresh and filling it faults in all of its 16384 4-KiB pages (fewer
only if the kernel hands out huge pages, which it does here only on request); with freed memory
kept, once the heap has settled a new block reuses freed pages and faults close to none. The
bounds (more than half the pages; under 1/16 of them) leave room for the interpreter's own
allocations.
"""

from __future__ import annotations

import resource

import pytest
import torch

from cbn.numerics.memory import malloc_policy, retain_freed_memory

PAGES = (64 << 20) // resource.getpagesize()


def _faults_of_last_block(blocks: int = 16) -> int:
    """Page faults of filling the last of ``blocks`` 64 MiB blocks, each freed before the next.
    (glibc places aligned blocks, which torch asks for, in fresh heap for the first few rounds
    before it reuses freed ones: the heap settles after seven here.)"""
    for _ in range(blocks - 1):
        block = torch.empty(16 << 20)  # 64 MiB of float32
        block.fill_(1.0)
        del block
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = torch.empty(16 << 20)
    block.fill_(1.0)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def test_kept_memory_is_reused_and_the_default_maps_afresh():
    # default first: blocks a retained heap already holds would be reused under either policy
    with malloc_policy(retain=False):
        default = _faults_of_last_block()
    with malloc_policy(retain=True):
        if not retain_freed_memory():
            pytest.skip("not glibc: the policy does not exist here")
        kept = _faults_of_last_block()
    assert default > PAGES / 2, default
    assert kept < PAGES / 16, kept
