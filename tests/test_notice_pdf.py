"""HTML to PDF/UA: a real rendering, checked by the text extracted from it and by the
PDF's own structure (tagged, titled, with its language), not by how it was asked for.
"""

from __future__ import annotations

import io
import re
import sys

import pytest

from conftest import require_pdf  # noqa: E402

pypdf = require_pdf()  # the whole module: skipped, with the reason, where no PDF can be made

from lemtrada_asp.notices import language  # noqa: E402
from lemtrada_asp.notices.pdf import PdfError, html_to_pdf  # noqa: E402

SPANISH, CHINESE = (t.text for t in language.taglines("1-800-555-0100", "711")[:2])
HTML = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>We approved Lemtrada for you</title></head>
<body>
<h1>We approved Lemtrada for you</h1>
<p>One course of Lemtrada: 12 mg a day for 5 days in a row.</p>
<ul><li>Authorization number: PA-2026-0001</li><li>Valid until August 2, 2026</li></ul>
<p lang="es">{SPANISH}</p>
<p lang="zh-Hant">{CHINESE}</p>
</body></html>"""


@pytest.fixture(scope="module")
def pdf():
    return pypdf.PdfReader(io.BytesIO(html_to_pdf(HTML)))


def structure_types(node, seen=None):
    """The tag names (/S) of the PDF's structure tree."""
    seen = set() if seen is None else seen
    node = node.get_object()
    if isinstance(node, pypdf.generic.ArrayObject):
        for child in node:
            structure_types(child, seen)
    elif isinstance(node, pypdf.generic.DictionaryObject):
        if "/S" in node:
            seen.add(str(node["/S"]))
        if "/K" in node:
            structure_types(node["/K"], seen)
    return seen


def squash(text: str) -> str:
    """Text without its white space: where a PDF breaks a line is layout, not content."""
    return re.sub(r"\s+", "", text)


def test_the_pdf_text_has_what_the_html_says_in_every_script(pdf):
    text = squash("".join(page.extract_text() for page in pdf.pages))
    for line in ("We approved Lemtrada for you", "12 mg a day for 5 days in a row.", "PA-2026-0001",
                 "Valid until August 2, 2026", SPANISH, CHINESE):
        assert squash(line) in text, line


def test_the_pdf_is_tagged_titled_and_says_its_language(pdf):
    root = pdf.trailer["/Root"]
    assert root["/MarkInfo"]["/Marked"].value is True
    assert root["/Lang"] == "en"
    assert pdf.metadata.title == "We approved Lemtrada for you"
    assert root["/ViewerPreferences"]["/DisplayDocTitle"].value is True
    tags = structure_types(root["/StructTreeRoot"])
    assert {"/H1", "/P", "/L", "/LI"} <= tags
    assert b"pdfuaid" in root["/Metadata"].get_object().get_data()  # the PDF/UA identification


def test_html_without_a_title_or_a_language_is_refused_not_rendered_inaccessible():
    with pytest.raises(PdfError, match="no <title>"):
        html_to_pdf('<html lang="en"><body><p>x</p></body></html>')
    with pytest.raises(PdfError, match='no <html lang="..."'):
        html_to_pdf("<html><head><title>x</title></head><body><p>x</p></body></html>")


def test_without_weasyprint_the_error_says_which_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import weasyprint now raises ImportError
    with pytest.raises(PdfError, match=r"pip install 'lemtrada-asp\[pdf\]'"):
        html_to_pdf(HTML)
