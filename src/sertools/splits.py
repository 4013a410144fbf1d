"""The corpus partitions, in the one order every stage, table and figure uses.

MSP-Podcast 2.0 names its partitions in the ``Split_Set`` column of
``labels_consensus.csv`` (see docs/bad_input.md for how other spellings are
read). Train fits the model, Development selects the checkpoint, and the two
test sets are reported: Test1 (speakers may overlap Train's) and Test2
(speaker-disjoint).
"""

from __future__ import annotations

from collections.abc import Iterable

TRAIN = "Train"
DEVELOPMENT = "Development"
TEST1 = "Test1"
TEST2 = "Test2"
#: every partition a run uses, in reporting order
SPLITS: tuple[str, ...] = (TRAIN, DEVELOPMENT, TEST1, TEST2)
#: the reported test sets
TEST_SPLITS: tuple[str, ...] = (TEST1, TEST2)
#: pseudo-split that pools every evaluated split (label summaries, strata tables)
ALL = "all"
#: the split whose examples and headline figures are shown when it is evaluated
HEADLINE = TEST1


def ordered(splits: Iterable[str]) -> list[str]:
    """``splits`` in reporting order (Train, Development, Test1, Test2, all), unknown names last, by name."""
    rank = {s: i for i, s in enumerate((*SPLITS, ALL))}
    return sorted(splits, key=lambda s: (rank.get(s, len(rank)), s))
