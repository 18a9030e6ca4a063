"""Upgrade lint: what in a GitOps repository breaks, or may break, under a target Flux version.

* apiVersions the target no longer serves (``*/v1beta1`` gone in 2.7, ``v1beta2`` in 2.8,
  image/notification ``v1beta2`` in 2.9) → error, with the advice to run ``flux migrate``;
* JSON patches that address a list element by index (``/rules/10``; anything but an ``add`` to
  ``/-``) → warning: indexes shift between releases (kustomize-controller's RBAC rule 10 became 11
  in 2.7);
* ``${var}`` without a default → warning from 2.9, where ``StrictPostBuildSubstitutions`` is on by
  default and fails the Kustomization when ``var`` is not set.

``lint_text`` is pure; ``lint_tree`` reads the files.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from generator.errors import UsageError
from generator.fluxversions import NEWEST, FluxVersion, api_versions, features_for, removed_apis_between
from generator.merge3 import split_documents
from generator.yamlio import compose_all, load_plain

STRICT_SUBSTITUTION_MINOR = 9
SKIP_DIRS = frozenset({".git", ".fluxforge", "node_modules", ".venv", "__pycache__"})
SKIP_FILES = frozenset({"gotk-components.yaml"})  # written by `flux install --export`, not by users

_API_LINE = re.compile(r"""^\s*(?:-\s+)?apiVersion:\s*["']?([\w.-]+/[\w.-]+)["']?\s*(?:#.*)?$""")
_KIND_LINE = re.compile(r"""^(\s*)(?:-\s+)?kind:\s*["']?(\w+)["']?""")
_VAR = re.compile(r"(\$+)\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}")
_DEFAULTED = ("=", ":=", "-", ":-")
_MAY_HAVE_OPS = re.compile(r"""["']?\bop["']?\s*:""")  # only such files are parsed for JSON patches


@dataclass(frozen=True, order=True)
class Finding:
    file: str
    line: int
    level: str  # "error" | "warning"
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.level}: {self.message}"


def lint_text(file: str, text: str, target: FluxVersion, defined: frozenset[str] = frozenset()) -> list[Finding]:
    """All findings for one YAML file's text (``defined``: variables known to be substituted)."""
    found = list(_removed_apis(file, text, target))
    if target.minor >= STRICT_SUBSTITUTION_MINOR and not _is_sops_encrypted(text):
        found.extend(_strict_substitutions(file, text, defined))
    if "{{" not in text and _MAY_HAVE_OPS.search(text):  # Go/Helm templates are not YAML yet
        try:
            docs = compose_all(text)
        except Exception as err:  # noqa: BLE001 - any parse error: one line, keep linting others
            found.append(Finding(file, _err_line(err), "warning", "not valid YAML, not checked for JSON patches"))
        else:
            for doc in docs:
                found.extend(_index_patches(file, doc, 0))
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
            file, num + 1, "error",
            f"{gone.api_version}{f' {kind}' if kind else ''} is no longer served from Flux {gone.removed_in} "
            f"(target {target}): run `flux migrate` against the cluster before upgrading{fix}",
        )


def _kind_near(lines: list[str], num: int, indent: int) -> str | None:
    """The ``kind:`` at the same indentation in the same object (searching up to 40 lines around)."""
    order = sorted(range(max(0, num - 40), min(len(lines), num + 40)), key=lambda i: abs(i - num))
    for i in order:
        match = _KIND_LINE.match(lines[i])
        if match and len(lines[i]) - len(lines[i].lstrip(" -")) == indent:
            return match.group(2)
    return None


def _index_patches(file: str, node: Node | None, offset: int) -> Iterator[Finding]:
    """JSON-patch operations anywhere in the tree, also inside ``patch:`` strings (libyaml nodes)."""
    if isinstance(node, SequenceNode):
        for item in node.value:
            yield from _index_patches(file, item, offset)
        return
    if not isinstance(node, MappingNode):
        return
    fields = {k.value: v for k, v in node.value if isinstance(k, ScalarNode)}
    if isinstance(fields.get("op"), ScalarNode) and isinstance(fields.get("path"), ScalarNode):
        yield from _check_op(file, fields, offset)
    for key, value in fields.items():
        if key == "patch" and isinstance(value, ScalarNode):
            inner = _compose(value.value)
            block = value.style in ("|", ">")
            for doc in inner:
                yield from _index_patches(file, doc, offset + value.start_mark.line + int(block))
        else:
            yield from _index_patches(file, value, offset)


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
            file, offset + node.start_mark.line + 1, "warning",
            f"JSON patch '{kind} {pointer}' addresses a list element by index; indexes shift between Flux "
            "versions (kustomize-controller's RBAC rule /rules/10 became /rules/11 in 2.7): use a "
            "name-targeted strategic-merge patch, or append with '/-'",
        )


