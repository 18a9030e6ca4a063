"""Generate ``docs/config-reference.md`` from ``schemas/config.schema.json``.

Run ``python -m generator.config.docs`` to rewrite the file; a test keeps it in sync.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from generator.resources import load_schema

__all__ = ["reference_markdown", "rows"]

_INTRO = """\
# fluxforge.yaml reference

Generated from `schemas/config.schema.json` by `python -m generator.config.docs`; do not edit.

Keys are **camelCase**, like the Flux APIs. Unknown keys are errors (with a did-you-mean).
`[]` marks a list item. Paths (`path`) are folders relative to the repository root (the folder of
`fluxforge.yaml` unless `render --out-dir` says otherwise), without `..` and not absolute.
Every problem is reported at once, one line each: `fluxforge.yaml:LINE: key.path: message`.

| key | type | required | default | description |
|---|---|---|---|---|
"""

_OUTRO = """
## Derived values

- Key Vault key URL: `https://<vault>.vault.azure.net/keys/<key>[/<version>]` (a vault URL is used
  as given, lower-cased, without a trailing `/` or `:443`); written to `.sops.yaml` `azure_keyvault`.
- `.sops.yaml`: one creation rule per folder a cluster decrypts (the cluster path and every
  Kustomization path with `decryption: true`; Flux refuses an encrypted Secret under one without),
  plus every folder those Kustomizations' builds pull in through kustomize references (`resources`,
  `components`, patch files: a shared `apps/base`), deepest first; `path_regex: ^<folder>/` (sops
  matches it against the path relative to the repository root); `encrypted_regex:
  ^(data|stringData)$`; recipients are those of every cluster that applies or builds the folder or
  one of its parents. A workload's generated Component folder (`<path>/workload-identity/<name>/`)
  comes first with the same recipients and `encrypted_regex: ^$`: it holds no secret value, and
  without it sops (which matches keys at any depth) would select a SecretProviderClass's
  `secretObjects[].data`, so the hook would encrypt a generated file. A plaintext Secret put there is
  still refused by `fluxforge check` and the hook.
- Flux version 2.0–2.5: ServiceAccount annotation `client-id` + `azure.workload.identity/use` label
  on the ServiceAccount, the Deployment and its pod template. 2.6+: annotations `client-id` and
  `tenant-id`, label on the pod template only. A `tenant` (2.6+) or `defaultDecryptionServiceAccount`
  (2.7+) appends `--feature-gates=ObjectLevelWorkloadIdentity=true` with an `args/-` JSON patch.
- Sync folder and objects: `<cluster path>/<flux.namespace>/` holds `kustomization.yaml` and
  `gotk-sync.yaml` (GitRepository and Kustomization named after `flux.namespace`, as `flux bootstrap`
  names them); a name-targeted patch gives that Kustomization `decryption: {provider: sops}`.
- `defaultDecryptionServiceAccount`: that ServiceAccount, with the cluster identity's annotations, in
  the Flux namespace (`<sync folder>/decryption-service-account.yaml`) and in every namespace holding a
  Kustomization that decrypts without a tenant (in that Kustomization's file).
- Federated credential subjects: `system:serviceaccount:<flux namespace>:kustomize-controller` for the
  cluster identity, and `system:serviceaccount:<namespace>:<defaultDecryptionServiceAccount>` for each
  namespace above; `system:serviceaccount:<Kustomization namespace>:<tenant.serviceAccount>` for a tenant;
  `system:serviceaccount:<namespace>:<serviceAccount>` for a workload, on the workload's identity.
- Workloads: a kustomize Component in `<path>/workload-identity/<name>/` (add `components:
  [workload-identity/<name>]` to `<path>/kustomization.yaml`; render never edits that file and says so)
  with the ServiceAccount (annotations `client-id`, `tenant-id`), the SecretProviderClass
  (`secrets-store.csi.x-k8s.io/v1`, provider `azure`, `usePodIdentity: "false"`, `clientID`,
  `keyvaultName`, `tenantID` (the Azure provider's current spelling; `tenantId` is deprecated), `objects`,
  `secretObjects` from `syncAs`), and a patch of the workload found by kind and name: pod-template label
  `azure.workload.identity/use: "true"`, `serviceAccountName`, the CSI volume (`secrets-store.csi.k8s.io`,
  read-only) mounted read-only at `mountPath` in each of `containers`. Roles, assigned by `fluxforge azure
  bicep/apply` as narrowly as ARM allows: Key Vault Secrets User on each `secret` object, Key Vault Reader on
  each `key` object, Key Vault Reader on the vault for `cert` objects (ARM has no certificate scope).
"""


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str):
        merged = {**_resolve(defs[ref.removeprefix("#/$defs/")], defs), **node}
        merged.pop("$ref")
        return merged
    return node


def _type(node: dict[str, Any], defs: dict[str, Any]) -> str:
    if "enum" in node:
        return "one of " + ", ".join(f"`{v}`" for v in node["enum"])
    kind = node.get("type", "")
    if kind == "array":
        return f"list of {_type(_resolve(node.get('items', {}), defs), defs)}"
    return {"object": "mapping", "boolean": "bool"}.get(str(kind), str(kind))


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def rows(node: dict[str, Any], defs: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, ...]]:
    """Table rows (key, type, required, default, description) for every key under ``node``."""
    node = _resolve(node, defs)
    required = set(node.get("required", []))
    for key, raw in node.get("properties", {}).items():
        child = _resolve(raw, defs)
        path = f"{prefix}{key}"
        default = child.get("default")
        shown = "" if default is None else f"`{_show(default)}`"
        text = child.get("description", "")
        if "x-message" in child:
            text += f" Must be {child['x-message'].removeprefix('must be ')}."
        yield (f"`{path}`", _type(child, defs), "yes" if key in required else "", shown, text)
        if child.get("type") == "object":
            yield from rows(child, defs, f"{path}.")
        items = child.get("items")
        if child.get("type") == "array" and isinstance(items, dict) and _resolve(items, defs).get("type") == "object":
            yield from rows(items, defs, f"{path}[].")


def reference_markdown() -> str:
    """The whole reference page."""
    schema = load_schema("config.schema.json")
    table = "".join("| " + " | ".join(_cell(c) for c in row) + " |\n" for row in rows(schema, schema["$defs"]))
    return _INTRO + table + _OUTRO


def main(argv: list[str] | None = None) -> int:
    """``python -m generator.config.docs [TARGET] [--check]``: write (or compare) the reference page."""
    import argparse

    from generator.fsio import write_atomic

    parser = argparse.ArgumentParser(
        prog="python -m generator.config.docs",
        description="Generate the fluxforge.yaml reference (Markdown) from schemas/config.schema.json.",
        epilog="example:\n  python -m generator.config.docs --check   # CI: is docs/config-reference.md current?",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "target",
        nargs="?",
        default="docs/config-reference.md",
        type=Path,
        help="the file to write (default: %(default)s)",
    )
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when TARGET is not current")
    args = parser.parse_args(argv)
    text = reference_markdown().encode("utf-8")
    if args.check:
        current = args.target.read_bytes() if args.target.is_file() else None
        if current != text:
            print(f"{args.target}: not current; run python -m generator.config.docs {args.target}", file=sys.stderr)
            return 1
        return 0
    try:
        changed = write_atomic(args.target, text)
    except OSError as err:
        print(str(err), file=sys.stderr)
        return 1
    print(f"{'wrote' if changed else 'unchanged'} {args.target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
