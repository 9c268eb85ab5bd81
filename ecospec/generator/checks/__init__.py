"""Checks of the whole spec that a single model cannot make: references, filters, paths, seeds.

One module per spec section; `sections.SECTION_CHECKS` runs them in order on one `CheckContext`."""
