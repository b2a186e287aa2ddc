"""partition_of: stable across releases, even across keys."""

from __future__ import annotations

import random
import uuid
from collections import Counter

import pytest

from piyasa_contracts import Topology, partition_of

# Computed once. If one of these changes, every chat and bot moves to another
# partition and in-flight work is routed to replicas that do not own it.
KNOWN = [
    ("c84b1f0e6d2a4c9e8b7f3a5d1e9c2b40", 32, 13),
    ("3f9d2c7a1b8e4d6f9a0c5e7b2d4f6a81", 32, 6),
    ("chat-1", 32, 27),
    ("a", 32, 15),
    ("c84b1f0e6d2a4c9e8b7f3a5d1e9c2b40", 7, 3),
    ("3f9d2c7a1b8e4d6f9a0c5e7b2d4f6a81", 1024, 262),
]


@pytest.mark.parametrize(("key", "partitions", "expected"), KNOWN)
def test_partition_is_stable_across_releases(key: str, partitions: int, expected: int) -> None:
    assert partition_of(key, partitions) == expected


def test_topology_partitions_with_the_same_function() -> None:
    topology = Topology(partitions=32)
    assert topology.partition("chat-1") == partition_of("chat-1", 32)


def test_keys_spread_evenly_over_partitions() -> None:
    rng = random.Random(20250314)
    keys = [uuid.UUID(int=rng.getrandbits(128), version=4).hex for _ in range(10_000)]

    counts = Counter(partition_of(key, 32) for key in keys)

    mean = len(keys) / 32
    assert set(counts) == set(range(32))
    assert all(0.75 * mean <= n <= 1.25 * mean for n in counts.values()), counts


def test_one_partition_takes_everything_and_zero_is_refused() -> None:
    assert {partition_of(str(i), 1) for i in range(100)} == {0}
    with pytest.raises(ValueError):
        partition_of("chat-1", 0)
