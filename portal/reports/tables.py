"""Report tables and small-number suppression.

A school-level figure below the threshold (5) is shown as "<5" so no child can be singled out.
A suppressed count could still be worked out by subtraction from a total and the other counts on
its row or column, so every such line gets a second hidden cell (complementary suppression),
preferably another count rather than the total (the same total may be printed elsewhere).
Medians and shares computed from fewer cases than the threshold are not shown either.
"""
from dataclasses import dataclass, field

TOTAL = "__total__"


@dataclass
class Cell:
    value: object = None
    text: str = ""
    suppressed: bool = False   # below the threshold
    hidden: bool = False       # hidden so a suppressed one cannot be worked out

    @property
    def masked(self):
        return self.suppressed or self.hidden


@dataclass
class Table:
    key: str
    caption: str
    row_header: str
    columns: list                       # [(key, label, kind)], kind: count | hours | days | minutes | percent
    school_level: bool = False
    row_totals: bool = False            # a total column: the count columns of each row add up
    col_totals: bool = False            # a total row: each count column adds up over the rows
    total_label: str = ""
    count_of: dict = field(default_factory=dict)  # a median/share column -> the count column of its cases
    chart: dict | None = None           # {"type": "bars"|"stacked", "columns": [...], "unit": "..."}
    note: str = ""
    # Sums a reader can do without a total printed here: rows that are schools add up to a figure
    # another table prints (the district's), and columns such as handled + still waiting = all.
    columns_add_up: bool = False
    relations: list = field(default_factory=list)  # [([part columns], whole column)], per row
    rows: list = field(default_factory=list)      # [(key, label)]
    data: dict = field(default_factory=dict)      # (row, col) -> number or None
    cells: dict = field(default_factory=dict)     # (row, col) -> Cell, after finish()

    def add(self, key, label, values: dict):
        self.rows.append((key, label))
        for col, *_ in self.columns:
            self.data[(key, col)] = values.get(col)

    @property
    def count_columns(self):
        return [c for c, _label, kind in self.columns if kind == "count"]

    def kind(self, col):
        if col == TOTAL:
            return "count"
        return next(kind for c, _label, kind in self.columns if c == col)

    def all_columns(self):
        out = [(c, label) for c, label, _kind in self.columns]
        return out + ([(TOTAL, self.total_label)] if self.row_totals else [])

    def all_rows(self):
        return self.rows + ([(TOTAL, self.total_label)] if self.col_totals else [])

    # -- totals, formatting, suppression -------------------------------------------------------------

    def finish(self, threshold: int):
        counts = self.count_columns
        if self.row_totals:
            for r, _ in self.rows:
                self.data[(r, TOTAL)] = sum(self.data.get((r, c)) or 0 for c in counts)
        if self.col_totals:
            for c in counts + ([TOTAL] if self.row_totals else []):
                self.data[(TOTAL, c)] = sum(self.data.get((r, c)) or 0 for r, _ in self.rows)
        for (r, c), v in self.data.items():
            self.cells[(r, c)] = Cell(v, fmt(v, self.kind(c)))
        if self.school_level:
            self._suppress(threshold)
        return self

    def _suppress(self, threshold):
        below = f"<{threshold}"
        for (_r, c), cell in self.cells.items():
            if self.kind(c) == "count" and isinstance(cell.value, int) and 0 < cell.value < threshold:
                cell.suppressed, cell.text = True, below
        for col, base in self.count_of.items():
            for r, _ in self.all_rows():
                n = self.data.get((r, base))
                cell = self.cells.get((r, col))
                if cell is not None and isinstance(n, int) and n < threshold and cell.value is not None:
                    cell.suppressed, cell.text = True, "—"
        lines = self._lines()
        changed = True
        while changed:
            changed = False
            for line, total in lines:
                members = [k for k in line + ([total] if total else []) if k in self.cells]
                masked = [k for k in members if self.cells[k].masked]
                if len(masked) != 1:
                    continue
                # Another cell of this line must go too: the smallest other count, the total last.
                others = sorted((k for k in line if k in self.cells and not self.cells[k].masked
                                 and (self.cells[k].value or 0) > 0), key=lambda k: self.cells[k].value)
                pick = others[0] if others else (total if total and not self.cells[total].masked else None)
                if pick is None:
                    continue
                cell = self.cells[pick]
                cell.hidden, cell.text = True, "*"
                changed = True

    def _lines(self):
        """The additive lines: cells that add up to a total (row by row, column by column)."""
        counts = self.count_columns
        rows = [r for r, _ in self.rows]
        out = []
        if self.row_totals:
            for r in rows + ([TOTAL] if self.col_totals else []):
                out.append(([(r, c) for c in counts], (r, TOTAL)))
        if self.col_totals:
            for c in counts + ([TOTAL] if self.row_totals else []):
                out.append(([(r, c) for r in rows], (TOTAL, c)))
        elif self.columns_add_up:
            for c in counts:
                out.append(([(r, c) for r in rows], None))
        for parts, whole in self.relations:
            for r in rows + ([TOTAL] if self.col_totals else []):
                out.append(([(r, c) for c in parts] + [(r, whole)], None))
        if not out and len(counts) == 1 and not self.row_totals:  # a list of counts with no total shown
            return []
        return out

    def has_masked(self):
        return any(c.masked for c in self.cells.values())

    def has_hidden(self):
        return any(c.hidden for c in self.cells.values())


def fmt(value, kind):
    if value is None:
        return "—"
    if kind == "count":
        return str(int(value))
    if kind == "percent":
        return f"{round(value)}%"
    return f"{value:.1f}"


def median(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
