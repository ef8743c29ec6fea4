"""Rebuild the report fonts in static/fonts/ from Debian's font packages (and three npm
packages).

The printed reports use only these files (see static/css/report.css and
assessments/reports/pdf.py, which gives WeasyPrint a font configuration with no host
fonts at all). Run on a Debian machine after

    apt-get install fonts-dejavu-core fonts-noto-core fonts-droid-fallback fonts-baekmuk \
        fonts-symbola

    python tools/vendor_fonts.py

Three faces come from npm packages (Google Fonts' own files), fetched with ``npm pack``:
Noto Emoji, and the bold weights of Noto Sans SC and Noto Sans KR (Debian has no bold
Chinese, Japanese or Korean face outside the 100 MB fonts-noto-cjk collections).

Each face is stored as WOFF (lossless, about half the size). Some are cut down to what
the reports take from them: Symbola to the symbol and emoji blocks, Baekmuk Dotum to
Hangul (Droid Sans Fallback has Chinese and Japanese but no Korean), and the bold CJK
faces to the characters of the national standard sets (see ``bold_cjk``). Each licence
is copied from the package's copyright (Debian) or LICENSE_FONT (npm) file.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
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
# The npm faces: (package, file in the package, vendored name, licence file, code points
# kept or None for all). Noto Emoji is monochrome (outlines, as PDF/A wants; skin tones
# are drawn as the untoned figure) and whole: its GSUB turns each ZWJ sequence, keycap
# and flag into one glyph.
NPM_FACES = [
    (
        "@expo-google-fonts/noto-emoji@0.4.7",
        "400Regular/NotoEmoji_400Regular.ttf",
        "noto-emoji-400.woff",
        "LICENSE-NotoEmoji",
        None,
    ),
    (
        "@expo-google-fonts/noto-sans-sc@0.4.3",
        "700Bold/NotoSansSC_700Bold.ttf",
        "noto-sans-sc-700.woff",
        "LICENSE-NotoSansCJK",
        "cjk",
    ),
    (
        "@expo-google-fonts/noto-sans-kr@0.4.3",
        "700Bold/NotoSansKR_700Bold.ttf",
        "noto-sans-kr-hangul-700.woff",
        "LICENSE-NotoSansCJK",
        "hangul",
    ),
]


def _encoded(codec: str, leads: range, trails: list[int]) -> set[int]:
    """The characters a double-byte codec encodes with these lead and trail bytes."""
    chars = set()
    for lead in leads:
        for trail in trails:
            try:
                text = bytes([lead, trail]).decode(codec)
            except UnicodeDecodeError:
                continue
            if len(text) == 1:
                chars.add(ord(text))
    return chars


def bold_cjk(which: str) -> set[int]:
    """The characters the bold CJK faces keep (the whole faces are 10 and 6 MB; bold
    text is headings, table heads and labels, and a character outside these sets is still
    printed, in the regular face).

    - ``cjk``: the ideographs of GB 2312 (all 6,763 of simplified Chinese), JIS X 0208
      (levels 1 and 2, 6,355 kanji: every jōyō and nearly every jinmeiyō kanji) and Big5
      level 1 (the 5,401 common traditional characters): 10,363 in all; with kana, CJK
      punctuation and full-width forms.
    - ``hangul``: the 2,350 syllables of KS X 1001 (what modern Korean text uses) and the
      compatibility jamo.
    """
    every = list(range(0xA1, 0xFF))
    spaces = {0x20, 0xA0}
    if which == "hangul":
        return _encoded("euc_kr", range(0xB0, 0xC9), every) | set(range(0x3131, 0x318F)) | spaces
    ideographs = (
        _encoded("gb2312", range(0xB0, 0xF8), every)
        | _encoded("euc_jp", range(0xB0, 0xF5), every)
        | _encoded("big5", range(0xA4, 0xC7), [*range(0x40, 0x7F), *every])
    )
    return (
        ideographs
        | set(range(0x3000, 0x3100))  # CJK punctuation, hiragana, katakana
        | set(range(0x31F0, 0x3200))  # katakana phonetic extensions
        | set(range(0xFF00, 0xFFF0))  # full-width and half-width forms
        | spaces
    )


def _subset(source: Path, codes: set[int], target: Path) -> None:
    options = subset.Options()
    options.flavor = "woff"
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    font = subset.load_font(str(source), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=codes)
    subsetter.subset(font)
    subset.save_font(font, str(target), options)


def vendor_npm(only: set[str] | None = None) -> None:
    """Fetch the npm faces with ``npm pack`` and vendor them (with their licences)."""
    with tempfile.TemporaryDirectory() as folder:
        for package, member, name, licence, keep in NPM_FACES:
            if only and name not in only:
                continue
            packed = subprocess.run(  # noqa: S603 (a fixed package name and version)
                ["npm", "pack", "--silent", "--pack-destination", folder, package],  # noqa: S607
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()[-1]
            unpacked = Path(folder) / name
            with tarfile.open(Path(folder) / packed) as archive:
                archive.extractall(unpacked, filter="data")
            source = unpacked / "package" / member
            if keep is None:
                font = TTFont(source)
                font.flavor = "woff"
                font.save(OUT / name)
            else:
                _subset(source, bold_cjk(keep), OUT / name)
            shutil.copyfile(unpacked / "package" / "LICENSE_FONT", OUT / licence)


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
        _subset(TRUETYPE / source, set(subset.parse_unicodes(ranges)), OUT / name)
    used = {package for _s, name, package, *_r in FACES + SUBSETS if not only or name in only}
    for package, licence in LICENCES.items():
        if package not in used:
            continue
        shutil.copyfile(Path("/usr/share/doc") / package / "copyright", OUT / licence)
    vendor_npm(only)


if __name__ == "__main__":
    import sys

    main(set(sys.argv[1:]) or None)
