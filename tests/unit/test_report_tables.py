"""Small-number suppression in report tables: counts below 5 in school-level figures are "<5", and
no suppressed count can be worked out from a total and the counts beside it."""
from portal.reports.charts import bar_chart
from portal.reports.tables import TOTAL, Table, median


def _table(rows, school_level=True, row_totals=True, col_totals=True):
    t = Table("t", "Caption", "School", [("a", "A", "count"), ("b", "B", "count"), ("c", "C", "count")],
              school_level=school_level, row_totals=row_totals, col_totals=col_totals, total_label="All")
    for key, values in rows.items():
        t.add(key, key, dict(zip("abc", values, strict=True)))
    return t.finish(5)


def _text(t):
    return {k: c.text for k, c in t.cells.items()}


def _recoverable(t):
    """Any line (row or column with its total) with exactly one masked cell can be solved."""
    counts = t.count_columns
    rows = [r for r, _ in t.rows] + ([TOTAL] if t.col_totals else [])
    cols = counts + ([TOTAL] if t.row_totals else [])
    lines = []
    if t.row_totals:
        lines += [[(r, c) for c in cols] for r in rows]
    if t.col_totals:
        lines += [[(r, c) for r in rows] for c in cols]
    return [line for line in lines if sum(t.cells[k].masked for k in line) == 1]


def test_counts_below_five_are_shown_as_less_than_five_and_zero_stays():
    t = _table({"East": (12, 3, 0), "West": (8, 9, 6)})
    text = _text(t)
    assert text[("East", "b")] == "<5" and t.cells[("East", "b")].suppressed
    assert text[("East", "c")] == "0" and text[("West", "c")] == "6"
    assert not _recoverable(t), "a suppressed figure could be worked out from the totals"
    # the row East: 12 + <5 + 0 = total; its total or another cell must be hidden
    east = [t.cells[("East", c)] for c in ("a", "b", "c", TOTAL)]
    assert sum(c.masked for c in east) >= 2
    assert any(c.text == "*" for c in t.cells.values())


def test_complementary_suppression_reaches_a_fixed_point():
    t = _table({"A": (1, 20, 30), "B": (40, 2, 50), "C": (60, 70, 3), "D": (5, 6, 7)})
    assert not _recoverable(t)
    suppressed = [k for k, c in t.cells.items() if c.suppressed]
    assert sorted(suppressed) == [("A", "a"), ("B", "b"), ("C", "c")]


def test_a_suppressed_cell_alone_with_zeros_hides_the_total():
    t = _table({"A": (0, 3, 0), "B": (0, 9, 0)}, col_totals=False)
    assert t.cells[("A", "b")].text == "<5" and t.cells[("A", TOTAL)].masked  # the total is the same 3
    assert t.cells[("B", "b")].text == "9" and t.cells[("B", TOTAL)].text == "9"


def test_district_level_tables_are_not_suppressed():
    t = _table({"Jan": (1, 2, 3)}, school_level=False)
    assert not any(c.masked for c in t.cells.values()) and t.cells[("Jan", TOTAL)].text == "6"


def test_a_median_of_fewer_than_five_cases_is_not_shown():
    t = Table("m", "Median", "School", [("n", "Handled", "count"), ("hours", "Median hours", "hours")],
              school_level=True, count_of={"hours": "n"})
    t.add("A", "A", {"n": 3, "hours": 2.0})
    t.add("B", "B", {"n": 7, "hours": 5.5})
    t.finish(5)
    assert t.cells[("A", "hours")].text == "—" and t.cells[("A", "n")].text == "<5"
    assert t.cells[("B", "hours")].text == "5.5" and t.cells[("B", "n")].text == "7"
    assert median([3, 1, 2]) == 2 and median([1, 2, 3, 4]) == 2.5 and median([]) is None


def test_the_chart_is_readable_without_colour(app):
    t = _table({"East": (12, 3, 0), "West": (8, 9, 6)})
    with app.app_context():
        svg = str(bar_chart(t, "c1", columns=["a", "b", "c"]))
    assert svg.startswith("<svg") and 'role="img"' in svg and "<title id=\"c1-t\">Caption</title>" in svg
    assert svg.count("<pattern") == 3 and 'fill="url(#c1-p1)"' in svg  # a pattern per series
    assert ">A</text>" in svg and ">B</text>" in svg                    # a legend naming them
    assert ">23 (*, *)</text>" in svg                                   # the number beside each bar
    assert "&lt;5" in svg and "style=" not in svg                       # the suppressed one, no inline style
