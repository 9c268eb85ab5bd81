"""Ecospec's built-in landing blocks: one folder each (block.yaml, template.html.j2, style.css)."""
