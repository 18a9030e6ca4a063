"""The CLI commands end to end: directories, no-op re-encryption, edit, rotate, updatekeys, and
their interop with sops rotate / sops updatekeys."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from generator.errors import KeySourceError
from generator.sops import api
from tests.helpers.sops import AgeKey, make_age_key, run_sops, write_rule

SECRET = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s{n}\nstringData:\n  pw: secret-{n}\n"


def _tree(work: Path, recipient: str) -> list[Path]:
    write_rule(work, recipient, "encrypted_regex: ^(data|stringData)$", path_regex=r"secrets/.*\.yaml$")
    files = []
    for n in range(5):
        path = work / "secrets" / f"sub{n % 2}" / f"s{n}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(SECRET.format(n=n))
        files.append(path)
    (work / "secrets" / "README.md").write_text("not matched by the rule\n")
    (work / "other.yaml").write_text("not: matched\n")
    return files


@pytest.mark.interop
def test_encrypt_directory_then_noop(work: Path, age_key: AgeKey, run_cli: Callable[..., Result]) -> None:
    files = _tree(work, age_key.recipient)
    result = run_cli("encrypt", "-i", "secrets")
    assert result.exit_code == 0, result.output
    assert "encrypted 5 file(s), 0 already encrypted" in result.output
    assert (work / "secrets" / "README.md").read_text() == "not matched by the rule\n"
    stamps = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files}
    for path in files:
        assert api.is_encrypted(path.read_bytes(), "yaml")
        out = run_sops("decrypt", str(path.relative_to(work)), cwd=work, key_file=age_key.key_file).stdout
        assert b"secret-" in out
    again = run_cli("encrypt", "-i", "secrets")
    assert again.exit_code == 0 and "encrypted 0 file(s), 5 already encrypted" in again.output
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files} == stamps


def test_encrypt_to_stdout_needs_one_file(work: Path, age_key: AgeKey, run_cli: Callable[..., Result]) -> None:
    _tree(work, age_key.recipient)
    result = run_cli("encrypt", "secrets")
    assert result.exit_code == 2
    one = run_cli("encrypt", "secrets/sub0/s0.yaml")
    assert one.exit_code == 0 and "mac: ENC[" in one.output
    assert (work / "secrets/sub0/s0.yaml").read_text() == SECRET.format(n=0)


def test_no_matching_rule(work: Path, age_key: AgeKey, run_cli: Callable[..., Result]) -> None:
    _tree(work, age_key.recipient)
    result = run_cli("encrypt", "-i", "other.yaml")
    assert result.exit_code == 1 and "no creation rule" in result.output and "other.yaml" in result.output


def test_no_config(work: Path, age_key: AgeKey, run_cli: Callable[..., Result]) -> None:
    (work / "x.yaml").write_text("a: b\n")
    result = run_cli("encrypt", "-i", "x.yaml")
    assert result.exit_code == 1 and ".sops.yaml" in result.output


def test_decrypt_output_file(work: Path, age_key: AgeKey, run_cli: Callable[..., Result]) -> None:
    files = _tree(work, age_key.recipient)
    assert run_cli("encrypt", "-i", str(files[0])).exit_code == 0
    out = work / "plain.yaml"
    result = run_cli("decrypt", "--output", str(out), str(files[0]))
    assert result.exit_code == 0 and result.output == ""
    assert out.read_text() == "apiVersion: v1\nkind: Secret\nmetadata:\n    name: s0\nstringData:\n    pw: secret-0\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert run_cli("decrypt", "-i", str(files[0])).exit_code == 0
    assert "secret-0" in files[0].read_text() and "sops:" not in files[0].read_text()
    assert run_cli("decrypt", "-i", "--output", str(out), str(files[0])).exit_code == 2


def _editor(tmp_path: Path, script: str) -> str:
    editor = tmp_path / "editor.py"
    editor.write_text("import os, stat, sys\n" + script)
    return f"{sys.executable} {editor}"


def test_edit_unchanged_keeps_file(
    work: Path, age_key: AgeKey, tmp_path: Path, run_cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _tree(work, age_key.recipient)
    run_cli("encrypt", "-i", str(files[0]))
    before = (files[0].read_bytes(), files[0].stat().st_mtime_ns)
    log = tmp_path / "modes.txt"
    monkeypatch.setenv(
        "EDITOR",
        _editor(
            tmp_path,
            f"""
