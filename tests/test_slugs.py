"""generator/slugs.py: transliteration of Cyrillic and Latin names into URL slugs."""

from __future__ import annotations

import pytest

from ecospec.generator.slugs import slugify


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Северный квартал", "severnyi-kvartal"),
        ("ЖК «Липовый парк»", "zhk-lipovyi-park"),
        ("Ёлки-Палки 2", "elki-palki-2"),
        ("Щука Юла Яхта", "shchuka-iula-iakhta"),
        ("Café Crème", "cafe-creme"),
        ("  Green   tea!  ", "green-tea"),
        ("Tea", "tea"),
        ("!!!", ""),
    ],
)
def test_slugify(text: str, slug: str) -> None:
    assert slugify(text) == slug
