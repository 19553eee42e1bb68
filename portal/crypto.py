"""Envelope encryption for confidential text.

Master keys live in a key ring (an owner-only file in instance/, or PORTAL_MASTER_KEYS in the
environment) and never touch the database. Each case or student gets a random 256-bit data key,
stored wrapped (AES-GCM) by the current master key. Values are AES-GCM under the data key with
the record's identity (table, column, row uid) as associated data, so a ciphertext copied to
another row or column fails to decrypt instead of showing the wrong person's text.

Value format, version 1:  b"\\x01" | data key id (4 bytes, big endian) | nonce (12) | ciphertext+tag
"""
import base64
import json
import os
import secrets
import struct
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app, g, has_app_context
from sqlalchemy import insert, inspect, select, text

from . import clock
from .extensions import db

FORMAT_V1 = 1
_HEADER = struct.Struct(">BI")


class KeyRingError(RuntimeError):
    """The key ring is missing, unreadable or does not match the data: the app must not start."""


class DecryptionError(RuntimeError):
    """A value failed its integrity check: wrong key, wrong row, or tampered bytes."""


class KeyRing:
    def __init__(self, keys: dict, current: str):
        if current not in keys:
            raise KeyRingError(f"key ring names current key {current!r} but does not hold it")
        for kid, key in keys.items():
            if len(key) != 32:
                raise KeyRingError(f"master key {kid!r} is not 256 bits")
        self.keys = dict(keys)
        self.current = current

    # -- persistence -------------------------------------------------------------------
    @classmethod
    def parse(cls, raw: str) -> "KeyRing":
        try:
            data = json.loads(raw)
            keys = {k: base64.b64decode(v, validate=True) for k, v in data["keys"].items()}
            return cls(keys, data["current"])
        except KeyRingError:
            raise
        except Exception as exc:  # any malformed content is one clear error
            raise KeyRingError(f"key ring is unreadable ({exc.__class__.__name__})") from None

    def dumps(self) -> str:
        return json.dumps(
            {"current": self.current,
             "keys": {k: base64.b64encode(v).decode() for k, v in self.keys.items()}},
            indent=1,
        )

    @classmethod
    def generate(cls) -> "KeyRing":
        kid = new_master_key_id()
        return cls({kid: AESGCM.generate_key(bit_length=256)}, kid)

    def save(self, path: str):
        """Write atomically, owner-only."""
        tmp = f"{path}.tmp-{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(self.dumps())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    # -- wrapping ----------------------------------------------------------------------
    def wrap(self, data_key: bytes) -> tuple[str, bytes]:
        kid = self.current
        nonce = os.urandom(12)
        return kid, nonce + AESGCM(self.keys[kid]).encrypt(nonce, data_key, b"datakey:" + kid.encode())

    def unwrap(self, kid: str, wrapped: bytes) -> bytes:
        key = self.keys.get(kid)
        if key is None:
            raise KeyRingError(f"master key {kid!r} is not in the key ring")
        try:
            return AESGCM(key).decrypt(wrapped[:12], wrapped[12:], b"datakey:" + kid.encode())
        except InvalidTag:
            raise KeyRingError(f"master key {kid!r} does not match the data keys it wrapped") from None


def new_master_key_id() -> str:
    return clock.now().strftime("k%Y%m%d") + "-" + secrets.token_hex(3)


def new_uid() -> str:
    return uuid.uuid4().hex


# -- loading at start ----------------------------------------------------------------------

def _data_keys_in_use(app) -> list:
    """(master key id, wrapped) of one live data key per master key, if the table exists."""
    with app.app_context():
        engine = db.engine
        if not inspect(engine).has_table("data_keys"):
            return []
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT master_key_id, MIN(id) FROM data_keys WHERE wrapped IS NOT NULL "
                "GROUP BY master_key_id")).all()
            out = []
            for kid, first_id in rows:
                wrapped = conn.execute(
                    text("SELECT wrapped FROM data_keys WHERE id = :i"), {"i": first_id}).scalar()
                out.append((kid, wrapped))
            return out