p = sys.argv[1]
open({str(log)!r}, "w").write(oct(os.stat(p).st_mode & 0o777) + " " + oct(os.stat(os.path.dirname(p)).st_mode & 0o777))
""",
        ),
    )
    result = run_cli("edit", str(files[0]))
    assert result.exit_code == 0 and "unchanged" in result.output
    assert (files[0].read_bytes(), files[0].stat().st_mtime_ns) == before
    assert log.read_text() == "0o600 0o700"


@pytest.mark.interop
def test_edit_changes_one_value_keeps_data_key(
    work: Path, age_key: AgeKey, tmp_path: Path, run_cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = work / "secrets" / "app.yaml"
    write_rule(work, age_key.recipient, "encrypted_regex: ^(data|stringData)$")
    path.parent.mkdir()
    path.write_text("stringData:\n  keep: same-value\n  change: old-value\n")
    run_cli("encrypt", "-i", str(path))
    before = path.read_text()
    monkeypatch.setenv(
        "EDITOR",
        _editor(
            tmp_path,
            """
p = sys.argv[1]
t = open(p).read().replace("old-value", "new-value")
open(p, "w").write(t)
""",
        ),
    )
    result = run_cli("edit", str(path))
    assert result.exit_code == 0, result.output
    after = path.read_text()
    keep_line = next(line for line in before.splitlines() if "keep:" in line)
    assert keep_line in after.splitlines()  # unchanged value: same ciphertext (IV stash)
    age_before = before[before.index("enc: |") : before.index("lastmodified")]
    assert age_before in after  # same data key, same wrapped key
    out = run_sops("decrypt", str(path), cwd=work, key_file=age_key.key_file).stdout
    assert b"new-value" in out and b"same-value" in out
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob("fluxforge-edit-*/app.yaml"))


def test_edit_invalid_result_leaves_file(
    work: Path, age_key: AgeKey, tmp_path: Path, run_cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _tree(work, age_key.recipient)
    run_cli("encrypt", "-i", str(files[0]))
    before = files[0].read_bytes()
    monkeypatch.setenv("EDITOR", _editor(tmp_path, "open(sys.argv[1], 'w').write('a: [broken\\n')\n"))
    result = run_cli("edit", str(files[0]))
    assert result.exit_code == 1 and "invalid YAML" in result.output
    assert files[0].read_bytes() == before


@pytest.mark.interop
def test_rotate_new_data_key_and_sops_reads_it(work: Path, age_key: AgeKey, run_cli: Callable[..., Result]) -> None:
    files = _tree(work, age_key.recipient)
    run_cli("encrypt", "-i", "secrets")
    before = files[0].read_text()
    result = run_cli("rotate", "secrets")
    assert result.exit_code == 0 and "rotated 5 file(s)" in result.output, result.output
    after = files[0].read_text()
    assert before.split("enc: |")[1][:200] != after.split("enc: |")[1][:200]
    for path in files:
        out = run_sops("decrypt", str(path), cwd=work, key_file=age_key.key_file).stdout
        assert b"secret-" in out


@pytest.mark.interop
def test_sops_rotate_output_readable_by_us(work: Path, age_key: AgeKey, run_cli: Callable[..., Result]) -> None:
    files = _tree(work, age_key.recipient)
    run_cli("encrypt", "-i", str(files[1]))
    run_sops("rotate", "-i", str(files[1]), cwd=work, key_file=age_key.key_file)
    result = run_cli("decrypt", str(files[1]))
    assert result.exit_code == 0 and "secret-1" in result.output


@pytest.mark.interop
def test_updatekeys_adds_recipient_both_ways(
    work: Path, age_key: AgeKey, tmp_path: Path, run_cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _tree(work, age_key.recipient)
    run_cli("encrypt", "-i", "secrets")
    second = make_age_key(tmp_path, "second.txt")
    write_rule(
        work,
        f"{age_key.recipient},{second.recipient}",
        "encrypted_regex: ^(data|stringData)$",
        path_regex=r"secrets/.*\.yaml$",
    )
    dry = run_cli("updatekeys", "--dry-run", "secrets")
    assert dry.exit_code == 0 and f"+ age {second.recipient}" in dry.output
    assert "would update 5 file(s)" in dry.output
    untouched = files[0].read_bytes()
    assert second.recipient not in untouched.decode()
    result = run_cli("updatekeys", "secrets/sub0")
    assert result.exit_code == 0, result.output
    for path in files[0::2]:
        out = run_sops("decrypt", str(path), cwd=work, key_file=second.key_file).stdout
        assert b"secret-" in out
    # sops updatekeys on a file we wrote, then we decrypt with the new key only
    run_sops("updatekeys", "-y", str(files[1]), cwd=work, key_file=age_key.key_file)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(second.key_file))
    assert "secret-1" in run_cli("decrypt", str(files[1])).output
    both = tmp_path / "both.txt"
    both.write_text(age_key.key_file.read_text() + second.key_file.read_text())
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(both))
    again = run_cli("updatekeys", "secrets")
    assert "updated 1 file(s), 4 already up to date" in again.output, again.output


@pytest.mark.interop
def test_key_groups_shamir_written_by_sops(
    work: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: Callable[..., Result]
) -> None:
    keys = [make_age_key(tmp_path, f"k{i}.txt") for i in range(3)]
    (work / ".sops.yaml").write_text(
        "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n"
        + "".join(f"      - age:\n          - {k.recipient}\n" for k in keys)
    )
    (work / "s.yaml").write_text("pw: shamir-secret\n")
    enc = run_sops("encrypt", "s.yaml", cwd=work).stdout
    assert b"shamir_threshold: 2" in enc and b"key_groups:" in enc
    both = tmp_path / "two.txt"
    both.write_text(keys[0].key_file.read_text() + keys[2].key_file.read_text())
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(both))
    assert api.decrypt_bytes(enc, fmt="yaml") == b"pw: shamir-secret\n"
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(keys[1].key_file))
    with pytest.raises(KeySourceError, match="data key"):
        api.decrypt_bytes(enc, fmt="yaml")
    # and the reverse: our key-group file, layout identical to sops's, decrypted by sops with 2 of 3 keys
    rule = api.load_rules(work / ".sops.yaml").rule_for(work / "s.yaml")
    assert rule is not None
    ours = api.encrypt_bytes(b"pw: shamir-secret\n", fmt="yaml", rule=rule)
    (work / "ours.yaml").write_bytes(ours)
    out = run_sops("decrypt", "ours.yaml", cwd=work, key_file=both).stdout
    assert out == b"pw: shamir-secret\n"
    from tests.helpers.sops import mask

    assert mask(ours.decode()) == mask(enc.decode())


def test_cli_import_stays_lazy() -> None:
    import subprocess
    import sys

    code = (
        "import sys, generator.cli; heavy = [m for m in ('pyrage', 'cryptography', 'generator.sops.engine', "
        "'azure') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_progress_bar_only_on_a_tty(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from generator.cli.commands import _SopsProgress

    progress = _SopsProgress()
    for i in range(1, 4):
        progress(i, 3, Path(f"f{i}"))
    assert progress.bar is None
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    progress = _SopsProgress()
    for i in range(1, 4):
        progress(i, 3, Path(f"f{i}"))
    assert progress.bar is not None
    assert "sops" in capsys.readouterr().err


@pytest.mark.interop
def test_edit_creates_a_new_file_from_the_rules(
    work: Path, age_key: AgeKey, tmp_path: Path, run_cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_rule(work, age_key.recipient, "encrypted_regex: ^(data|stringData)$")
    monkeypatch.setenv("EDITOR", _editor(tmp_path, "open(sys.argv[1], 'w').write('stringData:\\n  new: fresh\\n')\n"))
    result = run_cli("edit", "new.yaml")
    assert result.exit_code == 0 and "saved" in result.output
    out = run_sops("decrypt", "new.yaml", cwd=work, key_file=age_key.key_file).stdout
    assert out == b"stringData:\n    new: fresh\n"
