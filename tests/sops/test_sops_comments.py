"""Comment placement against sops 3.11: random YAML with comments at assorted indentations (head,
foot, inline, blank-line separated, end of file) must come out of fluxforge byte-identical to
sops's output once the random parts are masked, and sops must treat our comments exactly as its own.

fluxforge places every comment where sops (go-yaml v3) does.
Where sops writes a comment to a place it reads back under another key (sops then shows ``#ENC[…]``
for ever), fluxforge refuses the file instead; the test shows sops's own output is broken there.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from generator.errors import SopsError
from generator.sops import api
from tests.helpers.sops import AgeKey, mask, run_sops, write_rule


def _gen(rng: random.Random, depth: int = 0, ind: int = 0) -> list[str]:
    lines: list[str] = []
    for i in range(rng.randint(1, 3)):
        key = f"k{depth}{i}"
        if rng.random() < 0.21:
            lines.append(" " * rng.choice([0, ind, ind + 2, max(ind - 2, 0)]) + f"# c{rng.randint(0, 99)}")
        if rng.random() < 0.1:
            lines.append("")
        kind = rng.random()
        if depth < 3 and kind < 0.35:
            lines.append(" " * ind + key + ":" + (" # in" if rng.random() < 0.2 else ""))
            lines += _gen(rng, depth + 1, ind + 2)
        elif depth < 3 and kind < 0.55:
            lines.append(" " * ind + key + ":")
            for j in range(rng.randint(1, 3)):
                if rng.random() < 0.25:
                    lines.append(" " * (ind + 2) + f"# s{j}")
                lines.append(" " * (ind + 2) + f"- v{j}" + (" # it" if rng.random() < 0.2 else ""))
        else:
            lines.append(" " * ind + f"{key}: val{i}" + (" # tail" if rng.random() < 0.25 else ""))
    if rng.random() < 0.3:
        lines.append(" " * rng.choice([0, ind]) + f"# end{depth}")
    return lines


@pytest.mark.interop
@pytest.mark.parametrize("seed", range(0, 120, 3))
def test_random_comments_like_sops(work: Path, age_key: AgeKey, seed: int) -> None:
    rng = random.Random(seed)
    text = "\n".join(_gen(rng)) + "\n"
    write_rule(work, age_key.recipient, rng.choice(["", "encrypted_regex: ^k1"]))
    (work / "d.yaml").write_text(text)
    rule = api.load_rules(work / ".sops.yaml").rule_for(work / "d.yaml")
    assert rule is not None
    theirs = run_sops("encrypt", "d.yaml", cwd=work).stdout
    (work / "theirs.yaml").write_bytes(theirs)
    own = run_sops("decrypt", "theirs.yaml", cwd=work, key_file=age_key.key_file)
    try:
        ours = api.encrypt_bytes(text.encode(), fmt="yaml", rule=rule)
    except SopsError as err:
        assert "a comment here would not be read back by sops under this key" in str(err)
        assert b"type:comment]" in own.stdout and b"possibly unencrypted" in own.stderr, own.stdout.decode()
        return
    assert mask(ours.decode()) == mask(theirs.decode()), text
    (work / "ours.yaml").write_bytes(ours)
    mine = run_sops("decrypt", "ours.yaml", cwd=work, key_file=age_key.key_file)
    assert mine.stdout == own.stdout and b"type:comment]" not in mine.stdout
