"""One English per Korean text across the web app: a second, different English for a
text already registered is refused (which page imported last would otherwise decide)."""

from __future__ import annotations

import pytest

from eum.web import i18n


def test_a_text_keeps_one_english() -> None:
    i18n.register({"시험용 문구": "Test phrase"})
    i18n.register({"시험용 문구": "Test phrase"})  # the same again is fine
    with pytest.raises(ValueError, match="already reads 'Test phrase'"):
        i18n.register({"시험용 문구": "Another phrase"})
    assert i18n.translate("시험용 문구", "en") == "Test phrase"
    assert i18n.translate("시험용 문구", "ko") == "시험용 문구"
