"""The adversarial corpus (``corpus_gen``, fixed seed, 222 files, every selector variant) against the
real sops 3.11.0, both directions (issue 17, proof).

For each format and selector variant the files are joined into one batch (YAML documents, one JSON
object per file under a ``caseNNN`` key, dotenv and INI files one after another behind a marker) so
the real sops runs three times per batch instead of three times per file; the checks are then made
per file:

* fluxforge encrypts → sops decrypts: the values are the plaintext's, and the text sops prints is
  the text it prints for its own ciphertext of the same file (comments included);
* sops encrypts → fluxforge decrypts: fluxforge prints exactly what ``sops decrypt`` prints;
* layout: fluxforge's ciphertext is sops's, byte for byte, once ciphertext, IVs, tags, age stanzas and
  timestamps are masked (INI: the ``[sops]`` section sorted, sops 3.11 writes it in map order);
* a YAML file fluxforge refuses is one sops itself changes (a value, or a comment lost or left
  encrypted): checked one by one with the real sops.

``pytest -s`` prints the counts per check and format.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from generator.errors import SopsError
from generator.sops import api
from generator.sops.stores.ini import parse_ini
from generator.sops.stores.yaml_read import load_documents
from generator.sops.values import Branch, Comment
from tests.helpers.sops import AgeKey, make_age_key, mask, run_sops
from tests.sops.corpus_gen import VARIANTS, Case, corpus

pytestmark = pytest.mark.interop

EXT = {"yaml": "yaml", "json": "json", "dotenv": "env", "ini": "ini", "binary": "bin"}


@dataclass
class Tally:
    passed: Counter[tuple[str, str]] = field(default_factory=Counter)
    failed: list[str] = field(default_factory=list)

    def check(self, fmt: str, check: str, ok: bool, detail: str) -> None:
        if ok:
            self.passed[(fmt, check)] += 1
        else:
            self.failed.append(f"{fmt} {check}: {detail}")


@dataclass
class Batch:
    fmt: str
    variant: str
    folder: Path
    cases: list[Case]
    text: bytes = b""
    ours: bytes = b""
    theirs: bytes = b""


def _rule(folder: Path, recipient: str, lines: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    extra = "".join(f"    {line}\n" for line in lines.splitlines())
    (folder / ".sops.yaml").write_text(f"creation_rules:\n  - age: {recipient}\n{extra}")


def _sops(args: list[str], folder: Path, key: AgeKey, data: bytes | None = None) -> bytes:
    """``sops ARGS`` in ``folder``; the output, or b"" when sops fails."""
    done = run_sops(*args, cwd=folder, key_file=key.key_file, input=data, check=False)
    return done.stdout if done.returncode == 0 else b""


def _join(fmt: str, cases: list[Case]) -> bytes:
    if fmt == "yaml":
        return b"---\n".join(c.text.removeprefix("\ufeff".encode()) for c in cases)
    if fmt == "json":
        parts = [f'"{c.name}": ' + c.text.decode().strip() for c in cases]
        return ("{\n" + ",\n".join(parts) + "\n}\n").encode()
    if fmt == "dotenv":
        return b"".join(f"#case {c.name}\n".encode() + c.text for c in cases)
    return b"".join(f"[case-{c.name}]\n".encode() + c.text + b"\n" for c in cases)


def _split(fmt: str, text: str, cases: list[Case]) -> dict[str, str]:
    """The part of a decrypted batch that belongs to each file."""
    if fmt == "json":
        whole = json.loads(text)
        return {c.name: json.dumps(whole[c.name], sort_keys=True) for c in cases}
    marker = re.compile(r"^#case (\S+)\n" if fmt == "dotenv" else r"^\[case-(\S+)\]\n", re.MULTILINE)
    pieces = marker.split(text)
    return dict(zip(pieces[1::2], pieces[2::2], strict=True))


def _yaml_docs(text: str, cases: list[Case]) -> dict[str, list[object]]:
    docs = [_data(d) for d in load_documents(text, "batch")]
    out, at = {}, 0
    for case in cases:
        count = max(len(load_documents(case.text.decode().removeprefix("\ufeff"), case.name)), 1)
        out[case.name] = docs[at : at + count]
        at += count
    return out


def _data(value: object) -> object:
    if isinstance(value, Branch):
        return [(k, _data(v)) for k, v in value if not isinstance(k, Comment)]
    if isinstance(value, list):
        return [_data(v) for v in value if not isinstance(v, Comment)]
    return value


def _ini_data(text: str) -> list[object]:
    return [(s.name, [(k.name, k.value) for k in s.keys]) for s in parse_ini(text)]


def _dotenv_data(text: str) -> list[str]:
    return [line for line in text.split("\n") if line and not line.startswith("#")]


def _masked(fmt: str, data: bytes) -> str:
    text = mask(data.decode("utf-8", "surrogateescape"))
    if fmt == "ini":
        head, _, meta = text.partition("[sops]\n")
        return head + "[sops]\n" + "\n".join(sorted(re.sub(r" +=", " =", line) for line in meta.splitlines()))
    return text


@pytest.fixture(scope="module")
def corpus_results(tmp_path_factory: pytest.TempPathFactory) -> tuple[Tally, Counter[str], int]:
    work = tmp_path_factory.mktemp("corpus")
    key = make_age_key(work)
    tally: Tally = Tally()
    refused: Counter[str] = Counter()
    cases = corpus()
    selectors = dict(VARIANTS)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOPS_AGE_KEY_FILE", str(key.key_file))
        batches, singles = _prepare(work, key, cases, selectors, tally, refused)
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda b: _sops_encrypt(b, key), batches))
            decrypted = list(
                pool.map(
                    lambda b: (
                        _sops(["decrypt", f"ours.{EXT[b.fmt]}"], b.folder, key),
                        _sops(["decrypt", f"theirs.{EXT[b.fmt]}"], b.folder, key),
                    ),
                    batches,
                )
            )
            list(pool.map(lambda s: s(), singles))
        for batch, (from_ours, from_theirs) in zip(batches, decrypted, strict=True):
            _check_batch(batch, from_ours.decode(), from_theirs.decode(), tally)
    return tally, refused, len(cases)


def _prepare(
    work: Path, key: AgeKey, cases: list[Case], selectors: dict[str, str], tally: Tally, refused: Counter[str]
) -> tuple[list[Batch], list[Callable[[], None]]]:
    """Group the files into batches (YAML files fluxforge refuses are checked one by one instead)
    and encrypt every batch with fluxforge."""
    groups: dict[tuple[str, str], list[Case]] = {}
    singles: list[Callable[[], None]] = []
    for case in cases:
        folder = work / case.fmt / case.variant
        if not (folder / ".sops.yaml").exists():
            _rule(folder, key.recipient, selectors[case.variant])
        if case.fmt == "binary":
            singles.append(lambda c=case, f=folder: _binary_case(c, f, key, tally))
            continue
        if case.fmt == "yaml" and _refused(case, folder):
            singles.append(lambda c=case, f=folder: _refused_case(c, f, key, tally, refused))
            continue
        groups.setdefault((case.fmt, case.variant), []).append(case)
    batches = []
    for (fmt, variant), members in groups.items():
        batch = Batch(fmt, variant, work / fmt / variant, members, _join(fmt, members))
        name = batch.folder / f"batch.{EXT[fmt]}"
        name.write_bytes(batch.text)
        rule = api.load_rules(batch.folder / ".sops.yaml").rule_for(name)
        assert rule is not None
        batch.ours = api.encrypt_bytes(batch.text, fmt=fmt, rule=rule, path_for_errors=str(name))
        (batch.folder / f"ours.{EXT[fmt]}").write_bytes(batch.ours)
        batches.append(batch)
    return batches, singles


def _refused(case: Case, folder: Path) -> bool:
    rule = api.load_rules(folder / ".sops.yaml").rule_for(folder / "x.yaml")
    assert rule is not None
    try:
        api.encrypt_bytes(case.text, fmt="yaml", rule=rule)
    except SopsError:
        return True
    return False


def _sops_encrypt(batch: Batch, key: AgeKey) -> None:
    batch.theirs = _sops(["encrypt", f"batch.{EXT[batch.fmt]}"], batch.folder, key)
    (batch.folder / f"theirs.{EXT[batch.fmt]}").write_bytes(batch.theirs)


def _check_batch(batch: Batch, from_ours: str, from_theirs: str, tally: Tally) -> None:
    fmt, names = batch.fmt, [c.name for c in batch.cases]
    where = f"{batch.variant} batch"
    tally.check(fmt, "sops encrypts the batch", bool(batch.theirs), where)
    tally.check(fmt, "sops decrypts fluxforge's batch", bool(from_ours), where)
    if not (batch.theirs and from_ours):
        return
    ff_of_theirs = api.decrypt_bytes(batch.theirs, fmt=fmt).decode()
    same_layout = _masked(fmt, batch.ours) == _masked(fmt, batch.theirs)
    for name in names:
        tally.check(fmt, "layout = sops's (masked)", same_layout, f"{where} {name}")
    if fmt == "yaml":
        mine, theirs, plain = (_yaml_docs(t, batch.cases) for t in (from_ours, from_theirs, batch.text.decode()))
        ff_dec = _yaml_docs(ff_of_theirs, batch.cases)
    else:
        mine, theirs, ff_dec = (_split(fmt, t, batch.cases) for t in (from_ours, from_theirs, ff_of_theirs))
        plain = _split(fmt, batch.text.decode(), batch.cases) if fmt != "json" else theirs
    text_same = from_ours == from_theirs
    tally.check(fmt, "no comment left encrypted (#ENC)", "type:comment]" not in from_ours, where)
    for name in names:
        tally.check(
            fmt, "fluxforge→sops: values = plaintext", _same_data(fmt, mine[name], plain[name]), f"{where} {name}"
        )
        tally.check(
            fmt, "fluxforge→sops: text = sops's own", text_same and mine[name] == theirs[name], f"{where} {name}"
        )
        tally.check(
            fmt,
            "sops→fluxforge: output = sops decrypt",
            ff_of_theirs == from_theirs and ff_dec[name] == theirs[name],
            f"{where} {name}",
        )


def _same_data(fmt: str, got: object, want: object) -> bool:
    if fmt == "ini":
        return _ini_data(str(got)) == _ini_data(str(want))
    if fmt == "dotenv":
        return _dotenv_data(str(got)) == _dotenv_data(str(want))
    return got == want


def _binary_case(case: Case, folder: Path, key: AgeKey, tally: Tally) -> None:
    name = folder / f"{case.name}.bin"
    name.write_bytes(case.text)
    rule = api.load_rules(folder / ".sops.yaml").rule_for(name)
    assert rule is not None
    (folder / f"{case.name}.ours.bin").write_bytes(api.encrypt_bytes(case.text, fmt="binary", rule=rule))
    tally.check(
        "binary",
        "fluxforge→sops: values = plaintext",
        _sops(["decrypt", f"{case.name}.ours.bin"], folder, key) == case.text,
        case.name,
    )
    theirs = _sops(["encrypt", f"{case.name}.bin"], folder, key)
    ok = bool(theirs) and api.decrypt_bytes(theirs, fmt="binary") == case.text
    tally.check("binary", "sops→fluxforge: output = sops decrypt", ok, case.name)


def _refused_case(case: Case, folder: Path, key: AgeKey, tally: Tally, refused: Counter[str]) -> None:
    """fluxforge refused the file: sops's own round trip must lose something there."""
    name = folder / f"{case.name}.yaml"
    name.write_bytes(case.text)
    theirs = _sops(["encrypt", name.name], folder, key)
    (folder / f"{case.name}.theirs.yaml").write_bytes(theirs)
    back = _sops(["decrypt", f"{case.name}.theirs.yaml"], folder, key).decode()
    plain = load_documents(case.text.decode().removeprefix("\ufeff"), case.name)
    lost = (
        not theirs
        or "type:comment]" in back
        or _comments(load_documents(back, "back")) != _comments(plain)
        or [_data(d) for d in load_documents(back, "back")] != [_data(d) for d in plain]
    )
    refused[case.variant] += 1
    tally.check("yaml", "refused only where sops loses data or a comment", lost, case.name)