def load_keyring(app) -> KeyRing:
    """Load the key ring, creating one only when no encrypted data exists yet."""
    raw_env = app.config.get("PORTAL_MASTER_KEYS")
    path = app.config["KEYRING_PATH"]
    in_use = _data_keys_in_use(app)
    if raw_env:
        ring = KeyRing.parse(raw_env)
    elif os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as fh:
                ring = KeyRing.parse(fh.read())
        except OSError as exc:
            raise KeyRingError(f"key ring {path} cannot be read: {exc.strerror}") from None
    elif in_use:
        raise KeyRingError(
            f"The key ring {path} is missing but the database holds encrypted data. Restore the key "
            "file from your backup (or set PORTAL_MASTER_KEYS); a new key would make that data unreadable, "
            "so the portal will not create one.")
    else:
        ring = KeyRing.generate()
        ring.save(path)
    for kid, wrapped in in_use:  # a wrong key is refused now, not at the first read
        ring.unwrap(kid, wrapped)
    return ring


def keyring() -> KeyRing:
    return current_app.extensions["portal_keyring"]


# -- data keys and values ------------------------------------------------------------------

def create_data_key() -> int:
    """Insert a new wrapped data key and return its id, without flushing anything else: the
    record being encrypted is often still half-built."""
    from .models import DataKey
    kid, wrapped = keyring().wrap(AESGCM.generate_key(bit_length=256))
    with db.session.no_autoflush:
        return db.session.execute(
            insert(DataKey).values(master_key_id=kid, wrapped=wrapped, created_at=clock.now())
            .returning(DataKey.id)).scalar_one()


def _key_cache() -> dict:
    if has_app_context():
        if "portal_data_keys" not in g:
            g.portal_data_keys = {}
        return g.portal_data_keys
    return {}


def data_key(dk_id: int) -> bytes:
    cache = _key_cache()
    if dk_id in cache:
        return cache[dk_id]
    from .models import DataKey
    row = db.session.execute(
        select(DataKey.master_key_id, DataKey.wrapped).where(DataKey.id == dk_id)).one_or_none()
    if row is None or row.wrapped is None:
        raise DecryptionError("this record's key has been erased; its content is gone for good")
    cache[dk_id] = key = keyring().unwrap(row.master_key_id, row.wrapped)
    return key


def preload_data_keys(dk_ids):
    """Unwrap many data keys with one query (list pages)."""
    from .models import DataKey
    cache = _key_cache()
    wanted = {i for i in dk_ids if i is not None and i not in cache}
    if not wanted:
        return
    rows = db.session.execute(select(DataKey.id, DataKey.master_key_id, DataKey.wrapped)
                              .where(DataKey.id.in_(wanted))).all()
    for dk_id, kid, wrapped in rows:
        if wrapped is not None:
            cache[dk_id] = keyring().unwrap(kid, wrapped)


def destroy_data_key(dk) -> None:
    """Crypto-erasure: with the wrapped key gone, every value under it is unrecoverable."""
    dk.wrapped = None
    dk.destroyed_at = clock.now()
    _key_cache().pop(dk.id, None)


def encrypt_bytes(dk_id: int, plaintext: bytes, aad: str) -> bytes:
    nonce = os.urandom(12)
    ct = AESGCM(data_key(dk_id)).encrypt(nonce, plaintext, aad.encode())
    return _HEADER.pack(FORMAT_V1, dk_id) + nonce + ct


def decrypt_bytes(blob: bytes, aad: str) -> bytes:
    if not blob or len(blob) < _HEADER.size + 12 + 16:
        raise DecryptionError(f"encrypted value for {aad} is truncated")
    version, dk_id = _HEADER.unpack_from(blob)
    if version != FORMAT_V1:
        raise DecryptionError(f"encrypted value for {aad} has unknown format {version}")
    body = blob[_HEADER.size:]
    try:
        return AESGCM(data_key(dk_id)).decrypt(body[:12], body[12:], aad.encode())
    except InvalidTag:
        raise DecryptionError(
            f"encrypted value for {aad} failed its integrity check (copied from another record, "
            "or altered)") from None


