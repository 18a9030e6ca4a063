"""Upgrade lint: what in a GitOps repository breaks, or may break, under a target Flux version.

* apiVersions the target no longer serves (``*/v1beta1`` gone in 2.7, ``v1beta2`` in 2.8,
  image/notification ``v1beta2`` in 2.9) → error, with the advice to run ``flux migrate``;
* Flux apiVersions the target does not serve yet (``source.toolkit.fluxcd.io/v1`` OCIRepository
  before 2.6, ArtifactGenerator before 2.7) → error;
* JSON patches that address a list element by index (``/rules/10``; anything but an ``add`` to
  ``/-``) → warning: indexes shift between releases (the ``serviceaccounts/token`` rule of the
  ``crd-controller`` ClusterRole every Flux controller shares moved from 10 to 11 in 2.7);
* with a ``fluxforge.yaml``: an identity that can decrypt a Key Vault key ``.sops.yaml`` also uses outside
  its folders → error when a tenant is involved (:mod:`generator.flux.isolation`: a tenant without a key of
  its own, a break-glass key an identity decrypts), warning when clusters share a platform key;
* ``${var}`` without a default → warning from 2.9, where ``StrictPostBuildSubstitutions`` is on by
  default: only in what a Kustomization with ``postBuild`` builds, not in objects labelled or annotated
  ``kustomize.toolkit.fluxcd.io/substitute: disabled``, and only when that Kustomization does not set
  ``var`` (:mod:`generator.flux.substitution`).

``lint_text`` is pure; ``lint_tree`` reads the files.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from generator.errors import UsageError
from generator.flux.substitution import PostBuild, postbuild_scopes, unset_variables
from generator.flux.versions import (
    NEWEST,
    FluxVersion,
    api_versions,
    features_for,
    first_served,
    removed_apis_between,
)
from generator.fsio import walk_files
from generator.yamlio import YamlError, compose_all

STRICT_SUBSTITUTION_MINOR = 9
SKIP_FILES = frozenset({"gotk-components.yaml"})  # written by `flux install --export`, not by users

_API_LINE = re.compile(r"""^\s*(?:-\s+)?apiVersion:\s*["']?([\w.-]+/[\w.-]+)["']?\s*(?:#.*)?$""")
_KIND_LINE = re.compile(r"""^(\s*)(?:-\s+)?kind:\s*["']?(\w+)["']?""")
_FLUX_GROUP = re.compile(r"^[\w.-]*\.(toolkit|extensions)\.fluxcd\.io/")
_MAY_HAVE_OPS = re.compile(r"""["']?\bop["']?\s*:""")  # only such files are parsed for JSON patches


@dataclass(frozen=True, order=True)
class Finding:
    file: str
    line: int
    level: str  # "error" | "warning"
    message: str
    rule: str = dataclasses.field(
        default="lint.yaml", compare=False
    )  # the report's rule id (generator.report.model.RULES)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.level}: {self.message}"


def lint_text(file: str, text: str, target: FluxVersion, postbuild: tuple[PostBuild, ...] = ()) -> list[Finding]:
    """All findings for one YAML file's text; ``postbuild``: the Kustomizations with ``postBuild`` whose
    build reads the file (none: ``${var}`` is not substituted there, so not checked)."""
    found = list(_removed_apis(file, text, target))
    found.extend(_unserved_apis(file, text, target))
    if target.minor >= STRICT_SUBSTITUTION_MINOR and postbuild and not _is_sops_encrypted(text):
        found.extend(_strict_substitutions(file, text, postbuild))
    if "{{" not in text and _MAY_HAVE_OPS.search(text):  # Go/Helm templates are not YAML yet
        try:
            docs = compose_all(text)
        except YamlError as err:  # one line, keep linting others
            found.append(
                Finding(file, err.line or 1, "warning", "not valid YAML, not checked for JSON patches", "lint.yaml")
            )
        else:
            for doc in docs:
                found.extend(_index_patches(file, doc, 0, target))
    return sorted(set(found))


def _removed_apis(file: str, text: str, target: FluxVersion) -> Iterator[Finding]:
    removed = {r.api_version: r for r in removed_apis_between(FluxVersion(2, 0, 0), target)}
    current = api_versions(target)
    lines = text.splitlines()
    for num, line in enumerate(lines):
        match = _API_LINE.match(line)
        if match is None or match.group(1) not in removed:
            continue
        gone = removed[match.group(1)]
        kind = _kind_near(lines, num, len(line) - len(line.lstrip(" -")))
        new = current.get(kind or "", "")
        fix = f", then set apiVersion: {new}" if new else ""
        yield Finding(
            file,
            num + 1,
            "error",
            f"{gone.api_version}{f' {kind}' if kind else ''} is no longer served from Flux {gone.removed_in} "
            f"(target {target}): run `flux migrate` against the cluster before upgrading{fix}",
            "lint.removed-api",
        )


def _unserved_apis(file: str, text: str, target: FluxVersion) -> Iterator[Finding]:
    lines = text.splitlines()
    for num, line in enumerate(lines):
        match = _API_LINE.match(line)
        if match is None or not _FLUX_GROUP.match(match.group(1)):
            continue
        kind = _kind_near(lines, num, len(line) - len(line.lstrip(" -")))
        since = first_served(kind, match.group(1)) if kind else None
        if since is not None and since > target.minor:
            yield Finding(
                file,
                num + 1,
                "error",
                f"{match.group(1)} {kind} is served from Flux 2.{since} on, not by the target {target}",
                "lint.unserved-api",
            )


def _kind_near(lines: list[str], num: int, indent: int) -> str | None:
    """The ``kind:`` at the same indentation in the same object (searching up to 40 lines around)."""
    order = sorted(range(max(0, num - 40), min(len(lines), num + 40)), key=lambda i: abs(i - num))
    for i in order:
        match = _KIND_LINE.match(lines[i])
        if match and len(lines[i]) - len(lines[i].lstrip(" -")) == indent:
            return match.group(2)
    return None


def _check_flag(file: str, value: Node | None, offset: int, target: FluxVersion) -> Iterator[Finding]:
    """A lockdown flag the target version's controllers do not know (they would not start)."""
    from generator.flux.lockdown import LOCKDOWN_FLAGS

    if not isinstance(value, ScalarNode):
        return
    for flag in LOCKDOWN_FLAGS:
        if str(value.value).split("=", 1)[0] == flag.name and target.minor < flag.since_minor:
            yield Finding(
                file,
                offset + value.start_mark.line + 1,
                "error",
                f"{flag.name} exists from Flux 2.{flag.since_minor} on; {', '.join(flag.controllers)} of "
                f"Flux {target} would not start with it: remove it, or upgrade to 2.{flag.since_minor}",
                "lint.lockdown-flag",
            )


def _index_patches(file: str, node: Node | None, offset: int, target: FluxVersion) -> Iterator[Finding]:
    """JSON-patch operations anywhere in the tree, also inside ``patch:`` strings (libyaml nodes)."""
    if isinstance(node, SequenceNode):
        for item in node.value:
            yield from _index_patches(file, item, offset, target)
        return
    if not isinstance(node, MappingNode):
        return
    fields = {k.value: v for k, v in node.value if isinstance(k, ScalarNode)}
    if _is_operation(fields):
        yield from _check_op(file, fields, offset)
        yield from _check_flag(file, fields.get("value"), offset, target)
    for key, value in fields.items():
        if key == "patch" and isinstance(value, ScalarNode):
            yield from _embedded_patches(file, value, offset, target)
        else:
            yield from _index_patches(file, value, offset, target)


def _is_operation(fields: dict[str, Node]) -> bool:
    return isinstance(fields.get("op"), ScalarNode) and isinstance(fields.get("path"), ScalarNode)


def _embedded_patches(file: str, value: ScalarNode, offset: int, target: FluxVersion) -> Iterator[Finding]:
    """The operations of a ``patch:`` string, at their lines in the file (a block scalar starts a line
    below its key)."""
    block = value.style in ("|", ">")
    for doc in _compose(value.value):
        yield from _index_patches(file, doc, offset + value.start_mark.line + int(block), target)


def _check_op(file: str, op: dict[str, Node], offset: int) -> Iterator[Finding]:
    kind = str(op["op"].value)
    for field in ("path", "from"):
        node = op.get(field)
        if not isinstance(node, ScalarNode):
            continue
        pointer = str(node.value)
        segments = pointer.split("/")[1:]
        append = field == "path" and kind == "add" and segments[-1:] == ["-"]
        if append or not any(seg.isdigit() for seg in segments):
            continue
        yield Finding(
            file,
            offset + node.start_mark.line + 1,
            "warning",
            f"JSON patch '{kind} {pointer}' addresses a list element by index; indexes shift between Flux "
            "versions (in the crd-controller ClusterRole that all Flux controllers share, the "
            "serviceaccounts/token rule /rules/10 became /rules/11 in 2.7): use a name-targeted "
            "strategic-merge patch, or append with '/-'",
            "lint.index-patch",
        )


def _strict_substitutions(file: str, text: str, postbuild: tuple[PostBuild, ...]) -> Iterator[Finding]:
    for line, name, missing in unset_variables(text, postbuild):
        yield Finding(
            file,
            line,
            "warning",
            f"${{{name}}} has no default and Kustomization {', '.join(missing)} (postBuild) does not set it: with "
            "StrictPostBuildSubstitutions (on by default from Flux 2.9) its build fails; set "
            f"{name} in postBuild.substitute/substituteFrom, write ${{{name}:=default}}, or label the object "
            "kustomize.toolkit.fluxcd.io/substitute: disabled",
            "lint.strict-substitution",
        )


@dataclass(frozen=True)
class LintReport:
    target: FluxVersion
    findings: tuple[Finding, ...]
    root: Path = Path()  # the folder the findings' paths are relative to

    @property
    def errors(self) -> int:
        return sum(f.level == "error" for f in self.findings)

    def failed(self, *, strict: bool = False) -> bool:
        return self.errors > 0 or (strict and bool(self.findings))

    def summary(self) -> str:
        warnings = len(self.findings) - self.errors
        return f"lint for Flux {self.target}: {self.errors} error(s), {warnings} warning(s)"


def target_version(to: str | None) -> FluxVersion:
    """``--to``: ``2.9.4``, ``v2.9.4`` or ``2.9`` (the newest documented patch of that minor)."""
    if not to:
        return NEWEST
    text = to.strip().removeprefix("v")
    if re.fullmatch(r"\d+\.\d+", text):
        text = str(NEWEST) if text == f"{NEWEST.major}.{NEWEST.minor}" else f"{text}.0"
    try:
        return features_for(text).version
    except ValueError as err:
        raise UsageError(f"--to: {err}") from None


def run_lint(root: Path | None, to: str | None = None) -> LintReport:
    """``fluxforge lint``: lint the repository at ``root`` for an upgrade to ``to`` (default: newest).
    No ``root``: the folder of the nearest ``fluxforge.yaml`` (here or in a parent folder), else here."""
    target = target_version(to)
    if root is None:
        root = _default_root()
    if not root.is_dir():
        raise UsageError(f"{root}: not a directory; give the repository root")
    return LintReport(target, tuple(lint_tree(root, target) + isolation_findings(root) + lockdown_findings(root)), root)


def lockdown_findings(root: Path) -> list[Finding]:
    """With ``flux.lockdown``: an error per remote base a Kustomization's build names (kustomize-controller's
    ``--no-remote-bases=true`` refuses the build), at its line in the kustomization file."""
    from generator.config.load import CONFIG_NAME, load_config
    from generator.errors import ConfigError
    from generator.flux.kustomize_refs import build_inputs

    if not (root / CONFIG_NAME).is_file():
        return []
    try:
        config = load_config(root / CONFIG_NAME)
    except ConfigError:
        return []  # isolation_findings names it once
    if not config.flux.lockdown:
        return []
    remote = {
        r for cluster in config.clusters for ks in cluster.kustomizations for r in build_inputs(root, ks.path).remote
    }
    found = []
    for file, entry in sorted(remote):
        lines = (root / file).read_text(encoding="utf-8", errors="replace").splitlines()
        line = next((i + 1 for i, text in enumerate(lines) if entry in text), 1)
        found.append(
            Finding(
                file,
                line,
                "error",
                f"remote base {entry}: flux.lockdown runs kustomize-controller with "
                "--no-remote-bases=true, which refuses it; vendor it into the repository",
                "lint.remote-base",
            )
        )
    return found


def isolation_findings(root: Path) -> list[Finding]:
    """With a ``fluxforge.yaml`` at ``root``: a finding per identity that can decrypt a Key Vault key used
    outside its folders (:func:`generator.flux.isolation.exposures`), at the identity's line; a config that
    does not load is one warning (``fluxforge render`` names its problems)."""
    from generator.config.load import CONFIG_NAME, load_config
    from generator.config.problems import line_of
    from generator.errors import ConfigError
    from generator.flux.isolation import exposures
    from generator.flux.sops_coverage import shared_folders
    from generator.yamlio import load_lines

    path = root / CONFIG_NAME
    if not path.is_file():
        return []
    try:
        config = load_config(path)
    except ConfigError as err:
        return [
            Finding(
                CONFIG_NAME,
                1,
                "warning",
                f"not checked for tenant isolation: {err.problems[0]}",
                "lint.tenant-isolation",
            )
        ]
    tree = load_lines(path.read_text(encoding="utf-8"))
    return [
        Finding(CONFIG_NAME, line_of(tree, found.identity.where), found.level, found.message, "lint.tenant-isolation")
        for found in exposures(config, shared_folders(root, config))
    ]


def _default_root() -> Path:
    from generator.config.load import config_path_for
    from generator.errors import ConfigError

    try:
        return config_path_for(None).parent
    except ConfigError:
        return Path()  # a Flux repository without fluxforge.yaml: lint it as it is


def lint_tree(root: Path, target: FluxVersion) -> list[Finding]:
    """Lint every YAML file under ``root`` (``.git`` and Flux's own gotk-components.yaml excluded)."""
    files = sorted(_yaml_files(root))
    texts = {path.relative_to(root).as_posix(): path.read_text(encoding="utf-8", errors="replace") for path in files}
    scopes = postbuild_scopes(root, texts) if target.minor >= STRICT_SUBSTITUTION_MINOR else {}
    found: list[Finding] = []
    for rel, text in texts.items():
        found.extend(lint_text(rel, text, target, scopes.get(rel, ())))
    return found


def _yaml_files(root: Path) -> Iterator[Path]:
    for path in walk_files(root):
        if path.name not in SKIP_FILES and path.suffix in (".yaml", ".yml") and path.is_file():
            yield path


def _compose(text: str) -> list[Node]:
    try:
        return compose_all(text) if _MAY_HAVE_OPS.search(text) else []
    except YamlError:  # a patch string that is not YAML is not a JSON patch
        return []


def _is_sops_encrypted(text: str) -> bool:
    from generator.sops.api import is_encrypted

    return is_encrypted(text.encode("utf-8", "surrogateescape"), "yaml")
