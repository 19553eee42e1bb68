"""The attachment store: one encrypted file per attachment under instance/attachments/.

Files hold the same versioned AES-GCM format as encrypted columns, bound to the attachment's uid,
so a file swapped for another fails to decrypt. Nothing here sees a plaintext file name.
"""
import os
import secrets

from flask import current_app

from ..crypto import decrypt_bytes, encrypt_bytes, ensure_data_key
from ..extensions import db

# The types we accept, recognised by their first bytes (never by the name the browser sent).
SIGNATURES = (
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
)


def sniff(data: bytes):
    for magic, mime, ext in SIGNATURES:
        if data.startswith(magic):
            return mime, ext
    return None, None


class FileRefused(ValueError):
    """An upload the store does not keep; `code` says why: empty_file, file_too_large, file_type."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code


def check(filename: str, data: bytes):
    """(mime type, extension, clean file name) of an upload the store accepts, judged by its bytes."""
    if not data:
        raise FileRefused("empty_file")
    if len(data) > current_app.config["ATTACHMENT_MAX_BYTES"]:
        raise FileRefused("file_too_large")
    mime, ext = sniff(data)
    if mime is None:
        raise FileRefused("file_type")
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()[:200] or f"attachment.{ext}"
    return mime, ext, name


def _root() -> str:
    root = current_app.config.get("ATTACHMENT_DIR") or os.path.join(current_app.instance_path, "attachments")
    os.makedirs(root, mode=0o700, exist_ok=True)
    return root


def _path(uid: str) -> str:
    if not uid.isalnum():
        raise ValueError("bad attachment id")
    return os.path.join(_root(), uid)


def _aad(uid):
    return f"attachments.content:{uid}"


def write(owner, uid: str, data: bytes):
    """Encrypt under the owner's data key (a case's, or an activity's) and store."""
    with db.session.no_autoflush:
        blob = encrypt_bytes(ensure_data_key(owner), data, _aad(uid))
    path = _path(uid)
    tmp = f"{path}.tmp-{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(blob)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read(uid: str) -> bytes:
    with open(_path(uid), "rb") as fh:
        return decrypt_bytes(fh.read(), _aad(uid))


def remove(uid: str):
    try:
        os.remove(_path(uid))
    except FileNotFoundError:
        pass
