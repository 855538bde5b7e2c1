"""HTML to a tagged, accessible PDF (PDF/UA-1) with WeasyPrint: the notice a plan mails.

Why PDF/UA: a member who uses a screen reader must be able to read the notice (45 CFR
92.204 and Section 504 ask for accessible electronic communications), which needs a
tagged PDF with its reading order, a document title and the text's language. WeasyPrint
tags the PDF from the HTML's structure (headings, paragraphs, lists), takes the title
from <title> and the language from <html lang>, so the HTML template must carry both:
this module refuses HTML without them rather than write a PDF that fails the standard.

WeasyPrint is an optional dependency (the ``[pdf]`` extra: it needs Pango), imported
only when a PDF is asked for, so deciding cases never needs it.

The PDF is set only in the fonts shipped with the package (typefaces.py), never the
system's: a notice looks the same on every machine, and a character no shipped font
draws is refused before rendering (a PdfError naming it) instead of printed as a box.
"""

from __future__ import annotations

import re
from html import unescape

from ..engine.errors import LemtradaError

__all__ = ["PdfError", "VARIANT", "document_lang", "document_title", "html_to_pdf"]

VARIANT = "pdf/ua-1"


class PdfError(LemtradaError):
    """A PDF cannot be made: WeasyPrint is missing, or the HTML lacks what PDF/UA needs."""

    exit_status = 1


def html_to_pdf(html: str, base_url: str | None = None) -> bytes:
    """The PDF/UA-1 rendering of ``html`` (a whole document with <title> and <html lang>)."""
    title, lang = document_title(html), document_lang(html)
    if not title:
        raise PdfError("cannot make an accessible PDF: the HTML has no <title> (PDF/UA needs a document title)")
    if not lang:
        raise PdfError('cannot make an accessible PDF: the HTML has no <html lang="..."> (PDF/UA needs the language)')
    try:
        import weasyprint  # noqa: PLC0415  (optional dependency, imported when needed)
    except ImportError as exc:  # OSError too: WeasyPrint raises it when Pango is missing
        raise PdfError(f"PDF output needs WeasyPrint: pip install 'lemtrada-asp[pdf]' ({exc})") from None
    except OSError as exc:
        raise PdfError(f"PDF output needs WeasyPrint's system libraries (Pango): {exc}") from None
    from weasyprint.text.fonts import FontConfiguration  # noqa: PLC0415

    from .typefaces import font_css, missing_characters  # noqa: PLC0415  (fontTools comes with WeasyPrint)

    missing = missing_characters(html)
    if missing:
        shown = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise PdfError(
            f"cannot make the PDF: no font shipped for the notices draws {shown}; the PDF would show empty boxes "
            "there (use --format html, or add the characters to the fonts: lemtrada_asp/notices/typefaces.py)"
        )
    fonts = FontConfiguration()
    stylesheet = weasyprint.CSS(string=font_css(), font_config=fonts)
    document = weasyprint.HTML(string=html, base_url=base_url)
    return document.write_pdf(pdf_variant=VARIANT, pdf_tags=True, stylesheets=[stylesheet], font_config=fonts)


def document_title(html: str) -> str:
    match = re.search(r"<title[^>]*>(.*?)</title>", html, re.S | re.I)
    return unescape(match.group(1)).strip() if match else ""


def document_lang(html: str) -> str:
    match = re.search(r"<html\b[^>]*\blang\s*=\s*[\"']([^\"']+)[\"']", html, re.I)
    return match.group(1).strip() if match else ""
