"""The cash bonus of one employee in one period, from a versioned policy.

With P the employee's weighted points, T their personal target (points), f = P / T x 100:

1. **Eligibility.** No target (or T <= 0), P <= 0, or f below the policy's minimum fulfilment:
   no bonus (0), whatever else holds.
2. **Accelerated points.** Points up to the first tier's threshold count once; each tier
   (``above_percent`` a_i >= 100, ascending, ``multiplier`` m_i) multiplies the points between
   T x a_i / 100 and the next tier's threshold (the last tier is open-ended):
   A = min(P, T x a_1/100) + sum_i m_i x max(0, min(P, T x a_(i+1)/100) - T x a_i/100).
3. **Gross** = rate_per_point x A.
4. **Quality multiplier** q = clamp(1 - c x complaint_penalty/100 - b x breach_penalty/100
   + (csat - csat_neutral) x csat_step/100, floor/100, ceiling/100), with c the complaints
   attributed to the employee, b the SLA breaches on their cases, csat their average rating
   (rounded to 0.01; the CSAT term is 0 without ratings). Complaints and breaches only lower q
   (lower is better); CSAT above neutral raises it, below lowers it (higher is better).
5. **Bonus** = min(round(gross x q, 0.01), cap) (no cap: no minimum).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from services.incentives.rules.money import HUNDRED, ONE, ZERO, percent, round_cents


@dataclass(frozen=True)
class AcceleratorTier:
    above_percent: Decimal
    multiplier: Decimal


@dataclass(frozen=True)
class QualityRule:
    complaint_penalty_percent: Decimal = Decimal("5")
    breach_penalty_percent: Decimal = Decimal("2")
    csat_neutral: Decimal = Decimal("4")
    csat_step_percent: Decimal = Decimal("5")
    floor_percent: Decimal = Decimal("50")
    ceiling_percent: Decimal = Decimal("110")


@dataclass(frozen=True)
class BonusPolicy:
    version: int
    rate_per_point: Decimal
    min_fulfilment_percent: Decimal
    accelerators: tuple[AcceleratorTier, ...]
    quality: QualityRule
    cap: Decimal | None


@dataclass(frozen=True)
class QualityMeasures:
    complaints: int = 0
    breaches: int = 0
    csat_sum: int = 0
    ratings: int = 0

    @property
    def csat_average(self) -> Decimal | None:
        return round_cents(Decimal(self.csat_sum) / self.ratings) if self.ratings else None


@dataclass(frozen=True)
class BonusResult:
    eligible: bool
    reason: str | None  # why not eligible
    fulfilment_percent: Decimal | None  # exact
    accelerated_points: Decimal
    gross: Decimal
    quality_multiplier: Decimal
    uncapped: Decimal
    capped: bool
    bonus: Decimal


class PolicyError(ValueError):
    """A policy the rules cannot apply (the use case turns it into a 422)."""


def check_tiers(tiers: Sequence[AcceleratorTier]) -> None:
    previous = None
    for tier in tiers:
        if tier.above_percent < HUNDRED:
            raise PolicyError("accelerators apply above 100 % fulfilment: above_percent must be at least 100")
        if tier.multiplier < ONE:
            raise PolicyError("an accelerator multiplier is at least 1")
        if previous is not None and tier.above_percent <= previous.above_percent:
            raise PolicyError("accelerator tiers must have strictly ascending above_percent")
        previous = tier


def check_quality(rule: QualityRule) -> None:
    if not ZERO <= rule.floor_percent <= HUNDRED <= rule.ceiling_percent:
        raise PolicyError("the quality multiplier's bounds must satisfy 0 <= floor <= 100 <= ceiling")
    if not Decimal(1) <= rule.csat_neutral <= Decimal(5):
        raise PolicyError("csat_neutral is on the 1-5 rating scale")


def accelerated_points(points: Decimal, target: Decimal, tiers: Sequence[AcceleratorTier]) -> Decimal:
    if points <= ZERO:
        return ZERO
    thresholds = [target * t.above_percent / HUNDRED for t in tiers]
    if not tiers:
        return points
    total = min(points, thresholds[0])
    for i, tier in enumerate(tiers):
        upper = thresholds[i + 1] if i + 1 < len(tiers) else None
        top = points if upper is None else min(points, upper)
        band = top - thresholds[i]
        if band > ZERO:
            total += band * tier.multiplier
    return total


def quality_multiplier(measures: QualityMeasures, rule: QualityRule) -> Decimal:
    value = (HUNDRED - measures.complaints * rule.complaint_penalty_percent
             - measures.breaches * rule.breach_penalty_percent)
    csat = measures.csat_average
    if csat is not None:
        value += (csat - rule.csat_neutral) * rule.csat_step_percent
    value = max(rule.floor_percent, min(rule.ceiling_percent, value))
    return value / HUNDRED


def compute_bonus(*, points: Decimal, target: Decimal | None, measures: QualityMeasures,
                  policy: BonusPolicy) -> BonusResult:
    fulfilment = percent(points, target)
    q = quality_multiplier(measures, policy.quality)

    def refused(reason: str) -> BonusResult:
        return BonusResult(eligible=False, reason=reason, fulfilment_percent=fulfilment, accelerated_points=ZERO,
                           gross=ZERO, quality_multiplier=q, uncapped=ZERO, capped=False, bonus=ZERO)

    if fulfilment is None or target is None:
        return refused("no personal target in the plan")
    if points <= ZERO:
        return refused("no positive weighted points")
    if fulfilment < policy.min_fulfilment_percent:
        return refused(f"fulfilment below the minimum of {policy.min_fulfilment_percent:f} %")
    accelerated = accelerated_points(points, target, policy.accelerators)
    gross = policy.rate_per_point * accelerated
    uncapped = round_cents(gross * q)
    capped = policy.cap is not None and uncapped > policy.cap
    bonus = policy.cap if capped and policy.cap is not None else uncapped
    return BonusResult(eligible=True, reason=None, fulfilment_percent=fulfilment, accelerated_points=accelerated,
                       gross=gross, quality_multiplier=q, uncapped=uncapped, capped=capped, bonus=round_cents(bonus))
