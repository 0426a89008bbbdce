"""Text from an example file, escaped to read as itself in Markdown, HTML and LaTeX."""

from __future__ import annotations

import html
import re
import unicodedata

_MARKDOWN_SPECIALS = re.compile(r"[\\`*_{}\[\]()#+\-!|$~<>&]")
# Indentation, and a first character that opens a block once the specials are entities.
_LINE_START = re.compile(r"^[ \t]*([0-9=:?/])?", re.MULTILINE)


def escape_markdown(text: str) -> str:
    """Text from an example file, shown literally: every Markdown, math and HTML special
    character becomes a numeric entity (backslashes would read as math delimiters), and no line
    opens a block (indented code, a numbered list, a setext underline, `???`, `:` or `///`)."""
    escaped = _MARKDOWN_SPECIALS.sub(lambda m: f"&#{ord(m.group())};", text)
    return _LINE_START.sub(lambda m: f"&#{ord(m[1])};" if m[1] else "", escaped)


def escape_html(text: str) -> str:
    """Text for a YAML front-matter string: HTML-escaped (MkDocs and Material put the title into
    pages as HTML), double-quoted, and every character YAML would refuse or fold (controls, line
    and paragraph separators, noncharacters) written as a YAML escape, so the front matter always
    parses back to exactly the escaped text. Printable Unicode stays itself: YAML reads an
    escaped emoji's UTF-16 halves as two broken characters."""
    return '"' + "".join(_yaml_character(c) for c in html.escape(text)) + '"'


def _yaml_character(c: str) -> str:
    """One character inside a YAML double-quoted string: itself if printable, else escaped."""
    if c == "\\":
        return "\\\\"
    if c.isprintable():
        return c
    code = ord(c)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


_TEX_SPECIALS = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
    "%": r"\%", "_": r"\_", "^": r"\^{}", "~": r"\~{}", "<": r"\textless{}",
    ">": r"\textgreater{}", "|": r"\textbar{}", '"': "''",
}
_SYMBOLS = {
    "−": "$-$", "–": "--", "—": "---", "×": r"$\times$", "·": r"$\cdot$", "∘": r"$\circ$",
    "≤": r"$\leq$", "≥": r"$\geq$", "≠": r"$\neq$", "≈": r"$\approx$", "→": r"$\to$",
    "←": r"$\leftarrow$", "∂": r"$\partial$", "∑": r"$\sum$", "√": r"$\surd$", "∞": r"$\infty$",
    "…": r"\dots{}", "‘": "`", "’": "'", "“": "``", "”": "''", "°": r"$^\circ$", "±": r"$\pm$",
    "ß": r"\ss{}", "æ": r"\ae{}", "Æ": r"\AE{}", "ø": r"\o{}", "Ø": r"\O{}", "œ": r"\oe{}",
    "Œ": r"\OE{}", "å": r"\aa{}", "Å": r"\AA{}", "ł": r"\l{}", "Ł": r"\L{}", "ı": r"\i{}",
    "\u00a0": "~",
}
_ACCENTS = {
    "\u0300": "`", "\u0301": "'", "\u0302": "^", "\u0303": "~", "\u0304": "=", "\u0306": "u",
    "\u0307": ".", "\u0308": '"', "\u030a": "r", "\u030b": "H", "\u030c": "v", "\u0327": "c",
    "\u0328": "k",
}
_GREEK_CAPITALS = {"GAMMA", "DELTA", "THETA", "LAMBDA", "XI", "PI", "SIGMA", "UPSILON", "PHI",
                   "PSI", "OMEGA"}
_GREEK_SMALL = _GREEK_CAPITALS | {"ALPHA", "BETA", "EPSILON", "ZETA", "ETA", "IOTA", "KAPPA",
                                  "MU", "NU", "RHO", "TAU", "CHI"}


def escape_latex(text: str) -> str:
    """Plain text that pdflatex typesets as written: specials made literal, accents, Greek
    and common symbols mapped to TeX, and any other character spelled out by its Unicode name
    (never dropped)."""
    return "".join(_character(c) for c in text)


def _character(c: str) -> str:
    if c in _TEX_SPECIALS:
        return _TEX_SPECIALS[c]
    if " " <= c <= "~" or c in "\n\t":
        return c
    if c in _SYMBOLS:
        return _SYMBOLS[c]
    name = unicodedata.name(c, "")
    if name.startswith("GREEK ") and " LETTER " in name:
        letter = name.split(" LETTER ")[1].split()[0]
        if "SMALL" in name and letter in _GREEK_SMALL:
            return rf"$\{letter.lower()}$"
        if "CAPITAL" in name and letter in _GREEK_CAPITALS:
            return rf"$\{letter.capitalize()}$"
    base, *marks = unicodedata.normalize("NFD", c)
    if marks and " " <= base <= "~" and all(m in _ACCENTS for m in marks):
        text = _TEX_SPECIALS.get(base, base)
        for mark in marks:
            text = rf"\{_ACCENTS[mark]}{{{text}}}"
        return text
    spelled = name.lower() if name else f"U+{ord(c):04X}"
    return rf"[\textit{{{spelled}}}]"
