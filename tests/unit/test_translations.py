"""The Simplified Chinese catalog is complete, sound, and in step with the code.

When a test here fails after you added or changed a user-visible string, run `make messages`,
translate the new entries in portal/translations/zh/LC_MESSAGES/messages.po, then `make translations`.
"""
import configparser
from pathlib import Path

import pytest
from babel.messages.catalog import PYTHON_FORMAT
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "portal" / "translations"
POT = TRANSLATIONS / "messages.pot"
ZH_PO = TRANSLATIONS / "zh" / "LC_MESSAGES" / "messages.po"
# The keywords `make messages` uses: Babel's defaults (_, gettext, ngettext, ...) plus the lazy ones.
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None, "lazy_ngettext": (1, 2), "lazy_pgettext": ((1, "c"), 2)}


def _read(path):
    with open(path, "rb") as f:
        return read_po(f)


def _entries(catalog):
    return [m for m in catalog if m.id]


def _key(msgid):
    """A catalog is keyed by the singular msgid; plural entries carry (singular, plural)."""
    return msgid[0] if isinstance(msgid, (tuple, list)) else msgid


def _forms(value):
    return list(value) if isinstance(value, (tuple, list)) else [value]


def _placeholders(text):
    return {m.group(0) for m in PYTHON_FORMAT.finditer(text or "") if m.group(0) != "%%"}


def _mapping():
    """babel.cfg as extract_from_dir wants it: [(pattern, method)], {pattern: options}."""
    parser = configparser.RawConfigParser()
    parser.read(ROOT / "babel.cfg", encoding="utf-8")
    method_map, options_map = [], {}
    for section in parser.sections():
        if ":" not in section:
            continue  # e.g. an [extractors] section: not used by this project
        method, pattern = (part.strip() for part in section.split(":", 1))
        method_map.append((pattern, method))
        options_map[pattern] = dict(parser.items(section))
    return method_map, options_map


@pytest.fixture(scope="module")
def zh():
    return _read(ZH_PO)


@pytest.fixture(scope="module")
def extracted():
    """(msgid, context) -> first place it is used, extracted afresh from the code and templates.
    The context is part of the key: "Other" as a crisis type and as a contact purpose are two
    entries of the catalog."""
    method_map, options_map = _mapping()
    assert {m for _, m in method_map} >= {"python", "jinja2"}, "babel.cfg lost a mapping"
    found = {}
    # Babel skips folders starting with "_" by default; templates/_macros holds strings too.
    def only_hidden(dirpath):
        name = Path(dirpath).name
        return not (name.startswith(".") or name in ("__pycache__", "node_modules"))
    for filename, lineno, msgid, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS, directory_filter=only_hidden):
        found.setdefault((_key(msgid), _context), f"{filename}:{lineno}")
    return found


def test_zh_catalog_header(zh):
    assert str(zh.locale) == "zh"
    assert zh.plural_forms == "nplurals=1; plural=0;"
    assert not zh.fuzzy, "the catalog header is marked fuzzy"


def test_zh_catalog_has_every_entry_translated(zh):
    untranslated = [_key(m.id) for m in _entries(zh)
                    if not all(s and s.strip() for s in _forms(m.string))]
    assert not untranslated, (
        f"{len(untranslated)} untranslated entries in {ZH_PO.relative_to(ROOT)}:\n  "
        + "\n  ".join(repr(i) for i in untranslated))


def test_zh_catalog_has_no_fuzzy_entries(zh):
    fuzzy = [_key(m.id) for m in _entries(zh) if m.fuzzy]
    assert not fuzzy, "fuzzy entries (check the translation, then remove the flag):\n  " + \
        "\n  ".join(repr(i) for i in fuzzy)


def test_zh_translations_keep_every_placeholder(zh):
    problems = []
    for m in _entries(zh):
        if not m.python_format:
            continue
        wanted = set().union(*(_placeholders(i) for i in _forms(m.id)))
        for n, string in enumerate(_forms(m.string)):
            lost = wanted - _placeholders(string)
            extra = _placeholders(string) - wanted
            if lost or extra:
                problems.append(f"{_key(m.id)!r} -> msgstr[{n}] {string!r}: "
                                f"missing {sorted(lost)}, unexpected {sorted(extra)}")
    assert not problems, "placeholders differ between msgid and msgstr:\n  " + "\n  ".join(problems)


def test_pot_is_in_step_with_the_code(extracted):
    in_pot = {(_key(m.id), m.context) for m in _entries(_read(POT))}
    missing = sorted(set(extracted) - in_pot)
    assert not missing, (
        "strings in the code are missing from messages.pot; run `make messages`:\n  "
        + "\n  ".join(f"{i!r}  ({extracted[i]})" for i in missing))


def test_every_string_in_the_code_is_translated_to_zh(extracted, zh):
    missing = sorted((i for i in extracted
                      if not (zh.get(*i) and all(s and s.strip() for s in _forms(zh.get(*i).string)))),
                     key=lambda k: (k[0], k[1] or ""))
    assert not missing, (
        "strings in the code have no Chinese translation; run `make messages` and translate "
        f"them in {ZH_PO.relative_to(ROOT)}:\n  "
        + "\n  ".join(f"{i!r}  ({extracted[i]})" for i in missing))
