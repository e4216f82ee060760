"""What an audit found: one :class:`Check` per question asked, each with its failures.

A failure names the file (relative to the campaign folder) and, where the problem is a
sample's, its global sample index (and the axis for a solved property), so a user can go
straight to it. :class:`AuditReport` prints as a readable summary and serialises to JSON.
"""

from __future__ import annotations

import dataclasses

#: Failures printed per check in the summary (the JSON has all of them).
SHOWN = 8


@dataclasses.dataclass(frozen=True)
class Failure:
    """One mismatch: the file at fault, the sample (and axis) where it applies, what is wrong."""

    file: str
    message: str
    sample: int | None = None
    axis: int | None = None

    def __str__(self) -> str:
        where = self.file
        if self.sample is not None:
            where += f": sample {self.sample}"
        if self.axis is not None:
            where += f" axis {'xyz'[self.axis]}"
        return f"{where}: {self.message}"


@dataclasses.dataclass
class Check:
    """One audit question, how many items it covered, and what failed.

    ``checked`` counts the items compared (files, hashes, samples, solves); ``details``
    holds figures worth reporting even when nothing failed (status counts, tolerances).
    ``skipped`` says why the check could not run at all (it is then not a failure by itself:
    whatever made it impossible is reported by another check).
    """

    name: str
    title: str
    checked: int = 0
    unit: str = "items"
    failures: list[Failure] = dataclasses.field(default_factory=list)
    details: dict = dataclasses.field(default_factory=dict)
    skipped: str | None = None

    def fail(self, file, message, *, sample=None, axis=None) -> None:
        self.failures.append(Failure(str(file), message, None if sample is None else int(sample),
                                     None if axis is None else int(axis)))

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        if self.skipped:
            head = f"  skip  {self.title}: {self.skipped}"
        else:
            state = "ok  " if self.ok else "FAIL"
            tail = f", {len(self.failures)} failed" if self.failures else ""
            head = f"  {state}  {self.title}: {self.checked} {self.unit} checked{tail}"
        if self.details.get("note"):
            head += f" ({self.details['note']})"
        lines = [head] + [f"          {f}" for f in self.failures[:SHOWN]]
        if len(self.failures) > SHOWN:
            lines.append(f"          ... and {len(self.failures) - SHOWN} more (see the JSON report)")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"name": self.name, "title": self.title, "ok": self.ok, "checked": self.checked,
                "unit": self.unit, "skipped": self.skipped, "details": self.details,
                "failures": [dataclasses.asdict(f) for f in self.failures]}


@dataclasses.dataclass
class AuditReport:
    """All checks of one campaign audit."""

    campaign: str
    options: dict
    checks: list[Check] = dataclasses.field(default_factory=list)
    started_utc: str = ""
    ended_utc: str = ""

    @property
    def failures(self) -> list[Failure]:
        return [f for c in self.checks for f in c.failures]

    @property
    def ok(self) -> bool:
        return not self.failures

    def culprits(self) -> list[str]:
        """Files named by at least one failure, sorted."""
        return sorted({f.file for f in self.failures})

    def summary(self) -> str:
        lines = [f"audit of {self.campaign}"] + [c.summary() for c in self.checks]
        if self.ok:
            lines.append("audit passed: every check agrees with the files on disk")
        else:
            failed = sum(not c.ok for c in self.checks)
            lines.append(f"audit FAILED: {len(self.failures)} problem(s) in {failed} check(s); "
                         f"files at fault: {', '.join(self.culprits())}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"format": "microinv.audit/1", "campaign": self.campaign, "ok": self.ok,
                "failures": len(self.failures), "culprits": self.culprits(),
                "options": self.options, "started_utc": self.started_utc,
                "ended_utc": self.ended_utc, "checks": [c.to_json() for c in self.checks]}
