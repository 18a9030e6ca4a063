"""What every command reports, as data: a :class:`Diagnostic` per problem (file, line, column, rule,
severity, message, fix), the files a dry run would change, and the run's summary line. Pure, no I/O.

The renderers (:mod:`generator.report.formats`) turn a :class:`Report` into text, JSON, GitHub or Azure
DevOps annotations or SARIF; the adapters (:mod:`generator.report.sources`) build reports from what the
commands return or raise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["RULES", "Change", "Diagnostic", "Report", "Rule", "Severity", "rule_for", "rule_name"]

Severity = Literal["error", "warning", "note"]


@dataclass(frozen=True)
class Diagnostic:
    """One problem. ``file`` is a path relative to the working directory with ``/`` separators ("" when
    the problem is not about one file); ``line``/``column`` are 1-based (0: unknown). ``message`` never
    holds a secret value: the producers name key paths, never values."""

    rule: str
    severity: Severity
    message: str
    file: str = ""
    line: int = 0
    column: int = 0
    fix: str = ""

    def text(self) -> str:
        """``file:line:col: message`` (the parts that are known), as compilers and fluxforge print it."""
        where = self.file
        if where and self.line:
            where += f":{self.line}" + (f":{self.column}" if self.column else "")
        return f"{where}: {self.message}" if where else self.message


@dataclass(frozen=True)
class Change:
    """A file a dry run (``render --check``, ``upgrade --dry-run``) would write or remove, with its diff."""

    file: str
    status: Literal["missing", "stale", "orphaned", "changed", "removed"]
    diff: str


@dataclass(frozen=True)
class Report:
    """A command's outcome: its diagnostics in order, the changes a dry run found, the summary line and
    the exit code the command ends with."""

    command: str
    diagnostics: tuple[Diagnostic, ...]
    summary: str
    exit_code: int
    changes: tuple[Change, ...] = ()
    rules: tuple[Rule, ...] = ()  # rules outside the catalogue (doctor's gates), with their titles
    anchor: str = "fluxforge.yaml"  # where SARIF shows a problem about no one file (GitHub needs a location)

    def count(self, severity: Severity) -> int:
        return sum(d.severity == severity for d in self.diagnostics)


@dataclass(frozen=True)
class Rule:
    """A rule of the catalogue (SARIF ``reportingDescriptor``): its id, a PascalCase name, what it finds and
    the generic fix (a diagnostic may carry a more precise one)."""

    id: str
    name: str
    summary: str
    fix: str


def _rules(*rows: tuple[str, str, str, str]) -> dict[str, Rule]:
    return {row[0]: Rule(*row) for row in rows}


RULES: Final[dict[str, Rule]] = _rules(
    (
        "check.not-encrypted",
        "NotEncrypted",
        "A file a .sops.yaml creation rule covers is not SOPS-encrypted.",
        "run `fluxforge encrypt --in-place FILE` (or stage it with the hook installed)",
    ),
    (
        "check.plaintext-secret",
        "PlaintextSecret",
        "A Kubernetes Secret holds clear-text data/stringData values.",
        "add a .sops.yaml creation rule for the file and run `fluxforge encrypt --in-place FILE`",
    ),
    (
        "check.malformed",
        "MalformedSopsFile",
        "A SOPS-encrypted file is malformed, tampered with, or does not match its creation rule.",
        (
            "re-encrypt it from the plaintext with `fluxforge encrypt --in-place FILE`, or `fluxforge updatekeys FILE` "
            "for recipients"
        ),
    ),
    (
        "check.parse",
        "Unparsable",
        "A file a rule covers cannot be read as its store (YAML, JSON, dotenv, INI).",
        "fix the syntax at the position given",
    ),
    (
        "check.shape",
        "NotEncryptable",
        "A document whose top level is a list or a plain value cannot be encrypted.",
        "put the values under a key, or move the file out of the rule",
    ),
    (
        "check.temp-file",
        "TempFile",
        "A fluxforge temp file left by an interrupted run (it may hold plaintext).",
        "delete it and add '.*.fluxforge-*.tmp' to .gitignore",
    ),
    (
        "check.unreadable",
        "Unreadable",
        "A file cannot be read (permissions, a FIFO, a device, too big).",
        "make the file readable or remove it from the check",
    ),
    (
        "check.no-rules",
        "NoCreationRules",
        "No .sops.yaml creation rules: nothing says what must be encrypted.",
        "run `fluxforge render` (it writes .sops.yaml) or pass --sops-config FILE",
    ),
    (
        "lint.removed-api",
        "RemovedApiVersion",
        "An apiVersion the target Flux version no longer serves.",
        "run `flux migrate` against the cluster before upgrading, then set the served apiVersion",
    ),
    (
        "lint.unserved-api",
        "UnservedApiVersion",
        "A Flux apiVersion the target Flux version does not serve yet.",
        "use the apiVersion the target serves, or target a newer Flux version",
    ),
    (
        "lint.index-patch",
        "IndexJsonPatch",
        "A JSON patch addresses a list element by index.",
        "use a name-targeted strategic-merge patch, or append with '/-'",
    ),
    (
        "lint.strict-substitution",
        "UnsetSubstitution",
        "A ${var} without default that the Kustomization's postBuild does not set (fails from Flux 2.9).",
        "set the variable in postBuild.substitute/substituteFrom or write ${var:=default}",
    ),
    (
        "lint.tenant-isolation",
        "TenantIsolation",
        "An identity can decrypt a Key Vault key that .sops.yaml also uses outside its folders.",
        "give the tenant (or cluster) a key of its own in fluxforge.yaml, then `fluxforge render`",
    ),
    (
        "lint.lockdown-flag",
        "LockdownFlagTooNew",
        "A lockdown flag the target Flux version's controllers do not know (they would not start).",
        "remove the flag, or upgrade Flux to the version that has it",
    ),
    (
        "lint.remote-base",
        "RemoteBaseUnderLockdown",
        "A kustomization names a remote base, which flux.lockdown's --no-remote-bases=true refuses.",
        "vendor the base into the repository",
    ),
    (
        "lint.yaml",
        "InvalidYaml",
        "A YAML file cannot be parsed, so it was not checked for JSON patches.",
        "fix the YAML syntax",
    ),
    (
        "render.stale",
        "StaleGeneratedFile",
        "A generated file differs from what the config renders.",
        "run `fluxforge render` and commit the result",
    ),
    (
        "render.missing",
        "MissingGeneratedFile",
        "A file the config renders is missing.",
        "run `fluxforge render` and commit the result",
    ),
    (
        "render.orphaned",
        "OrphanedGeneratedFile",
        "A generated file the config no longer yields.",
        "run `fluxforge render` (it deletes the file) and commit the result",
    ),
    (
        "render.lock",
        "StaleLock",
        "fluxforge.lock (the merge base) is missing or stale.",
        "run `fluxforge render` and commit fluxforge.lock",
    ),
    (
        "render.conflict",
        "RenderConflict",
        "Your edits to a generated file clash with the render.",
        "edit the file (or the config) by hand, or rerun with --force to take the render's side",
    ),
    (
        "upgrade.conflict",
        "UpgradeConflict",
        "Your edits to a generated file clash with the upgrade.",
        "edit the file by hand, or rerun with --force to take the upgrade's side",
    ),
    ("upgrade.refused", "UpgradeRefused", "The upgrade cannot be done as asked.", ""),
    ("config.invalid", "InvalidConfig", "fluxforge.yaml is unreadable or invalid.", "fix the key named"),
    ("fluxforge.error", "Error", "The command failed.", ""),
    ("fluxforge.warning", "Warning", "Something to look at; not a failure.", ""),
    ("fluxforge.note", "Note", "What the user should know; not a problem.", ""),
)


def rule_name(rule_id: str) -> str:
    """``doctor.static.sops-rules`` -> ``DoctorStaticSopsRules`` (SARIF's ``name``)."""
    return "".join(part.capitalize() for part in rule_id.replace("-", ".").replace("_", ".").split("."))


def rule_for(rule_id: str, extra: tuple[Rule, ...] = ()) -> Rule:
    """The catalogue entry of ``rule_id`` (or of ``extra``); any other id gets a generated one."""
    known = RULES.get(rule_id) or next((rule for rule in extra if rule.id == rule_id), None)
    return known if known is not None else Rule(rule_id, rule_name(rule_id), f"fluxforge rule {rule_id}.", "")
