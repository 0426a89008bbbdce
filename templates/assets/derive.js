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

/* A "copy LaTeX" button under each displayed formula: a matrix copies its bmatrix, a derivation
 * line or a number (L) its whole TeX; and one after each step's heading copies the step. */
function addCopyButtons() {
  const steps = new Map();
  for (const item of MathJax.startup.document.math) {
    const block = item.typesetRoot && item.typesetRoot.closest("div.arithmatex");
    if (!block) continue;
    const tex = item.math.trim();
    const heading = stepHeading(block);
    if (heading) steps.set(heading, [...(steps.get(heading) || []), tex]);
    if (block.nextElementSibling?.classList.contains("derive-copy")) continue;
    const matrix = tex.match(/\\begin\{bmatrix\}[\s\S]*?\\end\{bmatrix\}/);
    block.after(copyButton("copy LaTeX", matrix ? matrix[0] : tex,
                           matrix ? "Copy this matrix as a LaTeX bmatrix" : "Copy this formula as LaTeX"));
  }
  for (const [heading, formulas] of steps) {
    if (heading.querySelector(".derive-copy")) continue;
    const text = formulas.map((tex) => `\\[\n${tex}\n\\]`).join("\n");
    heading.append(" ", copyButton("copy step as LaTeX", text, "Copy every formula of this step"));
  }
}

/* The "Step k: the numbers" heading a block belongs to, or null. */
function stepHeading(block) {
  let node = block;
  while ((node = node.previousElementSibling)) {
    if (node.tagName === "H2") return /^step-\d+/.test(node.id) ? node : null;
  }
  return null;
}

function copyButton(label, text, title) {
  const button = document.createElement("button");
  button.className = "derive-copy md-button";
  button.type = "button";
  button.textContent = label;
  button.title = title;
  button.addEventListener("click", () => copy(text, button, label));
  return button;
}

function copy(text, button, label) {
  const done = () => {
    button.textContent = "copied";
    setTimeout(() => { button.textContent = label; }, 1500);
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
