"""``ganx report --format html``: a :class:`~ganx.report.document.Report` as one self-contained page.

Pictures are inlined as base64 data URIs; the style and the few lines of JavaScript that sort a table by
a clicked column are inline too, so the page references nothing outside itself and can be mailed or
attached as it is.
"""

from __future__ import annotations

import base64
from pathlib import Path

import jinja2
import yaml

from .document import Report, provenance_line

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{ report.title }}</title>
<style>
body { font-family: sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0; }
th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid #ddd; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { cursor: pointer; user-select: none; background: #f4f4f4; }
th[aria-sort=ascending]::after { content: " ▲"; }
th[aria-sort=descending]::after { content: " ▼"; }
.warning { color: #8a5a00; }
.note { font-size: 0.85em; color: #555; margin: 0.1rem 0; }
img { max-width: 100%; }
pre { background: #f4f4f4; padding: 0.75rem; overflow-x: auto; }
</style>
</head>
<body>
<h1>{{ report.title }}</h1>
{% for sheet in report.sheets %}
<section>
{% for warning in sheet.warnings %}<p class="warning"><strong>warning:</strong> {{ warning }}</p>{% endfor %}
<h2>{{ sheet.title }}</h2>
<table class="sheet">
<thead><tr>{% for name in sheet.header %}<th>{{ name }}</th>{% endfor %}</tr></thead>
<tbody>
{% for row in sheet.rows %}{% set r = loop.index0 %}<tr>
{%- for cell in row %}<td>
{%- if (r, loop.index0) in sheet.bold %}<strong>{{ cell }}</strong>{% else %}{{ cell }}{% endif -%}
</td>{% endfor -%}
</tr>
{% endfor %}
</tbody>
</table>
{% for note in sheet.notes %}<p class="note">{{ note }}</p>{% endfor %}
</section>
{% endfor %}
{% if samples %}
<h2>Samples</h2>
<p>One sample picture per arm (its first completed seed).</p>
<img alt="samples per arm" src="{{ samples }}">
{% endif %}
{% if curves %}
<h2>Curves</h2>
<p>Mean over completed seeds per arm; the band spans their minimum to maximum.</p>
<img alt="curves per arm" src="{{ curves }}">
{% endif %}
{% if report.failures %}
<h2>Failed runs</h2>
<ul>{% for arm, seed, error in report.failures %}<li>{{ arm }} seed {{ seed }}: {{ error }}</li>{% endfor %}</ul>
{% endif %}
{% if report.missing %}
<h2>Files not found</h2>
<ul>{% for line in report.missing %}<li>{{ line }}</li>{% endfor %}</ul>
{% endif %}
{% if provenance or config %}
<h2>Provenance</h2>
<ul>{% for line in provenance %}<li>{{ line }}</li>{% endfor %}</ul>
{% if config %}<pre>{{ config }}</pre>{% endif %}
{% endif %}
<script>
// Click a column header to sort its table by that column; click again to reverse.
function sortKey(cell) {
  var number = parseFloat(cell.textContent.replace("\\u2212", "-"));
  return isNaN(number) ? cell.textContent.trim() : number;
}
document.querySelectorAll("table.sheet").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, column) {
    th.addEventListener("click", function () {
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      var rows = Array.from(table.tBodies[0].rows);
      rows.sort(function (a, b) {
        var x = sortKey(a.cells[column]), y = sortKey(b.cells[column]);
        if (typeof x !== typeof y) { return typeof x === "number" ? -1 : 1; }  // numbers before dashes
        return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
      });
      table.querySelectorAll("th").forEach(function (other) { other.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      rows.forEach(function (row) { table.tBodies[0].appendChild(row); });
    });
  });
  table.setAttribute("data-sortable", "true");
});
</script>
</body>
</html>
"""


def data_uri(png: Path | None) -> str | None:
    """A PNG file as a ``data:`` URI, so the page carries its pictures."""
    return png and "data:image/png;base64," + base64.b64encode(Path(png).read_bytes()).decode("ascii")


def html(report: Report) -> str:
    """The report as one HTML page that references nothing outside itself."""
    template = jinja2.Environment(autoescape=True).from_string(TEMPLATE)
    return template.render(
        report=report,
        samples=data_uri(report.samples),
        curves=data_uri(report.curves),
        provenance=[provenance_line(record) for record in report.provenance],
        config=yaml.safe_dump(report.config, sort_keys=False) if report.config else "",
    )
