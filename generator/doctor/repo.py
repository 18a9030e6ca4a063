"""What the repository holds, read once for the static gates: the encrypted files and their recipients,
the Flux Kustomizations as committed, and what the controller patches in each sync folder set.

Reads files only (git index or a walk); never decrypts. A file that cannot be read or parsed is skipped
here: ``fluxforge check`` is the command that reports those.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.errors import FluxforgeError
from generator.flux.versions import ANNOTATION_CLIENT_ID, ANNOTATION_TENANT_ID, LABEL_USE
from generator.fsio import walk_files
from generator.yamlio import YamlError, load_plain

__all__ = [
    "EncryptedFile",
    "KustomizationFacts",
    "PatchFacts",
    "encrypted_files",
    "kustomizations_in",
    "patch_facts",
]

_MAX_BYTES = 4 * 1024 * 1024
WI_LABEL = LABEL_USE
CLIENT_ID = ANNOTATION_CLIENT_ID
TENANT_ID = ANNOTATION_TENANT_ID


@dataclass(frozen=True)
class AzureEntry:
    vault_url: str
    name: str
    version: str
    enc: str = field(repr=False, default="")

    @property
    def url(self) -> str:
        return f"{self.vault_url}/keys/{self.name}" + (f"/{self.version}" if self.version else "")

    def as_metadata(self) -> dict[str, str]:
        return {"vault_url": self.vault_url, "name": self.name, "version": self.version, "enc": self.enc}


@dataclass(frozen=True)
class EncryptedFile:
    """A sops-encrypted file: its path relative to the repository root and its recipients."""

    path: str
    azure_kv: tuple[AzureEntry, ...]
    age: tuple[str, ...]


def _files(root: Path) -> Iterator[Path]:
    from generator.errors import GitError
    from generator.gitrepo import GitRepo

    try:
        repo = GitRepo.discover(root)
        tracked = [repo.workdir / rel for rel in repo.tracked_files()]
    except (GitError, FluxforgeError):
        tracked = []
    resolved = root.resolve()
    inside = [p for p in tracked if p.resolve().is_relative_to(resolved)]
    if inside:
        yield from inside
        return
    yield from sorted(path for path in walk_files(root) if path.is_file())


def _entries(meta: Mapping[str, Any]) -> tuple[tuple[AzureEntry, ...], tuple[str, ...]]:
    groups = meta.get("key_groups") or [meta]
    azure: list[AzureEntry] = []
    age: list[str] = []
    for group in groups if isinstance(groups, list) else []:
        if isinstance(group, Mapping):
            azure += [_azure_entry(e) for e in _mappings(group.get("azure_kv"))]
            age += [str(e.get("recipient", "")).strip() for e in _mappings(group.get("age"))]
    return tuple(azure), tuple(age)


def _mappings(items: Any) -> list[Mapping[str, Any]]:
    return [e for e in items or [] if isinstance(e, Mapping)]


def _azure_entry(entry: Mapping[str, Any]) -> AzureEntry:
    return AzureEntry(
        str(entry.get("vault_url", "")).rstrip("/"),
        str(entry.get("name", "")),
        str(entry.get("version") or ""),
        str(entry.get("enc", "")),
    )


def encrypted_files(root: Path) -> list[EncryptedFile]:
    """Every sops-encrypted file below ``root`` (tracked files when ``root`` is in a git repository)."""
    from generator.errors import SopsError
    from generator.sops.api import detect_format, sops_state

    found = []
    base = root.resolve()
    for path in _files(root):
        if path.is_symlink() or not path.is_file() or path.stat().st_size > _MAX_BYTES:
            continue
        try:
            data = path.read_bytes()
            if b"sops" not in data:
                continue
            state = sops_state(data, detect_format(path))
        except (OSError, SopsError, ValueError):
            continue
        if state.encrypted and isinstance(state.raw, Mapping):
            azure, age = _entries(state.raw)
            found.append(EncryptedFile(path.resolve().relative_to(base).as_posix(), azure, age))
    return sorted(found, key=lambda f: f.path)


@dataclass(frozen=True)
class KustomizationFacts:
    """A Flux Kustomization as committed (``clusters/<name>/<ks>.yaml``)."""

    name: str
    namespace: str
    path: str
    decryption: bool
    secret_ref: str
    service_account: str
    file: str


def _documents(path: Path) -> list[Any]:
    from generator.yamlio import load_all_plain

    try:
        if not path.is_file() or path.stat().st_size > _MAX_BYTES:  # a FIFO or device is never opened
            return []
        return [d for d in load_all_plain(path.read_text(encoding="utf-8")) if isinstance(d, Mapping)]
    except (OSError, ValueError, FluxforgeError):  # not UTF-8, not YAML (YamlError): check's business
        return []


def kustomizations_in(root: Path, folder: str, default_namespace: str) -> list[KustomizationFacts]:
    """The Flux Kustomizations committed in ``folder`` (a cluster's path), files in name order."""
    found = []
    base = root / folder
    for file in sorted(base.glob("*.yaml")) if base.is_dir() else []:
        rel = file.relative_to(root).as_posix()
        found += [
            _kustomization_facts(doc, rel, default_namespace) for doc in _documents(file) if _is_flux_kustomization(doc)
        ]
    return found


def _is_flux_kustomization(doc: Mapping[str, Any]) -> bool:
    return doc.get("kind") == "Kustomization" and str(doc.get("apiVersion", "")).startswith(
        "kustomize.toolkit.fluxcd.io/"
    )


def _kustomization_facts(doc: Mapping[str, Any], file: str, default_namespace: str) -> KustomizationFacts:
    meta, spec = doc.get("metadata") or {}, doc.get("spec") or {}
    decryption = spec.get("decryption") if isinstance(spec.get("decryption"), Mapping) else None
    secret = (decryption or {}).get("secretRef") or {}
    return KustomizationFacts(
        str(meta.get("name", "")),
        str(meta.get("namespace") or default_namespace),
        str(spec.get("path", "")).removeprefix("./").rstrip("/"),
        decryption is not None,
        str(secret.get("name", "")) if isinstance(secret, Mapping) else "",
        str((decryption or {}).get("serviceAccountName") or ""),
        file,
    )


@dataclass
class PatchFacts:
    """What the patches of a sync folder's ``kustomization.yaml`` set on kustomize-controller."""

    file: str
    exists: bool = False
    annotations: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)  # the pod template's
    sa_labels: dict[str, str] = field(default_factory=dict)  # the ServiceAccount's
    deployment_labels: dict[str, str] = field(default_factory=dict)  # the Deployment's own metadata
    args: list[str] = field(default_factory=list)
    wrong_place: list[str] = field(default_factory=list)  # "annotation azure.workload.identity/use on the pod template"


