"""The tree walk with sops's selection rules and the MAC.

``walk`` visits every leaf of every document in file order, exactly as Go sops's
``walkBranch``/``walkSlice`` do (same path, same comment stack), lets a callback replace the leaf
and feeds the MAC with the canonical bytes of the plaintext.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from generator.sops.record import record
from generator.sops.regex import search
from generator.sops.values import Branch, Comment, GoTime, SeqComment, to_bytes

# SHA-256("sops"): the MAC prefix when only encrypted values are authenticated (tests/sops recompute it).
MAC_ONLY_ENCRYPTED_INIT = bytes.fromhex("8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69")
DEFAULT_SELECTOR = ("unencrypted_suffix", "_unencrypted")
"""What sops uses when neither the rule nor the metadata names a selector."""


class WalkError(Exception):
    """A leaf could not be processed; ``path`` names it (keys only, never values)."""

    def __init__(self, message: str, path: list[str]) -> None:
        super().__init__(message)
        self.path = list(path)


@record(frozen=True)
class Selection:
    """The one active selector (metadata key, value) and ``mac_only_encrypted``."""

    selector: tuple[str, str] = DEFAULT_SELECTOR
    mac_only_encrypted: bool = False

    def should_encrypt(self, path: list[str], stack: list[list[str]], is_comment: bool) -> bool:
        by_keys = selects_keys(self.selector, path)
        if by_keys is not None:
            return by_keys
        name, value = self.selector
        if name == "unencrypted_comment_regex":
            return not any(search(value, c, name) for level in stack for c in level)
        if name == "encrypted_comment_regex":
            return _comment_above_matches(value, stack, is_comment)
        raise ValueError(f"unknown selector {name}")


def _comment_above_matches(pattern: str, stack: list[list[str]], is_comment: bool) -> bool:
    """``encrypted_comment_regex``: a comment above the value matches (a comment is not selected by itself)."""
    last = (len(stack) - 1, len(stack[-1]) - 1) if stack else (-1, -1)
    return any(
        search(pattern, c, "encrypted_comment_regex")
        for i, level in enumerate(stack)
        for j, c in enumerate(level)
        if not (is_comment and (i, j) == last)
    )


def selects_keys(selector: tuple[str, str], keys: Sequence[str]) -> bool | None:
    """Whether sops encrypts a value under ``keys`` (the mapping keys on its path) with a key-based
    selector; None for the comment selectors, which depend on the comments above the value."""
    name, value = selector
    if name == "unencrypted_suffix":
        return not any(k.endswith(value) for k in keys)
    if name == "encrypted_suffix":
        return any(k.endswith(value) for k in keys)
    if name == "unencrypted_regex":
        return not any(search(value, k, name) for k in keys)
    if name == "encrypted_regex":
        return any(search(value, k, name) for k in keys)
    return None


LEAF_TYPES = (str, bytes, bool, int, float, GoTime, Comment)


@record(frozen=True)
class Unauthenticated:
    """A leaf callback's answer for a value to keep but leave out of the MAC: a plaintext value found
    where the selector says ciphertext (added by hand), so the MAC is checked over everything else."""

    value: object


class Walker:
    """Runs one encrypt or decrypt pass over all documents and computes the MAC."""

    def __init__(
        self,
        selection: Selection,
        on_leaf: Callable[[object, str, bool], object],
        *,
        decrypting: bool,
        list_comments_written: bool = True,
    ) -> None:
        """``list_comments_written``: the output store writes comments inside lists (YAML); for the
        others an empty comment there is dropped with all comments instead of refused."""
        self.list_comments_written = list_comments_written
        self.sel = selection
        self.on_leaf = on_leaf  # (value, aad, is_comment) -> new value; only called for encrypted leaves
        self.decrypting = decrypting
        from cryptography.hazmat.primitives.hashes import SHA512, Hash

        # cryptography's SHA-512 (the AES-GCM library, loaded anyway): the same digest as hashlib's,
        # without hashlib's OpenSSL start-up in a one-file decrypt
        self.hash = Hash(SHA512())
        if selection.mac_only_encrypted:
            self.hash.update(MAC_ONLY_ENCRYPTED_INIT)

    def run(self, docs: list[Branch]) -> str:
        for doc in docs:
            self._branch(doc, [], [])
        return self.hash.finalize().hex().upper()

    def _leaf(self, value: object, path: list[str], stack: list[list[str]]) -> object:
        is_comment = isinstance(value, Comment)
        encrypted = self.sel.should_encrypt(path, stack, is_comment)
        aad = ":".join(path) + ":"
        if self.decrypting:
            new = self.on_leaf(value, aad, is_comment) if encrypted else value
            if isinstance(new, Unauthenticated):
                return new.value
            mac_value = new
        else:
            new = self.on_leaf(value, aad, is_comment) if encrypted else value
            mac_value = value
        if (not self.sel.mac_only_encrypted or encrypted) and not isinstance(mac_value, Comment):
            self.hash.update(to_bytes(mac_value))
        return new

    def _value(self, value: object, path: list[str], stack: list[list[str]]) -> object:
        if value is None:
            return None
        if isinstance(value, Branch):
            return self._branch(value, path, stack)
        if isinstance(value, list):
            return self._seq(value, path, stack)
        if isinstance(value, LEAF_TYPES):
            try:
                return self._leaf(value, path, stack)
            except WalkError:
                raise
            except Exception as err:  # noqa: BLE001 - re-raised with the key path
                raise WalkError(str(err), path) from None
        raise WalkError(f"cannot walk value of type {type(value).__name__}", path)

    def _seq(self, seq: list[object], path: list[str], stack: list[list[str]]) -> list[object]:
        stack = [*stack, []]
        for i, item in enumerate(seq):
            if isinstance(item, Comment):
                stack[-1].append(item.value)
                seq[i] = self._seq_comment(self._value(item, path, stack), path)
                continue
            seq[i] = self._value(item, path, stack)
            stack[-1] = []
        return seq

    def _seq_comment(self, new: object, path: list[str]) -> Comment:
        """A comment in a sequence stays a comment, never a list item. Go sops 3.11 puts the
        encrypted text in the list as a value (``- ENC[…,type:comment]``, read back as a comment);
        an empty comment encrypts to ``""`` there, which every reader then sees as a real item ``""``:
        that would change the data, so it is refused."""
        if isinstance(new, Comment):
            return new
        if self.decrypting or not self.list_comments_written:
            return Comment(str(new))
        if new == "":
            raise WalkError(
                "an empty comment line ('#') inside this list would become a list item \"\" "
                "when encrypted (sops 3.11 writes it so); delete the line or write text after the '#'",
                path,
            )
        return SeqComment(str(new))

    def _branch(self, branch: Branch, path: list[str], stack: list[list[str]]) -> Branch:
        stack = [*stack, []]
        for i, (key, value) in enumerate(branch):
            if isinstance(key, Comment):
                stack[-1].append(key.value)
                new = self._value(key, path, stack)
                branch[i] = (new if isinstance(new, Comment) else Comment(str(new)), None)
                continue
            if not isinstance(key, str):
                raise WalkError(f"non-string key (type {type(key).__name__}); sops supports string keys only", path)
            branch[i] = (key, self._value(value, [*path, key], stack))
            stack[-1] = []
        return branch
