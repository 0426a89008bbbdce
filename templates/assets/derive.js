/* MathJax configuration for a site with derive's pages (MathJax itself is served from the site,
 * not a CDN); the derive plugin loads this script before MathJax.
 *
 * pymdownx.arithmatex (generic mode) wraps each formula in an element of class "arithmatex",
 * delimited by \( \) or \[ \]; MathJax processes those elements only. MathJax's own start-up
 * typeset is off: a locally served MathJax racing Material's document$ leaves blank glyphs, so
 * every typeset runs from document$, queued behind MathJax's start-up promise.
 */
let mathReady;
let typesetQueue = new Promise((resolve) => { mathReady = resolve; });

window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex",
  },
  startup: {
    typeset: false,
    ready() {
      MathJax.startup.defaultReady();
      MathJax.startup.promise.then(mathReady);
    },
  },
};

/* Typeset each page shown: with Material, the first one and any reached by instant navigation
 * (its document$); with other themes, the page once loaded. */
function typesetPage() {
  typesetQueue = typesetQueue.then(() => {
    MathJax.startup.output.clearCache();
    MathJax.typesetClear();
    MathJax.texReset();
    return MathJax.typesetPromise().then(addCopyButtons);
  });
}
if (typeof document$ !== "undefined") {
  document$.subscribe(typesetPage);
} else if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", typesetPage);
} else {
  typesetPage();
}

/* A "copy LaTeX" button under each displayed matrix: copies its bmatrix, ready to paste. */
function addCopyButtons() {
  for (const item of MathJax.startup.document.math) {
    const block = item.typesetRoot && item.typesetRoot.closest("div.arithmatex");
    const matrix = item.math.match(/\\begin\{bmatrix\}[\s\S]*?\\end\{bmatrix\}/);
    if (!block || !matrix || block.nextElementSibling?.classList.contains("derive-copy")) continue;
    const button = document.createElement("button");
    button.className = "derive-copy md-button";
    button.type = "button";
    button.textContent = "copy LaTeX";
    button.title = "Copy this matrix as a LaTeX bmatrix";
    button.addEventListener("click", () => copy(matrix[0], button));
    block.after(button);
  }
}

function copy(text, button) {
  const done = () => {
    button.textContent = "copied";
    setTimeout(() => { button.textContent = "copy LaTeX"; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done);
    return;
  }
  const area = document.createElement("textarea");
  area.value = text;
  document.body.append(area);
  area.select();
  document.execCommand("copy");
  area.remove();
  done();
}
