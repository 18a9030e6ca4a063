"""`edit` never throws the user's edit away: a broken edit reopens the editor on the edited text."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.errors import SopsError
from generator.sops import api
from tests.helpers.sops import AgeKey, write_rule

EDITOR = """#!/bin/sh
# first run: break the YAML; second run: record what it was given, then fix it
n=$(cat "{state}" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "{state}"
if [ $n = 1 ]; then printf 'password: "hunter2\\n  broken: [\\n' > "$1"
else cp "$1" "{seen}"; printf 'password: hunter2-fixed\\n' > "$1"; fi
"""


def _editor(work: Path) -> str:
    script = work.parent / "editor.sh"
    script.write_text(EDITOR.format(state=work.parent / "state", seen=work.parent / "seen"))
    script.chmod(0o755)
    return str(script)


def test_broken_edit_reopens_the_editor_on_the_edited_text(work: Path, age_key: AgeKey) -> None:
    write_rule(work, age_key.recipient)
    target = work / "s.yaml"
    errors: list[str] = []

    def retry(err: SopsError) -> bool:
        errors.extend(err.problems)
        return True

    assert api.edit_path(target, editor=_editor(work), retry=retry) is True
    assert (work.parent / "seen").read_text() == 'password: "hunter2\n  broken: [\n'
    assert len(errors) == 1 and errors[0].startswith(f"{target}") and "hunter2" not in errors[0]
    assert api.decrypt_path(target) == b"password: hunter2-fixed\n"


def test_without_retry_the_error_is_raised_and_nothing_written(work: Path, age_key: AgeKey) -> None:
    write_rule(work, age_key.recipient)
    target = work / "s.yaml"
    with pytest.raises(SopsError):
        api.edit_path(target, editor=_editor(work))
    assert not target.exists()


def test_new_file_without_a_rule_fails_before_the_editor_opens(work: Path, age_key: AgeKey) -> None:
    write_rule(work, age_key.recipient, path_regex="^secrets/")
    with pytest.raises(SopsError, match="no creation rule in .sops.yaml matches this new file"):
        api.edit_path(work / "s.yaml", editor=_editor(work))
    assert not (work.parent / "state").exists()