def _target_matches(target: Any, kind: str, name: str) -> bool:
    from generator.errors import SopsError
    from generator.sops.api import compile_re2

    if not isinstance(target, Mapping) or target.get("kind") not in (None, kind):
        return False
    wanted = target.get("name")
    if wanted is None:
        return True
    try:  # kustomize matches target names as (anchored) regular expressions
        return compile_re2(f"^(?:{wanted})$", "patch target name").search(name) is not None
    except SopsError:
        return str(wanted) == name


def _unescape(pointer: str) -> str:
    return pointer.replace("~1", "/").replace("~0", "~")


_JSON_PATCHED = (  # (kind, JSON pointer prefix, the PatchFacts mapping it sets)
    ("ServiceAccount", "/metadata/annotations/", "annotations"),
    ("ServiceAccount", "/metadata/labels/", "sa_labels"),
    ("Deployment", "/metadata/labels/", "deployment_labels"),
    ("Deployment", "/spec/template/metadata/labels/", "labels"),
)


def _json_ops(facts: PatchFacts, kind: str, ops: list[Any]) -> None:
    for op in ops:
        if isinstance(op, Mapping) and op.get("op") in ("add", "replace"):
            _json_op(facts, kind, str(op.get("path", "")), op.get("value"))


def _json_op(facts: PatchFacts, kind: str, path: str, value: Any) -> None:
    for patched_kind, prefix, mapping in _JSON_PATCHED:
        if kind == patched_kind and path.startswith(prefix):
            getattr(facts, mapping)[_unescape(path.removeprefix(prefix))] = str(value)
            return
    if kind != "Deployment":
        return
    if path.endswith("/args/-") and "/containers/0/" in path:
        facts.args.append(str(value))
    elif path.endswith("/args") and isinstance(value, list):
        facts.args += [str(v) for v in value]


