"""``fluxforge git setup`` (also ``fluxforge hook install --diff``): the git diff driver that shows
reviewers decrypted, masked changes of sops files.

Writes a marked block into the ``.gitattributes`` next to ``.sops.yaml`` (one ``PATTERN diff=fluxforge``
line per creation rule with a ``path_regex``: the rule's literal leading folder, ``**`` below it; a regex
with no literal folder covers every file) and sets, in this clone's ``.git/config``,
``diff.fluxforge.textconv`` to ``fluxforge git textconv`` (falling back to ``cat`` when fluxforge is not
installed: the diff then shows the ciphertext, it never fails) and ``fluxforge.diffkey``, the random key
of the value markers (local to the clone, never committed). No textconv cache: git would keep the
driver's output in its object store.
"""

from __future__ import annotations

import re
import secrets
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from generator.errors import UsageError

__all__ = ["BEGIN", "END", "SetupReport", "attribute_patterns", "glob_of", "setup_diff_driver", "textconv_command"]

BEGIN = "# >>> fluxforge: decrypted diffs of sops files (fluxforge git setup); this block is rewritten >>>"
END = "# <<< fluxforge <<<"
DRIVER = "fluxforge"
_META = set(".^$*+?()[]{}|\\")


def glob_of(path_regex: str) -> str:
    """A gitattributes pattern that covers every path ``path_regex`` can match: its literal leading
    folder followed by ``**`` (``^clusters/staging/.*\\.yaml$`` -> ``clusters/staging/**``), ``*`` when
    the regex has no literal folder (the driver shows files that are not sops-encrypted unchanged)."""
    text = path_regex.removeprefix("^")
    prefix, index = _literal_prefix(text)
    if index < len(text) and text[index] in "?*{" and "/" in prefix:  # the last literal char is optional
        prefix = prefix[:-1]
    folder = prefix.rpartition("/")[0]
    return f"{folder}/**" if folder and not re.search(r"[\s\[\]*?!#]", folder) else "*"


def _literal_prefix(text: str) -> tuple[str, int]:
    """The literal characters ``text`` (a regex) starts with (``\\.`` unescaped) and where they end."""
    literal = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and not text[index + 1].isalnum():
            literal.append(text[index + 1])
            index += 2
            continue
        if char in _META:
            break
        literal.append(char)
        index += 1
    return "".join(literal), index


def attribute_patterns(path_regexes: list[str]) -> list[str]:
    """One pattern per regex, in order, without repeats."""
    return list(dict.fromkeys(glob_of(regex) for regex in path_regexes))


def textconv_command(executable: str) -> str:
    """``diff.fluxforge.textconv``: git appends the file; a missing fluxforge shows the file as it is."""
    return f'sh -c \'"$0" git textconv "$1" 2>/dev/null || cat "$1"\' {shlex.quote(executable)}'


def _executable() -> str:
    argv0 = Path(sys.argv[0])
    if argv0.name == "fluxforge" and argv0.is_file():
        return str(argv0.resolve())
    return shutil.which("fluxforge") or "fluxforge"


def _block(patterns: list[str]) -> str:
    return "\n".join([BEGIN, *(f"{pattern} diff={DRIVER}" for pattern in patterns), END]) + "\n"


def _with_block(existing: str, block: str) -> str:
    start, end = existing.find(BEGIN), existing.find(END)
    if start != -1 and end > start:
        return existing[:start] + block + existing[end + len(END) :].lstrip("\n")
    sep = "" if not existing or existing.endswith("\n") else "\n"
    return existing + sep + block


@dataclass(frozen=True)
class SetupReport:
    attributes: Path
    patterns: tuple[str, ...]
    wrote_attributes: bool
    textconv: str


def setup_diff_driver(start: Path) -> SetupReport:
    """Write the ``.gitattributes`` block and the clone's diff driver config (idempotent)."""
    from generator.fsio import write_atomic
    from generator.gitrepo import GitRepo
    from generator.sops.api import find_sops_config, load_rules

    repo = GitRepo.discover(start)
    config = find_sops_config(start)
    if config is None:
        raise UsageError(
            f"{start}: no .sops.yaml here or above; the diff driver covers the paths of its "
            "creation rules (run `fluxforge render` to write it)"
        )
    regexes = [rule.path_regex for rule in load_rules(config).rules if rule.path_regex is not None]
    patterns = attribute_patterns(regexes) if regexes else ["*"]
    attributes = config.parent / ".gitattributes"
    existing = attributes.read_text(encoding="utf-8") if attributes.exists() else ""
    wrote = write_atomic(attributes, _with_block(existing, _block(patterns)).encode("utf-8"))
    command = textconv_command(_executable())
    repo.config_set(f"diff.{DRIVER}.textconv", command)
    if not repo.config_get("fluxforge.diffkey"):
        repo.config_set("fluxforge.diffkey", secrets.token_hex(32))
    return SetupReport(attributes, tuple(patterns), wrote, command)


def diff_key(start: Path) -> bytes | None:
    """The clone's marker key (``fluxforge.diffkey``), None outside a repository or before setup."""
    from generator.errors import GitError
    from generator.gitrepo import GitRepo

    try:
        value = GitRepo.discover(start).config_get("fluxforge.diffkey")
    except GitError:
        return None
    try:
        return bytes.fromhex(value) if value else None
    except ValueError:
        return None