def _strict_substitutions(file: str, text: str, defined: frozenset[str]) -> Iterator[Finding]:
    for num, line in enumerate(text.splitlines()):
        if line.lstrip().startswith("#"):
            continue
        for match in _VAR.finditer(line):
            dollars, name, rest = match.groups()
            if len(dollars) % 2 == 0 or rest.startswith(_DEFAULTED) or name in defined:
                continue  # $${var} is an escape
            yield Finding(
                file, num + 1, "warning",
                f"${{{name}}} has no default: with StrictPostBuildSubstitutions (on by default from Flux 2.9) "
                f"the Kustomization fails unless {name} is set in postBuild.substitute/substituteFrom; "
                f"or write ${{{name}:=default}}",
            )


def substituted_variables(texts: list[str]) -> frozenset[str]:
    """Variables set by any Kustomization's ``postBuild.substitute`` or by the ConfigMaps/Secrets
    its ``substituteFrom`` names (when they are in the repository and readable)."""
    names: set[str] = set()
    sources: set[tuple[str, str]] = set()
    for doc in (doc for text in texts if "postBuild" in text for doc in _docs(text)):
        post = (doc.get("spec") or {}).get("postBuild") if doc.get("kind") == "Kustomization" else None
        if isinstance(post, dict):
            names.update(str(k) for k in (post.get("substitute") or {}))
            sources.update((str(s.get("kind")), str(s.get("name"))) for s in post.get("substituteFrom") or [])
    wanted = {name for _, name in sources}
    candidates = (t for t in texts if any(name in t for name in wanted)) if wanted else iter(())
    for doc in (doc for text in candidates for doc in _docs(text)):
        if (str(doc.get("kind")), str((doc.get("metadata") or {}).get("name"))) in sources:
            for field in ("data", "stringData"):
                names.update(str(k) for k in (doc.get(field) or {}))
    return frozenset(names)


@dataclass(frozen=True)
class LintReport:
    target: FluxVersion
    findings: tuple[Finding, ...]

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
    return LintReport(target, tuple(lint_tree(root, target)))


def _default_root() -> Path:
    from generator.config import config_path_for
    from generator.errors import ConfigError

    try:
        return config_path_for(None).parent
    except ConfigError:
        return Path()  # a Flux repository without fluxforge.yaml: lint it as it is


def lint_tree(root: Path, target: FluxVersion) -> list[Finding]:
    """Lint every YAML file under ``root`` (``.git`` and Flux's own gotk-components.yaml excluded)."""
    files = sorted(_yaml_files(root))
    texts = {path: path.read_text(encoding="utf-8", errors="replace") for path in files}
    defined = substituted_variables(list(texts.values()))
    found: list[Finding] = []
    for path, text in texts.items():
        found.extend(lint_text(path.relative_to(root).as_posix(), text, target, defined))
    return found


def _yaml_files(root: Path) -> Iterator[Path]:
    for path in root.rglob("*"):
        rel = path.relative_to(root).parts
        if any(part in SKIP_DIRS for part in rel) or path.name in SKIP_FILES:
            continue
        if path.suffix in (".yaml", ".yml") and path.is_file():
            yield path


def _docs(text: str) -> list[dict[Any, Any]]:
    if "{{" in text:
        return []
    try:
        docs = [load_plain(body) for _, body in split_documents(text)]
    except Exception:  # noqa: BLE001 - unparseable files are reported by lint_text
        return []
    return [doc for doc in docs if isinstance(doc, dict)]


def _compose(text: str) -> list[Node]:
    try:
        return compose_all(text) if _MAY_HAVE_OPS.search(text) else []
    except Exception:  # noqa: BLE001 - a patch string that is not YAML is not a JSON patch
        return []


def _is_sops_encrypted(text: str) -> bool:
    from generator.sops.api import is_encrypted

    return is_encrypted(text.encode("utf-8", "surrogateescape"), "yaml")


def _err_line(err: Exception) -> int:
    mark = getattr(err, "problem_mark", None)
    return int(mark.line) + 1 if mark is not None else 1
