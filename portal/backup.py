"""Encrypted, consistent backups: `flask backup create | verify | restore`.

A backup is one file: a gzipped tar (the database, the encrypted attachment files, a manifest of
row counts and SHA-256 digests) encrypted as a stream of AES-256-GCM chunks. Its key is derived
(HKDF) from the current master key of the key ring, which is never in the backup: a stolen backup
is unreadable, and the key ring must be kept (and restored) separately, as for the database.

- SQLite: a copy by the online backup API (consistent while the portal runs).
- PostgreSQL: `pg_dump --format=custom` inside a repeatable-read transaction whose snapshot it
  shares (`--snapshot`), so the row counts in the manifest describe exactly what was dumped.
- Restore goes only into an empty database (and an empty attachment store), then checks every
  table's row count against the manifest and that the key ring unwraps the data keys.

File format: MAGIC | header length (4) | header (JSON: format, master key id, salt, nonce prefix)
| chunks, each: length with the final flag in its top bit (4) | AES-GCM(chunk), nonce = prefix (7)
| chunk number (4) | final flag (1), associated data = the header. A reordered, cut or altered
chunk fails to decrypt; a file cut at a chunk boundary lacks the final chunk and is refused.
"""
import base64
import hashlib
import io
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import tarfile
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import make_url

from . import audit, clock
from .crypto import KeyRingError, keyring
from .extensions import db

MAGIC = b"PORTAL-BACKUP\n"
FORMAT = 1
CHUNK = 1 << 20
_FINAL = 0x80000000
_LEN = struct.Struct(">I")
PG_TOOLS = {"pg_dump": os.environ.get("PORTAL_PG_DUMP", "pg_dump"),
            "pg_restore": os.environ.get("PORTAL_PG_RESTORE", "pg_restore")}


class BackupError(RuntimeError):
    """The backup cannot be made, read or restored; the message says why."""


# -- the encrypted stream --------------------------------------------------------------------------

def _derive(master: bytes, salt: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"portal backup v1").derive(master)


class _EncryptingWriter(io.RawIOBase):
    def __init__(self, raw, ring):
        self.raw, self.buf, self.n = raw, bytearray(), 0
        salt, self.prefix = os.urandom(16), os.urandom(7)
        self.header = json.dumps({"format": FORMAT, "key": ring.current, "salt": base64.b64encode(salt).decode(),
                                  "nonce": base64.b64encode(self.prefix).decode(),
                                  "created_at": clock.now().isoformat()}).encode()
        self.aead = AESGCM(_derive(ring.keys[ring.current], salt))
        raw.write(MAGIC + _LEN.pack(len(self.header)) + self.header)

    def writable(self):
        return True

    def write(self, data):
        self.buf += data
        while len(self.buf) > CHUNK:
            self._emit(bytes(self.buf[:CHUNK]), final=False)
            del self.buf[:CHUNK]
        return len(data)

    def _emit(self, chunk, final):
        nonce = self.prefix + struct.pack(">IB", self.n, 1 if final else 0)
        ct = self.aead.encrypt(nonce, chunk, self.header)
        self.raw.write(_LEN.pack(len(ct) | (_FINAL if final else 0)) + ct)
        self.n += 1

    def close(self):
        if not self.closed:
            self._emit(bytes(self.buf), final=True)
            self.buf.clear()
        super().close()


class _DecryptingReader(io.RawIOBase):
    def __init__(self, raw, ring):
        self.raw, self.pending, self.n, self.done = raw, b"", 0, False
        if raw.read(len(MAGIC)) != MAGIC:
            raise BackupError("this is not a portal backup file")
        (size,) = _LEN.unpack(_read_exactly(raw, 4))
        self.header = _read_exactly(raw, size)
        try:
            self.info = json.loads(self.header)
            salt, self.prefix = base64.b64decode(self.info["salt"]), base64.b64decode(self.info["nonce"])
        except (ValueError, KeyError):
            raise BackupError("the backup's header is damaged") from None
        if self.info.get("format") != FORMAT:
            raise BackupError(f"unknown backup format {self.info.get('format')!r}")
        master = ring.keys.get(self.info["key"])
        if master is None:
            raise BackupError(f"the backup was encrypted with master key {self.info['key']}, which is not in the key "
                              "ring; restore the key ring that was in use when the backup was made")
        self.aead = AESGCM(_derive(master, salt))

    def readable(self):
        return True

    def _next_chunk(self):
        head = self.raw.read(4)
        if len(head) < 4:
            raise BackupError("the backup file is cut short (its last part is missing)")
        (size,) = _LEN.unpack(head)
        final, size = bool(size & _FINAL), size & ~_FINAL
        ct = _read_exactly(self.raw, size)
        nonce = self.prefix + struct.pack(">IB", self.n, 1 if final else 0)
        try:
            chunk = self.aead.decrypt(nonce, ct, self.header)
        except InvalidTag:
            raise BackupError(f"part {self.n + 1} of the backup fails its integrity check (altered, "
                              "reordered or encrypted with another key)") from None
        self.n += 1
        if final:
            if self.raw.read(1):
                raise BackupError("the backup file has data after its end")
            self.done = True
        return chunk

    def readinto(self, b):
        while not self.pending and not self.done:
            self.pending = self._next_chunk()
        n = min(len(b), len(self.pending))
        b[:n], self.pending = self.pending[:n], self.pending[n:]
        return n


