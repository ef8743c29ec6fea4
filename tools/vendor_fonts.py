"""Rebuild the report fonts in static/fonts/ from Debian's font packages.

The printed reports use only these files (see static/css/report.css and
assessments/reports/pdf.py, which gives WeasyPrint a font configuration with no host
fonts at all). Run on a Debian machine after

    apt-get install fonts-dejavu-core fonts-noto-core fonts-droid-fallback fonts-baekmuk \
        fonts-symbola

    python tools/vendor_fonts.py

Each face is stored as WOFF (lossless, about half the size). Two are cut down to what
the reports take from them: Symbola to the symbol and emoji blocks, Baekmuk Dotum to
Hangul (Droid Sans Fallback has Chinese and Japanese but no Korean). Each licence is copied
from the package's copyright file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

OUT = Path(__file__).resolve().parent.parent / "static" / "fonts"
TRUETYPE = Path("/usr/share/fonts/truetype")

# (source file, vendored name, Debian package whose copyright file is the licence)
FACES = [
    ("dejavu/DejaVuSans.ttf", "dejavu-sans-400.woff", "fonts-dejavu-core"),
    ("dejavu/DejaVuSans-Bold.ttf", "dejavu-sans-700.woff", "fonts-dejavu-core"),
    ("dejavu/DejaVuSansMono.ttf", "dejavu-sans-mono-400.woff", "fonts-dejavu-core"),
    ("noto/NotoSansArabic-Regular.ttf", "noto-sans-arabic-400.woff", "fonts-noto-core"),
    ("noto/NotoSansArabic-Bold.ttf", "noto-sans-arabic-700.woff", "fonts-noto-core"),
    ("noto/NotoSansHebrew-Regular.ttf", "noto-sans-hebrew-400.woff", "fonts-noto-core"),
    ("noto/NotoSansHebrew-Bold.ttf", "noto-sans-hebrew-700.woff", "fonts-noto-core"),
    ("noto/NotoSansDevanagari-Regular.ttf", "noto-sans-devanagari-400.woff", "fonts-noto-core"),
    ("noto/NotoSansDevanagari-Bold.ttf", "noto-sans-devanagari-700.woff", "fonts-noto-core"),
    ("droid/DroidSansFallbackFull.ttf", "droid-sans-fallback-400.woff", "fonts-droid-fallback"),
    # The other scripts of the 40 most spoken languages (tests/test_report_fonts.py renders
    # one name in each): regular weight only, bold is synthesised.
    ("noto/NotoSansThai-Regular.ttf", "noto-sans-thai-400.woff", "fonts-noto-core"),
    ("noto/NotoSansBengali-Regular.ttf", "noto-sans-bengali-400.woff", "fonts-noto-core"),
    ("noto/NotoSansTamil-Regular.ttf", "noto-sans-tamil-400.woff", "fonts-noto-core"),
    ("noto/NotoSansTelugu-Regular.ttf", "noto-sans-telugu-400.woff", "fonts-noto-core"),
    ("noto/NotoSansGujarati-Regular.ttf", "noto-sans-gujarati-400.woff", "fonts-noto-core"),
    ("noto/NotoSansKannada-Regular.ttf", "noto-sans-kannada-400.woff", "fonts-noto-core"),
    ("noto/NotoSansMalayalam-Regular.ttf", "noto-sans-malayalam-400.woff", "fonts-noto-core"),
    ("noto/NotoSansGurmukhi-Regular.ttf", "noto-sans-gurmukhi-400.woff", "fonts-noto-core"),
    ("noto/NotoSansOriya-Regular.ttf", "noto-sans-oriya-400.woff", "fonts-noto-core"),
    ("noto/NotoSansEthiopic-Regular.ttf", "noto-sans-ethiopic-400.woff", "fonts-noto-core"),
    ("noto/NotoSansMyanmar-Regular.ttf", "noto-sans-myanmar-400.woff", "fonts-noto-core"),
    ("noto/NotoSansSinhala-Regular.ttf", "noto-sans-sinhala-400.woff", "fonts-noto-core"),
    ("noto/NotoSansKhmer-Regular.ttf", "noto-sans-khmer-400.woff", "fonts-noto-core"),
    ("noto/NotoSansLao-Regular.ttf", "noto-sans-lao-400.woff", "fonts-noto-core"),
    ("noto/NotoSansGeorgian-Regular.ttf", "noto-sans-georgian-400.woff", "fonts-noto-core"),
    ("noto/NotoSansArmenian-Regular.ttf", "noto-sans-armenian-400.woff", "fonts-noto-core"),
]
# (source, vendored name, package, the blocks kept)
SUBSETS = [
    (
        "ancient-scripts/Symbola_hint.ttf",
        "symbola-symbols-400.woff",
        "fonts-symbola",
        # The spaces, general punctuation to dingbats and arrows, and the emoji blocks.
        "U+0020,U+00A0,U+2000-2BFF,U+3030,U+303D,U+3297,U+3299,U+FE0E-FE0F,U+1F000-1FAFF",
    ),
    (
        "baekmuk/dotum.ttf",
        "baekmuk-dotum-hangul-400.woff",
        "fonts-baekmuk",
        # Hangul jamo, compatibility jamo, extended jamo and syllables (and the spaces
        # between them: a run of Hangul keeps its font across a space).
        "U+0020,U+00A0,U+1100-11FF,U+3131-318E,U+A960-A97F,U+AC00-D7A3,U+D7B0-D7FF",
    ),
]
LICENCES = {
    "fonts-dejavu-core": "LICENSE-DejaVu",
    "fonts-noto-core": "LICENSE-Noto",
    "fonts-droid-fallback": "LICENSE-DroidSansFallback",
    "fonts-symbola": "LICENSE-Symbola",
    "fonts-baekmuk": "LICENSE-Baekmuk",
}


def main(only: set[str] | None = None) -> None:
    """Rebuild every face (or those named in ``only``)."""
    for source, name, _package in FACES:
        if only and name not in only:
            continue
        font = TTFont(TRUETYPE / source)
        font.flavor = "woff"
        font.save(OUT / name)
    for source, name, _package, ranges in SUBSETS:
        if only and name not in only:
            continue
        options = subset.Options()
        options.flavor = "woff"
        options.layout_features = ["*"]
        options.name_IDs = ["*"]
        options.notdef_outline = True
        font = subset.load_font(str(TRUETYPE / source), options)
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=subset.parse_unicodes(ranges))
        subsetter.subset(font)
        subset.save_font(font, str(OUT / name), options)
    used = {package for _s, name, package, *_r in FACES + SUBSETS if not only or name in only}
    for package, licence in LICENCES.items():
        if package not in used:
            continue
        shutil.copyfile(Path("/usr/share/doc") / package / "copyright", OUT / licence)


if __name__ == "__main__":
    import sys

    main(set(sys.argv[1:]) or None)