def _merge_patch(facts: PatchFacts, kind: str, doc: Mapping[str, Any]) -> None:
    meta = doc.get("metadata") or {}
    if kind == "ServiceAccount":
        _merge_sa_patch(facts, meta)
        return
    facts.deployment_labels.update({str(k): str(v) for k, v in (meta.get("labels") or {}).items()})
    _merge_deployment_patch(facts, (doc.get("spec") or {}).get("template") or {})


def _merge_sa_patch(facts: PatchFacts, meta: Mapping[str, Any]) -> None:
    facts.annotations.update({str(k): str(v) for k, v in (meta.get("annotations") or {}).items()})
    labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
    facts.sa_labels.update(labels)
    facts.wrong_place += [
        f"label {k} on the ServiceAccount (it must be an annotation)" for k in labels if k in (CLIENT_ID, TENANT_ID)
    ]


def _merge_deployment_patch(facts: PatchFacts, template: Mapping[str, Any]) -> None:
    tmeta = template.get("metadata") or {}
    facts.labels.update({str(k): str(v) for k, v in (tmeta.get("labels") or {}).items()})
    if WI_LABEL in (tmeta.get("annotations") or {}):
        facts.wrong_place.append(f"annotation {WI_LABEL} on the pod template (it must be a label)")
    facts.args += _manager_args(template)


def _manager_args(template: Mapping[str, Any]) -> list[str]:
    """The args a pod template patch gives the ``manager`` container."""
    containers = (template.get("spec") or {}).get("containers") or []
    return [
        str(a) for c in containers if isinstance(c, Mapping) and c.get("name") == "manager" for a in c.get("args") or []
    ]


def _parsed(text: Any) -> Any:
    try:
        return load_plain(str(text)) if text is not None else None
    except YamlError:  # an unparsable patch sets nothing we can see (kubectl kustomize says why)
        return None


def _patch_body(folder: Path, patch: Mapping[str, Any]) -> Any:
    """The patch inline (``patch``) or from its file (``path``), parsed; None when unreadable."""
    if patch.get("patch") is not None:
        return _parsed(patch["patch"])
    target = folder / str(patch.get("path") or "")
    if not patch.get("path") or not target.is_file() or target.stat().st_size > _MAX_BYTES:
        return None
    try:
        return _parsed(target.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return None


def patch_facts(root: Path, sync_dir: str, controller: str = "kustomize-controller") -> PatchFacts:
    """Read ``<sync_dir>/kustomization.yaml`` and collect what its patches set on ``controller``."""
    rel = f"{sync_dir}/kustomization.yaml"
    facts = PatchFacts(rel)
    file = root / rel
    docs = _documents(file) if file.is_file() else []
    if not docs:
        return facts
    facts.exists = True
    for patch in _mappings(docs[0].get("patches")):
        body = _patch_body(file.parent, patch)
        for kind in ("ServiceAccount", "Deployment"):
            if _target_matches(patch.get("target"), kind, controller):
                _read_patch(facts, kind, body)
    return facts


def _read_patch(facts: PatchFacts, kind: str, body: Any) -> None:
    """What one patch (JSON 6902 ops, or a strategic merge patch of ``kind``) sets on the controller."""
    if isinstance(body, list):
        _json_ops(facts, kind, body)
    elif isinstance(body, Mapping) and body.get("kind") in (None, kind):
        _merge_patch(facts, kind, body)