def _comments(docs: list[Branch]) -> list[tuple[tuple[str, ...], str]]:
    out: list[tuple[tuple[str, ...], str]] = []

    def walk(value: object, path: tuple[str, ...]) -> None:
        items = list(value) if isinstance(value, list) else []
        for item in items:
            key, child = item if isinstance(value, Branch) else (None, item)
            if isinstance(key, Comment) or isinstance(child, Comment):
                out.append((path, (key if isinstance(key, Comment) else child).value))  # type: ignore[union-attr]
            else:
                walk(child, (*path, str(key)) if isinstance(value, Branch) else path)

    for doc in docs:
        walk(doc, ())
    return sorted(out)


def test_corpus_is_large_and_covers_every_selector_variant() -> None:
    cases = corpus()
    assert len(cases) >= 200
    assert {c.variant for c in cases} == {name for name, _ in VARIANTS}
    assert {c.fmt for c in cases} == {"yaml", "json", "dotenv", "ini", "binary"}
    assert corpus() == cases  # fixed seed: the same files on every run


def test_corpus_against_real_sops(corpus_results: tuple[Tally, Counter[str], int]) -> None:
    tally, refused, total = corpus_results
    lines = [f"{fmt:7} {check:52} {count}" for (fmt, check), count in sorted(tally.passed.items())]
    print(
        f"\ncorpus: {total} files; refused by fluxforge (sops loses data or comments there): "
        f"{sum(refused.values())} {dict(refused)}",
        *lines,
        sep="\n",
    )
    if os.environ.get("FLUXFORGE_CORPUS_REPORT"):
        Path(os.environ["FLUXFORGE_CORPUS_REPORT"]).write_text("\n".join(lines) + "\n")
    assert not tally.failed, "\n".join(tally.failed[:20])
    assert sum(tally.passed.values()) > 4 * 200
