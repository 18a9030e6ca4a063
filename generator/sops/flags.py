"""sops's command-line settings for encrypt and decrypt, applied as sops 3.11 applies them.

Encrypt (``sops -e``'s flags; ``sops encrypt`` 3.11 lacks the comment regexes, ``--mac-only-encrypted``
and ``--indent``, 3.12.2 fixed the MAC flag):

* a selector flag replaces the same selector of the ``.sops.yaml`` rule; a *different* selector in
  the rule is a conflict (sops: "cannot use more than one of …");
* ``--mac-only-encrypted`` adds to the rule's setting;
* ``--age`` / ``--azure-kv`` (comma separated) replace the rule's keys entirely; a ``.sops.yaml``
  that exists must still have a rule for the file (sops loads it for the selectors), and without
  one the flags are the only keys;
* ``--input-type`` / ``--output-type`` override the store the file name selects (each separately:
  an unset output type comes from the file name, as in sops);
* ``--indent`` sets the YAML, JSON and binary-envelope indentation of the output.

Decrypt: ``--extract '["data"]["password"]'`` (sops's path syntax: quoted keys, integer indexes)
prints one value: a string as its bytes, a mapping as a document, anything else in the output
store's notation.
"""

from __future__ import annotations

from generator.errors import SopsError, UsageError
from generator.sops.formats import STORES
from generator.sops.record import record, replace
from generator.sops.rules import SELECTORS, CreationRule


@record(frozen=True)
class EncryptFlags:
    selector: tuple[str, str] | None = None  # (metadata name, value), e.g. ("encrypted_regex", "^data$")
    mac_only_encrypted: bool = False
    age: tuple[str, ...] = ()
    azure_kv: tuple[str, ...] = ()
    input_type: str | None = None
    output_type: str | None = None
    indent: int | None = None

    @property
    def has_keys(self) -> bool:
        return bool(self.age or self.azure_kv)

    def rule(self, base: CreationRule | None, where: str) -> CreationRule:
        """The rule sops encrypts with: ``base`` (the matching ``.sops.yaml`` rule, if any) with the
        flags applied. ``where`` names the rule in a conflict message."""
        rule = base or CreationRule()
        selector = self._selector(rule.selector, where)
        groups = rule.key_groups
        if self.has_keys:
            groups = [[*(("azure_kv", url) for url in self.azure_kv), *(("age", r) for r in self.age)]]
        changes: dict[str, object] = {
            "selector": selector,
            "key_groups": groups,
            "mac_only_encrypted": rule.mac_only_encrypted or self.mac_only_encrypted,
            "shamir_threshold": 0 if self.has_keys else rule.shamir_threshold,
        }
        if self.indent is not None:
            changes.update(yaml_indent=self.indent or 4, json_indent=self.indent, binary_indent=self.indent)
        return replace(rule, **changes)

    def _selector(self, ruled: tuple[str, str] | None, where: str) -> tuple[str, str] | None:
        """The flag's selector replaces the rule's of the same name; a different one is a conflict."""
        if self.selector is None:
            return ruled
        if ruled is not None and ruled[0] != self.selector[0]:
            raise UsageError(
                f"--{_flag(self.selector[0])} and {ruled[0]} of {where} are two selectors; "
                "sops allows one per file (a flag replaces only the same setting): drop the "
                f"flag or use --{_flag(ruled[0])}"
            )
        return self.selector


def _flag(selector: str) -> str:
    return selector.replace("_", "-")


def selector_from(values: dict[str, str | None]) -> tuple[str, str] | None:
    """The one selector given on the command line (``values``: metadata name → flag value); a
    regex must compile with RE2, as sops compiles it."""
    from generator.sops.regex import compile_re2

    given = [(name, value) for name in SELECTORS if (value := values.get(name))]
    if len(given) > 1:
        raise UsageError(
            "use only one of " + ", ".join(f"--{_flag(n)}" for n, _ in given) + " (sops allows one selector per file)"
        )
    if not given:
        return None
    name, value = given[0]
    if name.endswith("regex"):
        compile_re2(value, f"--{_flag(name)}")
    return name, value


def split_list(value: str | None) -> tuple[str, ...]:
    """A comma-separated flag value, items trimmed, empty ones dropped (as sops splits ``--age``)."""
    return tuple(item.strip() for item in (value or "").split(",") if item.strip())


def parse_extract(text: str) -> list[str | int]:
    """sops's ``parseTreePath``: ``["a"][0]['b']`` → ``["a", 0, "b"]``."""
    path: list[str | int] = []
    for component in text.split("["):
        if not component:
            continue
        if not component.endswith("]"):
            raise UsageError(
                f'--extract: component {component!r} does not end with \']\' (write the path as ["data"]["password"])'
            )
        inner = component[:-1]
        if inner[:1] in ("'", '"'):
            path.append(inner[1:-1])
            continue
        try:
            path.append(int(inner))
        except ValueError:
            raise UsageError(
                f"--extract: {inner!r} is neither a quoted key nor a list index "
                '(write the path as ["data"]["password"])'
            ) from None
    return path


def truncate(tree: object, path: list[str | int], name: str) -> object:
    """sops's ``TreeBranch.Truncate``: follow keys and list indexes (comments count as list items,
    as in sops)."""
    current = tree
    for component in path:
        current = _key(current, component, name) if isinstance(component, str) else _index(current, component, name)
    return current


def _key(current: object, component: str, name: str) -> object:
    from generator.sops.values import Branch

    if not isinstance(current, Branch):
        raise SopsError(f"{name}: --extract: component ['{component}'] not found (not a mapping there)")
    found = [value for key, value in current if key == component]
    if not found:
        raise SopsError(f"{name}: --extract: component ['{component}'] not found")
    return found[0]


def _index(current: object, component: int, name: str) -> object:
    from generator.sops.values import Branch

    if not isinstance(current, list) or isinstance(current, Branch):
        raise SopsError(f"{name}: --extract: component [{component}] is an index, but this part is not a list")
    if component >= len(current) or component < 0:
        raise SopsError(
            f"{name}: --extract: component [{component}] is out of bounds (the list has {len(current)} item(s))"
        )
    return current[component]


def valid_store(name: str | None, flag: str) -> str | None:
    if name is not None and name not in STORES:
        raise UsageError(f"{flag}: {name!r} is not a sops store ({', '.join(STORES)})")
    return name
