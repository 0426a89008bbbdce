"""An example's files: the Markdown page, the LaTeX document, the answer key and the figures."""

from __future__ import annotations

from pathlib import Path

from ..worked import WorkedExample
from .answer_key import answer_key, to_json
from .figures import diagram_alt, loss_alt, loss_curve, network_diagram
from .options import DEFAULTS, RenderOptions
from .render import render
from .view import view


def example_files(worked: WorkedExample, options: RenderOptions = DEFAULTS,
                  templates: tuple[Path, ...] = ()) -> dict[str, str]:
    """Docs-relative paths mapped to contents: `examples/NAME.md` (the page), `.tex`, `.json`
    (the answer key), `-network.svg` and, with several steps, `-loss.svg`.

    `templates` are folders whose files override derive's own templates of the same name.
    """
    page = view(worked, options)
    losses = page["loss_table"]["losses"]
    figures = {"diagram_alt": diagram_alt(worked.example),
               "loss_alt": loss_alt(losses) if len(losses) > 1 else ""}
    name = worked.example.name
    files = {
        f"examples/{name}.md": render("example.md.j2", templates, page=page, site=True,
                                      **figures),
        f"examples/{name}.tex": document(page, templates),
        f"examples/{name}.json": to_json(answer_key(worked)),
        f"examples/{name}-network.svg": network_diagram(worked.example, options, templates),
    }
    if len(losses) > 1:
        files[f"examples/{name}-loss.svg"] = loss_curve(losses, templates)
    return files


def document(page: dict, templates: tuple[Path, ...] = ()) -> str:
    """The worked example as a standalone LaTeX document, from its view."""
    return render("example.tex.j2", templates, page=page)


def questions(page: dict, templates: tuple[Path, ...] = ()) -> str:
    """An exam sheet of the example as a LaTeX document: data, weights and what to compute."""
    return render("questions.tex.j2", templates, page=page)
