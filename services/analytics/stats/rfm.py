"""Recency, frequency and monetary quintile scores, and the named groups built from them.

Scores are quintiles of the population scored together (1 = worst fifth, 5 = best fifth): recency
scores the *fewest* days since the last purchase highest; frequency and monetary the highest values.
Ties share a score (the score of their mean rank), so equal customers are never split, and a crowd of
equally recent customers scores high rather than at the bottom of its ranks.

Groups use the recency score R and FM, the frequency and monetary scores' mean rounded half up:

| group       | rule                | meaning                                        |
|-------------|---------------------|------------------------------------------------|
| champions   | R >= 4 and FM >= 4  | bought recently, often, for much               |
| loyal       | R >= 3 and FM >= 3  | (not champions) steady buyers                  |
| potential   | R >= 3 and FM <= 2  | recent but not yet frequent: new or promising  |
| at_risk     | R <= 2 and FM >= 3  | used to buy often and much, not lately         |
| hibernating | R == 2 and FM <= 2  | infrequent and not recent                      |
| lost        | R == 1 and FM <= 2  | the least recent fifth, rarely bought          |

Every one of the 25 (R, FM) cells belongs to exactly one group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

RfmGroup = Literal["champions", "loyal", "potential", "at_risk", "hibernating", "lost"]
GROUPS: tuple[RfmGroup, ...] = ("champions", "loyal", "potential", "at_risk", "hibernating", "lost")


@dataclass(frozen=True)
class RfmScore:
    recency: int
    frequency: int
    monetary: int

    @property
    def fm(self) -> int:
        return (self.frequency + self.monetary + 1) // 2

    @property
    def group(self) -> RfmGroup:
        return group_of(self.recency, self.fm)


def group_of(r: int, fm: int) -> RfmGroup:
    if r >= 4 and fm >= 4:
        return "champions"
    if r >= 3 and fm >= 3:
        return "loyal"
    if r >= 3:
        return "potential"
    if fm >= 3:
        return "at_risk"
    return "hibernating" if r == 2 else "lost"


def quintiles(values: Sequence[float], *, higher_is_better: bool = True) -> list[int]:
    """A 1-5 score per value by its rank in ``values`` (0 = worst); ties get the score of their mean rank."""
    n = len(values)
    if n == 0:
        return []
    order = sorted(range(n), key=lambda i: values[i], reverse=not higher_is_better)
    ranks: dict[float, list[int]] = {}
    for rank, index in enumerate(order):
        ranks.setdefault(values[index], []).append(rank)
    return [1 + int(5 * (sum(ranks[v]) / len(ranks[v])) // n) for v in values]


def score(recency_days: Sequence[float], frequency: Sequence[float], monetary: Sequence[float]) -> list[RfmScore]:
    r = quintiles(recency_days, higher_is_better=False)
    f = quintiles(frequency)
    m = quintiles(monetary)
    return [RfmScore(a, b, c) for a, b, c in zip(r, f, m, strict=True)]
