"""Password hashing (argon2id) and the password policy."""
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import gettext as _
from zxcvbn import zxcvbn

_hasher = PasswordHasher()
# Verifying against this when the username is unknown keeps timing the same for both cases.
_DUMMY = _hasher.hash("not-a-real-password-only-for-timing")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)


def password_problems(password: str, user_inputs=()) -> list[str]:
    """Reasons to refuse a new password: too short, or common / guessable (zxcvbn's lists of
    leaked passwords, names, keyboard patterns, and the user's own names)."""
    problems = []
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password) < minimum:
        problems.append(_("Use at least %(n)d characters.", n=minimum))
    if len(password) > 256:
        problems.append(_("Use at most 256 characters."))
    elif password:
        result = zxcvbn(password[:100], user_inputs=[i for i in user_inputs if i])
        if result["score"] < 3:
            problems.append(_("This password is too common or easy to guess. Try a few unrelated words."))
    return problems
