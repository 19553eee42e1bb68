"""The prevention and group-work figures as a report of the reports registry: the same numbers
as the term calendar (services.figures), with the reports' charts, CSV and small-number rule."""
from flask_babel import lazy_gettext as _l

from ..i18n import label
from ..reports.registry import report
from ..reports.tables import Table
from . import services


@report("prevention", title=_l("Prevention activities and group work"), order=60,
        description=_l("Activities held by topic and school, the people they reached, and the group work "
                       "of the period."))
def prevention(scope):
    f = services.figures(scope.user, scope.start, scope.end, scope.school_id)
    cols = [(f"s{s.id}", s.name, "count") for s in f["schools"]]
    chart = {"type": "stacked" if len(cols) > 1 else "bars"}
    # Activities and the people they reached describe classes and assemblies, not a child: shown
    # as they are. Group work counts children, so it follows the small-number rule.
    held = Table("held", _l("Activities held, by topic"), _l("Topic"), cols, row_totals=True, col_totals=True,
                 total_label=_l("All"), chart=chart)
    reached = Table("reached", _l("People reached, by topic"), _l("Topic"), cols, row_totals=True,
                    col_totals=True, total_label=_l("All"), chart=chart,
                    note=_l("As counted by each activity's organiser; one person at two activities counts twice."))
    for t in f["topics"]:
        if not t["total"]["held"]:
            continue
        name = label("activity_topic", t["topic"])
        held.add(t["topic"], name, {f"s{s.id}": t["cells"][s.id]["held"] for s in f["schools"]})
        reached.add(t["topic"], name, {f"s{s.id}": t["cells"][s.id]["reached"] for s in f["schools"]})
    groups = Table("groups", _l("Group work"), _l("School"),
                   [("groups", _l("Groups that met"), "count"), ("sessions", _l("Sessions held"), "count"),
                    ("students", _l("Students who took part"), "count")], school_level=True, columns_add_up=True)
    for s in f["schools"]:
        groups.add(f"s{s.id}", s.name, f["groups"][s.id])
    return [held, reached, groups]
