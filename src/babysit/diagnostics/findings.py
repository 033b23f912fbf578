"""Findings: what the babysitter measured, what it expected, and what to try, in plain words."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

STATUSES = ("ok", "warn", "fail")
_MARK = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}


@dataclass
class Finding:
    """One check's verdict.

    ``name`` is stable (tests and reports key on it), ``status`` is ok/warn/fail,
    ``measured`` and ``expected`` are short human-readable strings, ``advice`` says what
    to try, and ``data`` keeps the raw numbers (for plots and reports).
    """

    name: str
    status: str
    measured: str
    expected: str
    advice: str = ""
    data: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"Finding {self.name!r}: status must be one of {STATUSES}, got {self.status!r}")

    def __str__(self) -> str:
        line = f"[{_MARK[self.status]}] {self.name}: measured {self.measured}; expected {self.expected}"
        return f"{line}\n       -> {self.advice}" if self.advice and self.status != "ok" else line

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Report:
    """A list of findings with a verdict: failed if any check failed."""

    findings: list[Finding] = field(default_factory=list)

    def __getitem__(self, name: str) -> Finding:
        for finding in self.findings:
            if finding.name == name:
                return finding
        raise KeyError(f"no finding named {name!r}; have {[f.name for f in self.findings]}")

    def __contains__(self, name: str) -> bool:
        return any(finding.name == name for finding in self.findings)

    def __iter__(self):
        return iter(self.findings)

    @property
    def failed(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.status == "fail"]

    @property
    def warnings(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.status == "warn"]

    @property
    def passed(self) -> bool:
        return not self.failed

    def __str__(self) -> str:
        verdict = "all checks passed" if self.passed and not self.warnings else (
            f"{len(self.failed)} failed, {len(self.warnings)} warnings")
        return "\n".join([*(str(finding) for finding in self.findings), f"-- {verdict}"])

    def to_dict(self) -> dict:
        return {"findings": [finding.to_dict() for finding in self.findings]}
