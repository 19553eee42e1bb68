"""Sections of the case page, contributed by features (notes, later family contacts, referrals…).

A feature registers a loader: loader(case, user, overrides) returns the template context of its
section, or None when the user may not see it. The case page renders them in order, so the page
grows with features without the cases blueprint knowing each one.
"""
_SECTIONS = []


def section(name: str, template: str, order: int = 50):
    def deco(loader):
        _SECTIONS.append((order, name, template, loader))
        _SECTIONS.sort(key=lambda s: s[0])
        return loader
    return deco


def build(case, user, overrides=None):
    overrides = overrides or {}
    out = []
    for _, name, template, loader in _SECTIONS:
        ctx = loader(case, user, overrides.get(name) or {})
        if ctx is not None:
            out.append({"name": name, "template": template, "ctx": ctx})
    return out
