"""Reading results: finding a sweep's study, the ablation table, statistics, renderings, pictures.

- ``studies``: a sweep's study from a name, a folder or a URL; ``table``: the ablation table;
  ``stats``: intervals and tests; ``formats``: Rich, markdown and LaTeX renderings.
- ``pictures``: sample grids and curves; ``document``: ``ganx report``'s report.md; ``page``: its report.html.
"""
