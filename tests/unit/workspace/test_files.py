"""synapsed/workspace: what a call may read, and how. Every attack is refused as file_refused
before a byte of the file is read."""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path

import pytest

from synapsed import protocol as p
from synapsed.errors import SynapseError
from synapsed.redaction import SECRETS
from synapsed.workspace import access
from synapsed.workspace.access import check, roots_from_uris, scope
from synapsed.workspace.reading import Limits, image_type, read_files

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
LIMITS = Limits(max_file_bytes=64 * 1024, max_call_bytes=96 * 1024, read_timeout_s=2)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("print('hello')\n")
    (root / "shot.png").write_bytes(PNG)
    return root


def _refusal(ref: str, where: object) -> SynapseError:
    with pytest.raises(SynapseError) as refused:
        check(ref, where)  # type: ignore[arg-type]
    assert refused.value.kind == "file_refused"
    return refused.value


def _read(refs: list[str], where: object, limits: Limits = LIMITS) -> list[p.Attachment]:
    return asyncio.run(read_files(refs, where, limits))  # type: ignore[arg-type]


def test_a_file_inside_the_root_is_read_by_absolute_relative_and_file_uri(workspace: Path) -> None:
    where = scope([workspace], "roots")
    target = str(workspace / "src" / "app.py")
    for ref in (target, "src/app.py", (workspace / "src" / "app.py").as_uri()):
        (text,) = _read([ref], where)
        assert isinstance(text, p.TextFile) and text.text == "print('hello')\n" and text.path == target


