"""`derive` blocks in hand-written pages: a fenced block naming an example and a quantity is
replaced by that quantity, with the example page's own numbers.

    ```derive
    example = "examples/seed.toml"   # relative to mkdocs.yml
    show = "dL_dW1"                  # any name the example page uses
    step = 1                         # optional, default 1
    form = "numbers"                 # optional: "numbers" (default), "formula" or "both"
    precision = 2                    # optional, default the example's
    ```

The block is data (TOML), never evaluated.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import DeriveError
from ..present.escape import escape_markdown
from ..present.options import RenderOptions
from ..spec import MAX_PRECISION

if TYPE_CHECKING:
    from ..worked import WorkedExample

_FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`]*?)[ \t]*$")
_KEYS = {"example", "show", "step", "form", "precision"}
FORMS = ("numbers", "formula", "both")


@dataclass(frozen=True)
class Block:
    """One `derive` block: where it is and what it asks for."""

    line: int
    example: str
    show: str
    step: int
    form: str
    precision: int | None


def embed(markdown: str, page: str, worked: Callable[[str], WorkedExample],
          failures: list[str] | None = None, *, precision: int | None = None) -> str:
    """`markdown` with every `derive` block replaced by its quantity.

    `worked` gives the WorkedExample of an example path as written in a block; `precision` is
    the site's (the example's own when None), which a block's own `precision` overrides. Errors
    name the page and the block's first line; with `failures` (while `mkdocs serve` runs) a
    block that fails shows its error in its place, and the message is added to the list.
    """
    lines = markdown.split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if not match:
            out.append(lines[index])
            index += 1
            continue
        fence, start = match["fence"], index
        end = next((i for i in range(index + 1, len(lines)) if _closes(lines[i], fence)), None)
        if match["info"] != "derive":
            # Another fenced block (code, or an example of a derive block): kept as it is.
            stop = len(lines) if end is None else end + 1
            out.extend(lines[start:stop])
            index = stop
            continue
        if end is None:
            raise DeriveError(f"{page}:{start + 1}: derive block: no closing {fence}")
        try:
            block = _parse("\n".join(lines[start + 1:end]), page, start + 1)
            try:
                out.append(_render(block, worked(block.example), precision))
            except DeriveError as err:
                raise DeriveError(f"{page}:{block.line}: derive block: {err}") from None
        except DeriveError as err:
            if failures is None:
                raise
            failures.append(str(err))
            out.append(f'!!! failure "derive block"\n    {escape_markdown(str(err))}\n')
        index = end + 1
    return "\n".join(out)


def _closes(line: str, fence: str) -> bool:
    """Whether `line` closes a block opened by `fence` (the same character, at least as many)."""
    stripped = line.strip()
    return stripped.startswith(fence) and set(stripped) == {fence[0]}


def _parse(text: str, page: str, line: int) -> Block:
    def fail(problem: str) -> DeriveError:
        return DeriveError(f"{page}:{line}: derive block: {problem}")

    try:
        raw: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise fail(f"invalid TOML ({err})") from None
    for key in raw:
        if key not in _KEYS:
            raise fail(f"unknown key {key!r}; use {', '.join(sorted(_KEYS))}")
    for key in ("example", "show"):
        if not isinstance(raw.get(key), str):
            raise fail(f"{key}: a string is required")
    step, precision = raw.get("step", 1), raw.get("precision")
    if isinstance(step, bool) or not isinstance(step, int):
        raise fail("step: must be a whole number")
    if precision is not None and (isinstance(precision, bool) or not isinstance(precision, int)
                                  or not 0 <= precision <= MAX_PRECISION):
        raise fail(f"precision: must be a whole number from 0 to {MAX_PRECISION}")
    form = raw.get("form", "numbers")
    if form not in FORMS:
        raise fail(f"form: must be one of {', '.join(FORMS)}, not {form!r}")
    return Block(line, raw["example"], raw["show"], step, form, precision)


def _render(block: Block, worked: WorkedExample, precision: int | None) -> str:
    from ..present.quantities import quantity  # SymPy is imported only for a page with blocks

    digits = block.precision if block.precision is not None else precision
    shown = quantity(worked, block.show, block.step, RenderOptions(precision=digits))
    if block.form != "numbers" and not shown["formula"]:
        raise DeriveError(f"{block.show!r} is data or a starting weight, not computed: it has "
                          "no formula; use form = \"numbers\"")
    lines = []
    if block.form in ("formula", "both"):
        lines.append(f"{shown['symbol']} = {shown['formula']}")
    if block.form in ("numbers", "both"):
        space = rf" \in \mathbb{{R}}^{{{shown['shape']}}}" if shown["shape"] else ""
        lines.append(f"{shown['symbol']} = {shown['value']}{space}")
    body = r" \\ ".join(lines)
    return f"$$\n\\begin{{gathered}}{body}\\end{{gathered}}\n$$\n" if len(lines) > 1 else \
        f"$$\n{body}\n$$\n"