def encrypt(dk_id: int, plaintext: str, aad: str) -> bytes:
    return encrypt_bytes(dk_id, plaintext.encode("utf-8"), aad)


def decrypt(blob: bytes, aad: str) -> str:
    return decrypt_bytes(blob, aad).decode("utf-8")


def ensure_data_key(owner) -> int:
    """The owner's (a case's or student's) data key id, creating the key on first use."""
    if owner.data_key_id is None:
        owner.data_key_id = create_data_key()
    return owner.data_key_id


class encrypted:
    """A model attribute holding text, stored encrypted in `<name>_ct`.

        summary_ct = mapped_column(LargeBinary)
        summary = encrypted("summary_ct", key_owner=lambda self: self.case)

    The owner (a case or student) supplies the data key; the row's `uid` column binds the value
    to this record. Plaintext exists only in memory while a request uses it.
    """

    def __init__(self, column: str, key_owner):
        self.column = column
        self.key_owner = key_owner

    def __set_name__(self, owner, name):
        self.name = name

    def _aad(self, obj):
        return f"{obj.__tablename__}.{self.column}:{obj.uid}"

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        blob = getattr(obj, self.column)
        return None if blob is None else decrypt(blob, self._aad(obj))

    def __set__(self, obj, value):
        if value is None or value == "":
            setattr(obj, self.column, None)
            return
        if not obj.uid:
            obj.uid = new_uid()
        with db.session.no_autoflush:  # the record being written may not be complete yet
            dk_id = ensure_data_key(self.key_owner(obj))
            setattr(obj, self.column, encrypt(dk_id, value, self._aad(obj)))


# -- rotation ------------------------------------------------------------------------------------------

def keyring_is_file_backed(app) -> bool:
    return not app.config.get("PORTAL_MASTER_KEYS")


def pending_rewrap() -> int:
    """Data keys still wrapped by a master key other than the current one."""
    from sqlalchemy import func

    from .models import DataKey
    return db.session.scalar(select(func.count()).select_from(DataKey).where(
        DataKey.wrapped.is_not(None), DataKey.master_key_id != keyring().current))


def add_master_key(app) -> str:
    """Add a new current master key and save the ring (the old keys stay until retired)."""
    ring = keyring()
    kid = new_master_key_id()
    while kid in ring.keys:
        kid = new_master_key_id()
    ring.keys[kid] = AESGCM.generate_key(bit_length=256)
    ring.current = kid
    if keyring_is_file_backed(app):
        ring.save(app.config["KEYRING_PATH"])
    return kid


def rewrap_batch(batch_size: int = 500) -> int:
    """Re-wrap one batch of data keys under the current master key and commit it.

    Each batch is its own transaction, so an interrupted rotation loses nothing: the next run
    picks up the keys not yet re-wrapped (the old master keys are still in the ring)."""
    from .models import DataKey
    ring = keyring()
    rows = db.session.scalars(
        select(DataKey).where(DataKey.wrapped.is_not(None), DataKey.master_key_id != ring.current)
        .order_by(DataKey.id).limit(batch_size).with_for_update()).all()
    for dk in rows:
        plain = ring.unwrap(dk.master_key_id, dk.wrapped)
        dk.master_key_id, dk.wrapped = ring.wrap(plain)
    db.session.commit()
    return len(rows)


def retire_master_key(app, kid: str):
    from .models import DataKey
    ring = keyring()
    if kid not in ring.keys:
        raise KeyRingError(f"no master key {kid!r} in the key ring")
    if kid == ring.current:
        raise KeyRingError(f"{kid} is the current master key; rotate first")
    in_use = db.session.scalar(select(DataKey.id).where(DataKey.master_key_id == kid,
                                                        DataKey.wrapped.is_not(None)).limit(1))
    if in_use:
        raise KeyRingError(f"{kid} still wraps data keys; finish `flask keys rotate` first")
    del ring.keys[kid]
    if keyring_is_file_backed(app):
        ring.save(app.config["KEYRING_PATH"])
