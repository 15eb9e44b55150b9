"""A table as plain cells (a :class:`Sheet`) and its renderings: Rich, GitHub-flavoured markdown, LaTeX."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field


@dataclass
class Sheet:
    """Header, rows of text cells, which cells are bold, footnotes and warnings. Column 0 is left-aligned."""

    title: str
    header: list[str]
    rows: list[list[str]]
    bold: set[tuple[int, int]] = field(default_factory=set)  # (row, column)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # shown above the table: what it lacks


def number(value: float) -> str:
    """At least three significant digits, no exponent for large values; an em dash for NaN."""
    if not math.isfinite(value):
        return "—"
    digits = max(3, int(math.log10(abs(value))) + 1) if value else 3
    return f"{value:.{digits}g}"


def rich(sheet: Sheet):
    """A ``rich.table.Table`` with bold best cells and the footnotes as its caption, below its warnings."""
    from rich.console import Group
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    table = Table(title=sheet.title, caption="\n".join(sheet.notes) or None, caption_justify="left")
    for i, name in enumerate(sheet.header):
        first = i == 0  # the arm: never cut, the numbers wrap instead
        table.add_column(
            escape(name), justify="left" if first else "right", style="bold" if first else None, no_wrap=first
        )
    for r, row in enumerate(sheet.rows):
        table.add_row(*(f"[bold]{escape(c)}[/]" if (r, i) in sheet.bold else escape(c) for i, c in enumerate(row)))
    return (
        Group(*(Text(f"warning: {w}", style="bold yellow") for w in sheet.warnings), table) if sheet.warnings else table
    )


def markdown(sheet: Sheet) -> str:
    """A GFM table (``|`` escaped, best cells in ``**``) preceded by its title and followed by its notes."""

    def line(cells):
        return "| " + " | ".join(cells) + " |"

    def escape(text):
        return text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*")

    def cell(r, i, text):
        return f"**{escape(text)}**" if (r, i) in sheet.bold else escape(text)

    lines = [f"> **warning:** {escape(w)}\n" for w in sheet.warnings]
    lines += [f"**{escape(sheet.title)}**", "", line(map(escape, sheet.header))]
    lines += [line([":---"] + ["---:"] * (len(sheet.header) - 1))]
    lines += [line([cell(r, i, c) for i, c in enumerate(row)]) for r, row in enumerate(sheet.rows)]
    notes = [f"<sub>{escape(note)}</sub>" for note in sheet.notes]
    return "\n".join(lines + ([""] + ["<br>\n".join(notes)] if notes else [])) + "\n"


LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "Δ": r"$\Delta$", "—": "--", "−": "$-$", "≥": r"$\geq$", "<": r"$<$", ">": r"$>$", "*": r"$^{*}$",
    "↑": r"$\uparrow$", "†": r"$\dagger$", "↓": r"$\downarrow$", "–": "--", "±": r"$\pm$",
}
LATEX_PATTERN = re.compile("|".join(re.escape(k) for k in LATEX_SPECIAL))


def latex_escape(text: str) -> str:
    return LATEX_PATTERN.sub(lambda m: LATEX_SPECIAL[m.group()], text)


def latex(sheet: Sheet) -> str:
    """A ``table`` float holding a plain ``tabular`` (no packages needed); notes go in the caption."""

    def cell(r, i, text):
        text = latex_escape(text)
        return rf"\textbf{{{text}}}" if (r, i) in sheet.bold else text

    spec = "l" + "r" * (len(sheet.header) - 1)
    lines = [f"% warning: {w}" for w in sheet.warnings]
    lines += [r"\begin{table}[t]", r"\centering", rf"\begin{{tabular}}{{{spec}}}", r"\hline"]
    lines.append(" & ".join(latex_escape(h) for h in sheet.header) + r" \\")
    lines.append(r"\hline")
    lines += [" & ".join(cell(r, i, c) for i, c in enumerate(row)) + r" \\" for r, row in enumerate(sheet.rows)]
    lines += [r"\hline", r"\end{tabular}"]
    caption = " ".join([latex_escape(sheet.title) + "."] + [latex_escape(n) for n in sheet.notes])
    lines += [rf"\caption{{{caption}}}", r"\end{table}"]
    return "\n".join(lines) + "\n"