def test_dot_dot_out_of_the_root_is_refused(workspace: Path, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("x")
    assert "outside the client's roots" in _refusal("src/../../secret.txt", scope([workspace], "roots")).message


def test_a_symlink_that_leaves_the_root_is_refused(workspace: Path, tmp_path: Path) -> None:
    (tmp_path / "outside.txt").write_text("x")
    (workspace / "link.txt").symlink_to(tmp_path / "outside.txt")
    assert "outside" in _refusal(str(workspace / "link.txt"), scope([workspace], "roots")).message


def test_a_symlinked_root_counts_as_its_target(workspace: Path, tmp_path: Path) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(workspace)
    (text,) = _read([str(alias / "src" / "app.py")], scope([alias], "roots"))
    assert text.path == str(workspace / "src" / "app.py")
    (tmp_path / "beside.txt").write_text("x")
    _refusal(str(alias / ".." / "beside.txt"), scope([alias], "roots"))


def test_proc_self_environ_is_refused_even_inside_a_root() -> None:
    assert "kernel or device tree" in _refusal("/proc/self/environ", scope([Path("/")], "roots")).message


def test_the_daemons_own_files_are_refused(tmp_path: Path) -> None:
    home = tmp_path / "synapse-home"
    (home / "run").mkdir(parents=True)
    (home / "run" / "mcp.token").write_text("tok")
    where = scope([tmp_path], "roots", forbidden=[home])
    assert "synapsed's own files" in _refusal(str(home / "run" / "mcp.token"), where).message


def test_a_hard_link_to_the_daemons_token_inside_a_root_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "synapse-home"
    (home / "run").mkdir(parents=True)
    (home / "run" / "mcp.token").write_text("tok")
    project = tmp_path / "project"
    project.mkdir()
    os.link(home / "run" / "mcp.token", project / "notes.txt")
    where = scope([project], "roots", forbidden=[home])
    assert "synapsed's own files" in _refusal(str(project / "notes.txt"), where).message


def test_a_hard_link_to_a_connections_key_file_inside_a_root_is_refused(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "openai.key.txt"
    key_file.parent.mkdir()
    key_file.write_text("sk-not-a-real-key")
    project = tmp_path / "project"
    project.mkdir()
    os.link(key_file, project / "readme.txt")
    where = scope([project], "roots", forbidden=[key_file])
    assert "synapsed's own files" in _refusal(str(project / "readme.txt"), where).message


def test_a_hard_link_to_an_ordinary_file_outside_the_roots_reads_as_a_file_in_the_root(
        workspace: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere.txt").write_text("shared text\n")
    os.link(tmp_path / "elsewhere.txt", workspace / "linked.txt")
    (text,) = _read(["linked.txt"], scope([workspace], "roots"))  # the documented limit of roots
    assert isinstance(text, p.TextFile) and text.text == "shared text\n"


def test_the_daemons_directory_is_known_by_identity_not_by_spelling(tmp_path: Path) -> None:
    home = tmp_path / "synapse-home"
    home.mkdir()
    (home / "config.toml").write_text("[mcp]\n")
    other_name = tmp_path / "alias"  # another name for the same directory, as a bind mount or a
    other_name.symlink_to(home)      # differently cased path on macOS would be
    real = home / "config.toml"
    assert access._own(real, os.stat(real), access.identities([other_name]))
    assert not access._own(tmp_path / "x", os.stat(tmp_path), access.identities([tmp_path / "missing"]))


@pytest.mark.parametrize("relative", [".ENV", ".Env.Local", "deploy/SERVER.PEM", ".SSH/id_ed25519", "keys/ID_RSA",
                                      ".Aws/Credentials", ".NETRC"])
def test_secrets_by_name_are_refused_in_any_case(workspace: Path, relative: str) -> None:
    path = workspace / relative  # on a case-insensitive volume (macOS) these open the secret itself
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")
    _refusal(str(path), scope([workspace], "roots"))


@pytest.mark.parametrize("relative", [".env", ".env.local", "deploy/server.pem", "tls.key", ".ssh/id_ed25519",
                                      "keys/id_rsa.pub", ".gnupg/pubring.kbx", ".aws/credentials", ".netrc",
                                      ".git-credentials", "gcp-service-account.json"])
def test_secrets_by_name_are_refused(workspace: Path, relative: str) -> None:
    path = workspace / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")
    _refusal(str(path), scope([workspace], "roots"))


def test_a_name_allowed_in_config_goes_through(workspace: Path) -> None:
    (workspace / ".env.example").write_text("PORT=8080\n")
    (text,) = _read([".env.example"], scope([workspace], "roots", allow_names=[".env.example"]))
    assert isinstance(text, p.TextFile) and "PORT" in text.text


def test_a_fifo_is_refused_without_blocking(workspace: Path) -> None:
    os.mkfifo(workspace / "pipe")
    assert "a FIFO" in _refusal(str(workspace / "pipe"), scope([workspace], "roots")).message


def test_a_directory_is_refused(workspace: Path) -> None:
    assert "a directory" in _refusal(str(workspace / "src"), scope([workspace], "roots")).message


def test_a_2_gb_sparse_file_is_refused_by_size_without_reading_it(workspace: Path) -> None:
    big = workspace / "big.log"
    with open(big, "wb") as out:
        out.truncate(2 * 1024**3)
    with pytest.raises(SynapseError) as refused:
        _read([str(big)], scope([workspace], "roots"))
    assert refused.value.kind == "file_refused" and "2,147,483,648 bytes" in refused.value.message


def test_the_call_cap_counts_every_file_together(workspace: Path) -> None:
    for name in ("a.txt", "b.txt"):
        (workspace / name).write_text("x" * 60 * 1024)
    with pytest.raises(SynapseError) as refused:
        _read(["a.txt", "b.txt"], scope([workspace], "roots"))
    assert refused.value.kind == "file_refused" and "b.txt" in refused.value.message


def test_a_client_without_roots_and_no_allow_is_refused_with_both_ways_named(workspace: Path) -> None:
    refusal = _refusal(str(workspace / "src" / "app.py"), scope([], "config"))
    assert "roots" in refusal.hint and "[context] allow" in refusal.hint


def test_config_allow_stands_in_for_roots(workspace: Path) -> None:
    (text,) = _read([str(workspace / "src" / "app.py")], scope([workspace], "config"))
    assert isinstance(text, p.TextFile)


def test_binary_files_and_private_keys_are_refused(workspace: Path) -> None:
    (workspace / "blob.bin").write_bytes(b"\x00\x01\xfe\xff" * 10)
    (workspace / "notes.txt").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n")
    where = scope([workspace], "roots")
    for name, reason in (("blob.bin", "neither UTF-8 text"), ("notes.txt", "private key")):
        with pytest.raises(SynapseError) as refused:
            _read([name], where)
        assert reason in refused.value.message


def test_images_are_told_by_their_bytes_not_their_name(workspace: Path) -> None:
    (workspace / "looks-like.txt").write_bytes(PNG)
    (image,) = _read(["looks-like.txt"], scope([workspace], "roots"))
    assert isinstance(image, p.ImageFile) and image.media_type == "image/png" and base64.b64decode(image.data) == PNG
    assert image_type(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp" and image_type(b"GIF89a") == "image/gif"
    assert image_type(b"\xff\xd8\xff\xe0") == "image/jpeg" and image_type(b"RIFF\x00\x00\x00\x00WAVE") is None


def test_a_loaded_key_in_a_file_is_redacted_before_sending(workspace: Path) -> None:
    key = "sk-proj-FileRedactKey0123456789abcdef"
    SECRETS.add(key)
    try:
        (workspace / "config.py").write_text(f"KEY = '{key}'\n")
        (text,) = _read(["config.py"], scope([workspace], "roots"))
        assert isinstance(text, p.TextFile) and key not in text.text and "[REDACTED]" in text.text
    finally:
        SECRETS.discard(key)


def test_only_local_file_uris_name_roots() -> None:
    assert roots_from_uris(["file:///home/u/p", "https://x/y", "file://remote/share", "file:///a%20b"]) == [
        Path("/home/u/p"), Path("/a b")]