def _read_exactly(raw, size):
    data = raw.read(size)
    if len(data) != size:
        raise BackupError("the backup file is cut short")
    return data


# -- what a backup holds ------------------------------------------------------------------------------

@dataclass
class Report:
    created_at: str = ""
    engine: str = ""
    revision: str | None = None
    tables: dict = field(default_factory=dict)  # table -> rows
    attachments: int = 0
    size: int = 0
    checks: list = field(default_factory=list)

    @property
    def rows(self):
        return sum(self.tables.values())


def _engine_name():
    return db.engine.dialect.name


def _tables():
    return [t.name for t in db.metadata.sorted_tables]


@contextmanager
def _private_dir(app):
    """A scratch directory for plaintext copies, owner-only, removed whatever happens."""
    path = tempfile.mkdtemp(prefix="backup-", dir=app.instance_path)
    os.chmod(path, 0o700)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _attachment_dir(app):
    return app.config.get("ATTACHMENT_DIR") or os.path.join(app.instance_path, "attachments")


def _pg_env(url):
    """libpq settings from the database URL (the password travels in the environment, not argv)."""
    u = make_url(url)
    env = dict(os.environ)
    for var, value in (("PGHOST", u.host), ("PGPORT", u.port), ("PGUSER", u.username),
                       ("PGPASSWORD", u.password), ("PGDATABASE", u.database),
                       ("PGSSLMODE", u.query.get("sslmode"))):
        if value:
            env[var] = str(value)
    return env


