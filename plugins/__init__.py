"""ganx's built-in plugins, one module per category.

They are registered through the ``ganx`` entry points in pyproject.toml and use only the public
API in ``ganx``, exactly as a third-party plugin package would.
"""
