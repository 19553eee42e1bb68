"""Flask commands: demo-data, sweep, create-user, import-students, audit, keys, backup, retention."""
import getpass
import os
import sys

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from . import audit, demo
from .config import ROLES
from .extensions import db
from .models import DataKey, School, User


def register(app):
    @app.cli.command("demo-data")
    @click.option("--if-empty", is_flag=True, help="Do nothing when the database already has users.")
    @click.option("--students", default=100, show_default=True, help="Students per school.")
    def demo_data(if_empty, students):
        """Load the demo district (two schools, a supervision line, students, cases)."""
        if not demo.is_empty():
            if if_empty:
                click.echo("Database already has data; demo data not loaded.")
                return
            raise click.ClickException("the database is not empty; demo data goes into a new database")
        password = os.environ.get("DEMO_PASSWORD") or "portal-demo"
        demo.build(password, students_per_school=students)
        db.session.commit()
        click.echo("Demo data loaded.")

    @app.cli.command("sweep")
    def sweep_cmd():
        """Escalate unacknowledged crisis alerts and report missed follow-ups (run from cron each minute)."""
        from .alerts.services import sweep
        from .extensions import db
        n = sweep()
        db.session.commit()
        click.echo(f"{n} item(s) escalated or reported")

    @app.cli.command("demo-logins")
    def demo_logins():
        """Print the demo accounts."""
        password = os.environ.get("DEMO_PASSWORD") or "portal-demo"
        click.echo("Demo logins (password: %s):" % password)
        for name in ("teacher", "worker", "assistant", "practice", "supervisor", "mentor", "admin"):
            u = db.session.scalar(select(User).where(User.username == name))
            if u:
                click.echo(f"  {name:<11} {u.role}")

    @app.cli.command("create-user")
    @click.argument("username")
    @click.option("--role", type=click.Choice(ROLES), required=True)
    @click.option("--name", "display_name", required=True, help="Full name shown in the portal.")
    @click.option("--email", default=None)
    @click.option("--school", "schools", multiple=True, help="School code (repeatable).")
    @click.option("--supervisor", default=None, help="Username of the next person up the line.")
    def create_user(username, role, display_name, email, schools, supervisor):
        """Create an account; the password is asked for (or read from PORTAL_NEW_PASSWORD)."""
        from .admin.services import create_user as _create
        from .auth.services import AccountError
        password = os.environ.get("PORTAL_NEW_PASSWORD") or getpass.getpass("Password: ")
        school_rows = db.session.scalars(select(School).where(School.code.in_([s.upper() for s in schools]))).all()
        if len(school_rows) != len(set(schools)):
            raise click.ClickException("unknown school code")
        sup = None
        if supervisor:
            sup = db.session.scalar(select(User).where(User.username == supervisor.lower()))
            if sup is None:
                raise click.ClickException(f"no user {supervisor}")
        try:
            _create(None, {"username": username, "display_name": display_name, "email": email,
                           "role": role, "school_ids": [s.id for s in school_rows],
                           "supervisor_id": sup.id if sup else None, "password": password})
        except AccountError as exc:
            db.session.rollback()
            raise click.ClickException(f"{exc.field}: {exc.message}") from None
        db.session.commit()
        click.echo(f"Created {username} ({role}).")

    @app.cli.command("import-students")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    def import_students_cmd(path):
        """Import or update students from a CSV file; all rows or none."""
        from .students.importer import import_students
        with open(path, "rb") as fh:
            report = import_students(None, fh.read())
        if not report.ok:
            db.session.rollback()
            for line, col, reason in report.messages():
                click.echo(f"line {line}: {col or '-'}: {reason}", err=True)
            raise click.ClickException(f"{len(report.errors)} problem(s); nothing was imported")
        db.session.commit()
        click.echo(f"Imported {report.rows} rows: {report.created} added, {report.updated} updated.")

    audit_cli = AppGroup("audit", help="The audit log.")

    @audit_cli.command("verify")
    def audit_verify():
        """Check the hash chain; report the first broken link."""
        ok, count, problem = audit.verify()
        if ok:
            click.echo(f"Audit chain intact: {count} events.")
        else:
            click.echo(f"Audit chain BROKEN after {count} good events: {problem}", err=True)
            sys.exit(1)

    app.cli.add_command(audit_cli)

    keys_cli = AppGroup("keys", help="The encryption key ring.")

    @keys_cli.command("status")
    def keys_status():
        """Master keys and how many data keys each wraps."""
        ring = current_app.extensions["portal_keyring"]
        counts = dict(db.session.execute(select(DataKey.master_key_id, func.count())
                                         .where(DataKey.wrapped.is_not(None))
                                         .group_by(DataKey.master_key_id)).all())
        for kid in ring.keys:
            mark = " (current)" if kid == ring.current else ""
            click.echo(f"{kid}{mark}: wraps {counts.get(kid, 0)} data keys")

    @keys_cli.command("rotate")
    @click.option("--batch-size", default=500, show_default=True)
    def keys_rotate(batch_size):
        """Add a new master key and re-wrap every data key under it (safe to interrupt and rerun)."""
        from . import crypto
        pending = crypto.pending_rewrap()
        if pending == 0:
            if not crypto.keyring_is_file_backed(current_app):
                crypto.add_master_key(current_app)
                click.echo("The key ring comes from PORTAL_MASTER_KEYS. Store this new value there, "
                           "restart, then run `flask keys rotate` again to re-wrap the data keys:")
                click.echo(crypto.keyring().dumps())
                return
            kid = crypto.add_master_key(current_app)
            click.echo(f"New master key {kid} added to {current_app.config['KEYRING_PATH']}.")
            pending = crypto.pending_rewrap()
        else:
            click.echo(f"Resuming: {pending} data keys are not yet under {crypto.keyring().current}.")
        with click.progressbar(length=pending, label="Re-wrapping data keys") as bar:
            while True:
                done = crypto.rewrap_batch(batch_size)
                if not done:
                    break
                bar.update(done)
        click.echo("Every data key is wrapped by the current master key. Older keys can now be "
                   "retired with `flask keys retire KEY_ID` (keep a backup of the key ring first).")

    @keys_cli.command("retire")
    @click.argument("key_id")
    def keys_retire(key_id):
        """Remove an old master key once nothing uses it."""
        from . import crypto
        try:
            crypto.retire_master_key(current_app, key_id)
        except crypto.KeyRingError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"Master key {key_id} retired.")
        if not crypto.keyring_is_file_backed(current_app):
            click.echo("Store this new value in PORTAL_MASTER_KEYS:")
            click.echo(crypto.keyring().dumps())

    app.cli.add_command(keys_cli)

    backup_cli = AppGroup("backup", help="Encrypted backups of the database and the attachment store.")

    def _show(report):
        click.echo(f"  made {report.created_at} from {report.engine}, schema {report.revision}")
        click.echo(f"  {report.rows} rows in {len(report.tables)} tables, {report.attachments} attachment files, "
                   f"{report.size / 1e6:.1f} MB")
        for check in report.checks:
            click.echo(f"  ✓ {check}")

    @backup_cli.command("create")
    @click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
                  help="File to write (default: PORTAL_BACKUP_DIR/portal-YYYYMMDD-HHMMSS.backup).")
    def backup_create(output):
        """Write a consistent, encrypted backup. The key ring is NOT in it: back that up separately."""
        from . import backup, clock
        if output is None:
            os.makedirs(current_app.config["BACKUP_DIR"], mode=0o700, exist_ok=True)
            output = os.path.join(current_app.config["BACKUP_DIR"],
                                  clock.now().strftime("portal-%Y%m%d-%H%M%S.backup"))
        try:
            report = backup.create(current_app, output)
        except backup.BackupError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"Backup written to {output}")
        _show(report)
        click.echo("Restoring it needs the key ring that is in use now: keep a copy of it apart from the backups.")

    @backup_cli.command("verify")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    def backup_verify(path):
        """Open a backup with the key ring, check every part decrypts and matches its manifest."""
        from . import backup
        try:
            report = backup.verify(current_app, path)
        except backup.BackupError as exc:
            click.echo(f"Backup {path} is NOT usable: {exc}", err=True)
            sys.exit(1)
        click.echo(f"Backup {path} is sound:")
        _show(report)

    @backup_cli.command("restore")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    def backup_restore(path):
        """Restore a backup into this portal's database, which must be new and empty."""
        from . import backup
        try:
            report = backup.restore(current_app, path)
        except backup.BackupError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"Restored {path}:")
        _show(report)

    app.cli.add_command(backup_cli)

    retention_cli = AppGroup("retention", help="Retention: what is due for erasure, legal holds.")

    def _case_by_reference(reference):
        from .models import Case
        case = db.session.scalar(select(Case).where(Case.reference == reference.strip().upper()))
        if case is None:
            raise click.ClickException(f"no case {reference}")
        return case

    @retention_cli.command("run")
    @click.option("--apply", "apply_", is_flag=True, help="Erase what is due (without it: only list it).")
    def retention_run(apply_):
        """List what the retention rules make due; with --apply, erase it (held cases stay)."""
        from .retention import services as retention
        items = retention.due_items(current_app.config)
        if not items:
            click.echo("Nothing is due for erasure.")
            return
        for item in items:
            state = "HELD (legal hold)" if item.held else ("erasing" if apply_ else "due")
            click.echo(f"  {item.kind:<17} {item.reference:<16} due since {item.due_on.isoformat()}  {state}")
        held = sum(1 for i in items if i.held)
        if not apply_:
            click.echo(f"{len(items) - held} item(s) due, {held} held. Dry run: nothing was erased; "
                       "run with --apply to erase.")
            return
        erased, files = retention.apply(items)
        db.session.commit()
        retention.remove_files(files)
        retention.after_commit()
        click.echo(f"Erased {erased} item(s); {held} held. Their data keys are destroyed. Backups made before "
                   "now still hold them until those backups expire; after restoring one, run this again.")

    @retention_cli.command("hold")
    @click.argument("reference")
    @click.option("--reason", required=True, help="Why the case must be kept (proceedings, a request).")
    def retention_hold(reference, reason):
        """Place a legal hold on a case: retention will not erase it until the hold is lifted."""
        from .retention import services as retention
        try:
            retention.place_hold(None, _case_by_reference(reference), reason)
        except retention.RetentionError as exc:
            raise click.ClickException(exc.code) from None
        db.session.commit()
        click.echo(f"Legal hold placed on {reference}.")

    @retention_cli.command("release")
    @click.argument("reference")
    @click.option("--reason", required=True)
    def retention_release(reference, reason):
        """Lift the legal hold on a case."""
        from .retention import services as retention
        try:
            retention.lift_hold(None, _case_by_reference(reference), reason)
        except retention.RetentionError as exc:
            raise click.ClickException(exc.code) from None
        db.session.commit()
        click.echo(f"Legal hold on {reference} lifted.")

    app.cli.add_command(retention_cli)