def _run(cmd, env):
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise BackupError(f"{cmd[0]} is not installed (PostgreSQL's client tools are needed)") from None
    if done.returncode != 0:
        raise BackupError(f"{os.path.basename(cmd[0])} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def _sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


# -- create -----------------------------------------------------------------------------------------

def create(app, out_path) -> Report:
    ring = keyring()
    report = Report(created_at=clock.now().isoformat(timespec="seconds"), engine=_engine_name())
    # Recorded first, so the backup holds the record of its own making (a copy of every record
    # leaving the database is worth an audit event).
    audit.record("backup.created", actor=audit.SYSTEM, object_type="backup",
                 details={"file": os.path.basename(out_path), "key": ring.current})
    db.session.commit()
    with _private_dir(app) as work:
        if report.engine == "sqlite":
            dump, name = os.path.join(work, "database.sqlite"), "database.sqlite"
            uids, master_keys = _sqlite_snapshot(app, dump, report)
        elif report.engine == "postgresql":
            dump, name = os.path.join(work, "database.pgdump"), "database.pgdump"
            uids, master_keys = _pg_snapshot(app, dump, report)
        else:
            raise BackupError(f"backups of {report.engine} databases are not supported")
        members = {name: _sha256_file(dump)}
        fd = os.open(out_path + ".part", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as raw:
                writer = _EncryptingWriter(raw, ring)
                with tarfile.open(fileobj=writer, mode="w|gz") as tar:
                    tar.add(dump, arcname=name)
                    store = _attachment_dir(app)
                    for uid in uids:
                        path = os.path.join(store, uid)
                        if os.path.isfile(path):
                            members[f"attachments/{uid}"] = _sha256_file(path)
                            tar.add(path, arcname=f"attachments/{uid}")
                            report.attachments += 1
                    manifest = json.dumps({"format": FORMAT, "created_at": report.created_at,
                                           "engine": report.engine, "revision": report.revision,
                                           "tables": report.tables, "attachments": report.attachments,
                                           "master_keys": sorted(master_keys),
                                           "members": members}, indent=1).encode()
                    info = tarfile.TarInfo("manifest.json")
                    info.size, info.mtime = len(manifest), int(clock.now().timestamp())
                    tar.addfile(info, io.BytesIO(manifest))
                writer.close()
                raw.flush()
                os.fsync(raw.fileno())
            os.replace(out_path + ".part", out_path)
        except BaseException:
            if os.path.exists(out_path + ".part"):
                os.remove(out_path + ".part")
            raise
    report.size = os.path.getsize(out_path)
    return report


def _sqlite_snapshot(app, dump, report):
    source = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    src = sqlite3.connect(source)
    dst = sqlite3.connect(dump)
    try:
        src.backup(dst)  # the online backup API: a consistent copy while others write
    finally:
        src.close()
    os.chmod(dump, 0o600)
    try:
        return _describe(dst, report)
    finally:
        dst.close()


def _describe(conn, report):
    """Row counts and migration revision into the report; the attachment ids and master keys in
    use are returned. All read from the snapshot (a DB-API connection)."""
    cur = conn.cursor()
    for t in _tables():
        cur.execute(f'SELECT COUNT(*) FROM "{t}"')
        report.tables[t] = cur.fetchone()[0]
    try:
        cur.execute("SELECT version_num FROM alembic_version")
        row = cur.fetchone()
        report.revision = row[0] if row else None
    except Exception:  # a database made without the migrations (should not happen)
        report.revision = None
    cur.execute("SELECT uid FROM attachments")
    uids = [r[0] for r in cur.fetchall()]
    cur.execute("SELECT DISTINCT master_key_id FROM data_keys WHERE wrapped IS NOT NULL")
    return uids, [r[0] for r in cur.fetchall()]


def _pg_snapshot(app, dump, report):
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    with db.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        with conn.begin():
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar()
            described = _describe(conn.connection.dbapi_connection, report)
            # pg_dump reads the same snapshot while this transaction stays open.
            _run([PG_TOOLS["pg_dump"], "--format=custom", "--no-owner", "--no-privileges",
                  f"--snapshot={snapshot}", "--file", dump], _pg_env(url))
    os.chmod(dump, 0o600)
    return described


# -- read (verify, restore) ------------------------------------------------------------------------------

def _unpack(path, work):
    """Decrypt and unpack into `work`; check every member against the manifest."""
    ring = keyring()
    digests = {}
    try:
        with open(path, "rb") as raw:
            reader = _DecryptingReader(raw, ring)
            buffered = io.BufferedReader(reader, CHUNK)
            with tarfile.open(fileobj=buffered, mode="r|gz") as tar:
                for member in tar:
                    name = member.name
                    if not member.isfile() or name.startswith(("/", "..")) or ".." in name.split("/"):
                        raise BackupError(f"unexpected entry {name!r} in the backup")
                    target = os.path.join(work, name)
                    os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
                    h = hashlib.sha256()
                    src = tar.extractfile(member)
                    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "wb") as out:
                        while block := src.read(CHUNK):
                            h.update(block)
                            out.write(block)
                    digests[name] = h.hexdigest()
            while buffered.read(CHUNK):  # the rest (tar padding) must decrypt too, to the final part
                pass
            if not reader.done:
                raise BackupError("the backup file is cut short (its last part is missing)")
    except (tarfile.TarError, EOFError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise BackupError(f"no backup file at {path}") from None
        raise BackupError(f"the backup's contents cannot be read ({exc.__class__.__name__})") from None
    if "manifest.json" not in digests:
        raise BackupError("the backup has no manifest (it is incomplete)")
    with open(os.path.join(work, "manifest.json"), encoding="utf-8") as fh:
        manifest = json.load(fh)
    for name, digest in manifest["members"].items():
        if digests.get(name) != digest:
            raise BackupError(f"{name} in the backup does not match its manifest")
    extra = set(digests) - set(manifest["members"]) - {"manifest.json"}
    if extra:
        raise BackupError(f"the backup holds files its manifest does not list: {sorted(extra)[:3]}")
    return manifest


def _report(manifest, path):
    return Report(created_at=manifest["created_at"], engine=manifest["engine"], revision=manifest["revision"],
                  tables=manifest["tables"], attachments=manifest["attachments"], size=os.path.getsize(path))


def _check_keys(conn_rows, ring, report):
    """Every data key in the backup unwraps with the key ring (else its content is unreadable)."""
    bad = 0
    for kid, wrapped in conn_rows:
        try:
            ring.unwrap(kid, wrapped)
        except KeyRingError:
            bad += 1
    if bad:
        raise BackupError(f"{bad} data keys in the backup do not unwrap with this key ring")
    report.checks.append(f"{len(conn_rows)} data keys unwrap with the key ring")


def verify(app, path) -> Report:
    with _private_dir(app) as work:
        manifest = _unpack(path, work)
        report = _report(manifest, path)
        report.checks.append("decrypted; every file matches the manifest")
        ring = keyring()
        if manifest["engine"] == "sqlite":
            conn = sqlite3.connect(os.path.join(work, "database.sqlite"))
            try:
                if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                    raise BackupError("the database in the backup fails SQLite's integrity check")
                for t, n in manifest["tables"].items():
                    if conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] != n:
                        raise BackupError(f"table {t} in the backup does not hold the rows its manifest counts")
                report.checks.append("the database passes its integrity check; row counts match")
                _check_keys(conn.execute("SELECT master_key_id, wrapped FROM data_keys "
                                         "WHERE wrapped IS NOT NULL").fetchall(), ring, report)
            finally:
                conn.close()
        else:
            listing = _run([PG_TOOLS["pg_restore"], "--list", os.path.join(work, "database.pgdump")], dict(os.environ))
            missing = [t for t in manifest["tables"] if f"TABLE DATA public {t} " not in listing]
            if missing:
                raise BackupError(f"the dump lacks the data of {missing[:3]}")
            report.checks.append("pg_restore reads the dump; every table's data is in it")
            if not set(manifest.get("master_keys", [])) <= set(ring.keys):
                raise BackupError("the backup's data keys are wrapped by master keys this key ring lacks")
            report.checks.append("the key ring holds every master key the backup's data keys need")
        return report


def is_empty_database() -> bool:
    return not inspect(db.engine).get_table_names()


def restore(app, path) -> Report:
    if not is_empty_database():
        raise BackupError("the database is not empty. A restore goes into a new, empty database (do not run "
                          "`flask db upgrade` on it first), so nothing is ever overwritten")
    store = _attachment_dir(app)
    if os.path.isdir(store) and os.listdir(store):
        raise BackupError(f"the attachment store {store} is not empty")
    with _private_dir(app) as work:
        manifest = _unpack(path, work)
        report = _report(manifest, path)
        if manifest["engine"] != _engine_name():
            raise BackupError(f"this backup is of a {manifest['engine']} database; the portal is set up for "
                              f"{_engine_name()}")
        if manifest["engine"] == "sqlite":
            target = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
            db.engine.dispose()
            src = sqlite3.connect(os.path.join(work, "database.sqlite"))
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)
            finally:
                src.close()
                dst.close()
        else:
            _run([PG_TOOLS["pg_restore"], "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
                  "--dbname", make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database,
                  os.path.join(work, "database.pgdump")], _pg_env(app.config["SQLALCHEMY_DATABASE_URI"]))
        os.makedirs(store, mode=0o700, exist_ok=True)
        folder = os.path.join(work, "attachments")
        for uid in sorted(os.listdir(folder)) if os.path.isdir(folder) else ():
            shutil.copyfile(os.path.join(folder, uid), os.path.join(store, uid))
            os.chmod(os.path.join(store, uid), 0o600)
    # What is now in the database is what the backup counted, and the key ring opens it.
    db.session.remove()
    for t, n in manifest["tables"].items():
        got = db.session.scalar(select(func.count()).select_from(db.metadata.tables[t]))
        if got != n:
            raise BackupError(f"after the restore, table {t} holds {got} rows; the backup counted {n}")
    report.checks.append("every table holds the rows the backup counted")
    rows = db.session.execute(text("SELECT master_key_id, wrapped FROM data_keys WHERE wrapped IS NOT NULL")).all()
    _check_keys([tuple(r) for r in rows], keyring(), report)
    audit.record("backup.restored", actor=audit.SYSTEM, object_type="backup",
                 details={"file": os.path.basename(path), "made": manifest["created_at"]})
    db.session.commit()
    return report
