"""The fonts a PDF notice is set in, shipped inside the package, and the check that they suffice.

Why ship them: a notice must carry its taglines in Chinese, Japanese, Korean, Arabic and
Persian (45 CFR 92.11). Left to the system's fonts, a machine without CJK or Arabic fonts
printed empty boxes where those taglines belong, with exit status 0. So the PDF is set
only in the fonts of ``fonts/`` (subsets of Noto Sans, Noto Sans Symbols 2, Noto Sans Arabic and Noto Sans CJK,
under the SIL Open Font License, ``fonts/OFL.txt``), it looks the same on every machine,
and a character none of them draws (a member's name in a script the notices do not use)
stops the PDF with a message instead of a box.

The subsets are made by :func:`make` (``python -m lemtrada_asp.notices.typefaces SOURCE_DIR``,
with fontTools, from Debian's fonts-noto-core and fonts-noto-cjk): Latin, Greek and
Cyrillic in full for the Latin family, and for every family each character the notice
texts of this package use (templates, member wording, language taglines, line-of-business
files). Edit a tagline, run it again.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from html import unescape
from pathlib import Path

__all__ = ["FACES", "FONT_DIR", "Face", "font_css", "make", "missing_characters"]

FONT_DIR = Path(__file__).resolve().parent / "fonts"
LATIN = "Lemtrada Sans"


@dataclass(frozen=True)
class Face:
    """One shipped font file: the CSS family it is, and where its glyphs come from."""

    file: str
    family: str
    weight: int
    style: str
    source: str  # the file in Debian's font packages it is subset from
    index: int  # the font's number in a collection (.ttc)
    langs: tuple[str, ...]  # language codes whose tagline characters it must draw; () for Latin


FACES = (
    Face("NotoSans-Regular.subset.woff2", LATIN, 400, "normal", "truetype/noto/NotoSans-Regular.ttf", 0, ()),
    Face("NotoSans-Bold.subset.woff2", LATIN, 700, "normal", "truetype/noto/NotoSans-Bold.ttf", 0, ()),
    Face("NotoSans-Italic.subset.woff2", LATIN, 400, "italic", "truetype/noto/NotoSans-Italic.ttf", 0, ()),
    Face("NotoSans-BoldItalic.subset.woff2", LATIN, 700, "italic", "truetype/noto/NotoSans-BoldItalic.ttf", 0, ()),
    Face("NotoSansSymbols2-Regular.subset.woff2", "Lemtrada Sans Symbols", 400, "normal",
         "truetype/noto/NotoSansSymbols2-Regular.ttf", 0, ()),
    Face("NotoSansArabic-Regular.subset.woff2", "Lemtrada Sans Arabic", 400, "normal",
         "truetype/noto/NotoSansArabic-Regular.ttf", 0, ("ar", "fa")),
    Face("NotoSansCJKtc-Regular.subset.woff2", "Lemtrada Sans CJK TC", 400, "normal",
         "opentype/noto/NotoSansCJK-Regular.ttc", 3, ("zh",)),
    Face("NotoSansCJKjp-Regular.subset.woff2", "Lemtrada Sans CJK JP", 400, "normal",
         "opentype/noto/NotoSansCJK-Regular.ttc", 0, ("ja",)),
    Face("NotoSansCJKkr-Regular.subset.woff2", "Lemtrada Sans CJK KR", 400, "normal",
         "opentype/noto/NotoSansCJK-Regular.ttc", 1, ("ko",)),
)

# Every Latin (with Vietnamese), Greek and Cyrillic letter, punctuation and currency sign.
LATIN_RANGES = [(0x20, 0x7E), (0xA0, 0x24F), (0x250, 0x2FF), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x52F),
                (0x1E00, 0x1EFF), (0x2000, 0x206F), (0x20A0, 0x20CF), (0x2100, 0x215F), (0x2190, 0x2199),
                (0x2212, 0x2212), (0x25A0, 0x25FF), (0xFB00, 0xFB06)]

# Characters the renderer draws itself, found in no text: list markers (disc, circle, square).
GENERATED = "\u2022\u25e6\u25aa"


def families() -> list[str]:
    seen: list[str] = []
    for face in FACES:
        if face.family not in seen:
            seen.append(face.family)
    return seen


def font_css() -> str:
    """The stylesheet that sets every text of the PDF, page boxes included, in the shipped fonts only."""
    rules = [
        f'@font-face {{ font-family: "{face.family}"; src: url("{(FONT_DIR / face.file).as_uri()}"); '
        f"font-weight: {face.weight}; font-style: {face.style}; }}"
        for face in FACES
    ]
    stack = ", ".join(f'"{name}"' for name in families())
    rules.append(f"* {{ font-family: {stack} !important; }}")
    for face in FACES:
        for lang in face.langs:  # the tagline's own script first, then the rest
            first = [f'"{face.family}"'] + [f'"{name}"' for name in families() if name != face.family]
            rules.append(f":lang({lang}) {{ font-family: {', '.join(first)} !important; }}")
    boxes = " ".join(f"@{box} {{ font-family: {stack} !important; }}" for box in
                     ("top-center", "bottom-center", "bottom-left", "bottom-right"))
    rules.append(f"@page {{ {boxes} }}")
    return "\n".join(rules)


@lru_cache(maxsize=1)
def covered() -> frozenset[int]:
    """Every code point some shipped font draws (fontTools comes with WeasyPrint)."""
    from fontTools.ttLib import TTFont  # noqa: PLC0415  (the [pdf] extra)

    points: set[int] = set()
    for face in FACES:
        points.update(TTFont(FONT_DIR / face.file).getBestCmap())
    return frozenset(points)


def text_of(html: str) -> str:
    """The characters a reader sees: the HTML without its tags, styles and comments."""
    body = re.sub(r"<(style|script)\b.*?</\1>|<!--.*?-->", " ", html, flags=re.S | re.I)
    return unescape(re.sub(r"<[^>]+>", " ", body))


def missing_characters(html: str) -> list[str]:
    """The characters of the document that no shipped font draws, in order of first use."""
    have = covered()
    seen: list[str] = []
    for char in GENERATED + text_of(html):
        if char.isspace() or ord(char) < 0x20 or ord(char) in have or char in seen:
            continue
        if 0xFE00 <= ord(char) <= 0xFE0F or 0x200B <= ord(char) <= 0x200F:  # variation selectors, joiners, marks
            continue
        seen.append(char)
    return seen


def notice_texts() -> dict[str, str]:
    """Per tagline language, the characters of its text; '' for every other notice text."""
    import yaml  # noqa: PLC0415

    package = Path(__file__).resolve().parent.parent
    sources = [*package.joinpath("notices").rglob("*.yaml"), *package.joinpath("render", "templates").rglob("*")]
    texts = {"": GENERATED + unescape("".join(p.read_text(encoding="utf-8") for p in sources if p.is_file()))}  # &#9744; too
    data = yaml.safe_load((package / "notices" / "language.yaml").read_text(encoding="utf-8"))
    entries = list(data.get("national", []))
    for state in (data.get("states") or {}).values():
        entries += state if isinstance(state, list) else state.get("languages", [])
    for entry in entries:
        lang = str(entry["code"]).split("-")[0]
        texts[lang] = texts.get(lang, "") + str(entry.get("text", "")) + str(entry.get("native", ""))
    return texts


def make(source_dir: Path, into: Path = FONT_DIR) -> None:
    """Subset the Noto fonts under source_dir (/usr/share/fonts) into the package's fonts/."""
    from fontTools import subset  # noqa: PLC0415
    from fontTools.ttLib import TTFont  # noqa: PLC0415

    texts = notice_texts()
    ascii_ = {c for c in range(0x20, 0x7F)}
    for face in FACES:
        if face.langs:
            wanted = ascii_ | {ord(c) for lang in face.langs for c in texts.get(lang, "")}
        elif face.family != LATIN:  # symbols the notice texts use (a ballot box)
            wanted = {ord(c) for c in texts[""] if ord(c) > 0x7F}
        else:
            wanted = {c for low, high in LATIN_RANGES for c in range(low, high + 1)} | {ord(c) for c in texts[""]}
        font = TTFont(source_dir / face.source, fontNumber=face.index)
        options = subset.Options()
        options.layout_features = ["*"]  # Arabic joining forms, Vietnamese marks
        options.flavor = "woff2"
        options.name_IDs = ["*"]
        options.notdef_outline = True
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=wanted & set(font.getBestCmap()))
        subsetter.subset(font)
        into.mkdir(parents=True, exist_ok=True)
        font.flavor = "woff2"
        font.save(into / face.file)
        print(f"{face.file}: {len(TTFont(into / face.file).getBestCmap() or {})} characters, {(into / face.file).stat().st_size:,} bytes")


if __name__ == "__main__":
    make(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/usr/share/fonts"))
