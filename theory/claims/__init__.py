"""The registry of claims: every statement of the theory that the toolkit checks numerically.

A :class:`Claim` states *what* is claimed, *where* it comes from, *how* it is checked (the
protocol) and *when it passes* (the criterion), all fixed before any number is seen. Its check
function lives in the numerics layer and is named by a dotted path (``"module:function"``), so
this package imports nothing of ours; :func:`run_claim` resolves it at run time.

A check function has the signature ``check(mode: str) -> CheckResult`` with ``mode`` in
``{"quick", "full"}``. Claim definitions live in one module per area (``cbn.theory.claims.linear``,
...), each exposing ``CLAIMS: list[Claim]``; :data:`AREAS` lists those modules.
"""

from __future__ import annotations

import fnmatch
import importlib
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["AREAS", "KINDS", "MODES", "CheckResult", "Claim", "Kind", "all_claims", "resolve_check",
           "run_claim", "select_claims", "verdict_of"]

Kind = Literal["exact identity", "inequality", "asymptotic scaling", "empirical prediction"]
KINDS: tuple[str, ...] = ("exact identity", "inequality", "asymptotic scaling",
                          "empirical prediction")
MODES: tuple[str, ...] = ("quick", "full")

#: Modules under ``cbn.theory.claims`` that define claims, one per area.
AREAS: tuple[str, ...] = ("fourier", "linear", "relu", "dynamics", "convex", "structure",
                          "bottleneck")


@dataclass(frozen=True)
class Claim:
    """One checkable statement of the theory.

    Attributes
    ----------
    id : dotted identifier, e.g. ``"linear.closed_form"``
    statement : the claim, in LaTeX-friendly text
    source : paper(s) and/or ``"our derivation"`` (paper_notes/theory.md section)
    kind : one of :data:`KINDS`
    protocol : sizes, depths, seeds, optimiser: how the numbers are produced
    criterion : the pass rule, fixed in advance (with its tolerance and why)
    check : ``"module:function"`` of the check function in the numerics layer
    expected : ``"pass"`` (the default: we assert the claim) or ``"fail"``: a statement of
        paper_notes/theory.md that our numerics refute. Its check is kept and run every time, like a
        strict
        xfail: it must keep failing (verdict FINDING); if it starts to pass the verdict is
        UNEXPECTED PASS, which fails the run just as a failing asserted claim does.
    finding : for ``expected == "fail"``: what the numbers show instead (one paragraph)
    finding_band : for ``expected == "fail"``: ``{mode: (low, high)}``, the size of the
        discrepancy the finding reports, pinned: the check's ``details["finding_size"]`` (else
        its ``measured``) must lie in the band of the mode, else the verdict is FINDING CHANGED
        (a failure of a different size is a new result, not the recorded finding). Quick mode
        must be pinned; a mode without a band is not pinned (said in the record).
    """

    id: str
    statement: str
    source: str
    kind: Kind
    protocol: str
    criterion: str
    check: str
    expected: Literal["pass", "fail"] = "pass"
    finding: str = ""
    finding_band: dict[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.expected not in ("pass", "fail"):
            raise ValueError(f"claim {self.id}: expected must be 'pass' or 'fail'")
        if self.expected == "fail" and not self.finding:
            raise ValueError(f"claim {self.id}: an expected failure needs its finding")
        if self.expected == "fail" and "quick" not in self.finding_band:
            raise ValueError(f"claim {self.id}: an expected failure needs its finding_band "
                             f"(the size of the discrepancy, at least in quick mode)")
        for mode, (low, high) in self.finding_band.items():
            if mode not in MODES or not low <= high:
                raise ValueError(f"claim {self.id}: finding_band needs modes in {MODES} and "
                                 f"low <= high, got {mode!r}: ({low}, {high})")
        if self.kind not in KINDS:
            raise ValueError(f"claim {self.id}: kind {self.kind!r} is not one of {KINDS}")
        if ":" not in self.check:
            raise ValueError(f"claim {self.id}: check must be 'module:function'")


@dataclass
class CheckResult:
    """What a check measured. ``predicted`` and ``measured`` are numbers or short lists."""

    passed: bool
    predicted: Any
    measured: Any
    tolerance: Any
    details: dict[str, Any] = field(default_factory=dict)


def all_claims() -> list[Claim]:
    """Every registered claim, in area order; ids are unique."""
    claims: list[Claim] = []
    for area in AREAS:
        claims.extend(importlib.import_module(f"cbn.theory.claims.{area}").CLAIMS)
    ids = [c.id for c in claims]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise ValueError(f"duplicate claim ids: {sorted(dup)}")
    return claims


def select_claims(pattern: str | None = None) -> list[Claim]:
    """Claims whose id matches the shell-style ``pattern`` (all when None)."""
    claims = all_claims()
    if pattern is None:
        return claims
    chosen = [c for c in claims if fnmatch.fnmatch(c.id, pattern) or pattern in c.id]
    if not chosen:
        raise ValueError(f"no claim id matches {pattern!r}; `cbn check --list` shows the ids")
    return chosen


def resolve_check(claim: Claim):
    """Import and return the check function named by ``claim.check``."""
    module, _, name = claim.check.partition(":")
    return getattr(importlib.import_module(module), name)


def run_claim(claim: Claim, mode: str = "quick") -> dict[str, Any]:
    """Run one claim's check and return its report record.

    The record has ``id``, ``passed`` (the raw outcome of the check), ``verdict`` (see
    :func:`verdict_of`), ``ok`` (the verdict is PASS or FINDING), ``predicted``, ``measured``,
    ``tolerance``, ``details``, ``kind``, ``source``, ``statement``, ``criterion``,
    ``expected``, ``finding``, ``mode`` and ``seconds``. A check that raises is recorded as
    failed with the error in ``details`` (never hidden), and is never counted as a FINDING.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    start = time.perf_counter()
    try:
        result = resolve_check(claim)(mode)
        record = asdict(result)
    except Exception as exc:  # a crashing check is a failed check, reported with its error
        record = {"passed": False, "predicted": None, "measured": None, "tolerance": None,
                  "details": {"error": f"{type(exc).__name__}: {exc}"}}
    record["passed"] = bool(record["passed"])
    crashed = "error" in record["details"]
    size = record["details"].get("finding_size", record["measured"])
    record["verdict"] = "ERROR" if crashed else verdict_of(claim, record["passed"], size, mode)
    record["ok"] = record["verdict"] in ("PASS", "FINDING")
    record.update(id=claim.id, kind=claim.kind, source=claim.source,
                  statement=claim.statement, criterion=claim.criterion, mode=mode,
                  expected=claim.expected, finding=claim.finding,
                  seconds=time.perf_counter() - start)
    if claim.expected == "fail":
        record.update(finding_size=size, finding_band=claim.finding_band.get(mode))
    return record


def verdict_of(claim: Claim, passed: bool, size: Any = None, mode: str = "quick") -> str:
    """PASS / FAIL for asserted claims; for expected failures FINDING (failed, with a size in
    the pinned band of ``mode``, or no band for that mode), FINDING CHANGED (failed with a size
    outside it) or UNEXPECTED PASS."""
    if claim.expected == "pass":
        return "PASS" if passed else "FAIL"
    if passed:
        return "UNEXPECTED PASS"
    band = claim.finding_band.get(mode)
    if band is None:
        return "FINDING"
    try:
        inside = band[0] <= float(size) <= band[1]
    except (TypeError, ValueError):  # no scalar size: the finding cannot be confirmed
        inside = False
    return "FINDING" if inside else "FINDING CHANGED"
