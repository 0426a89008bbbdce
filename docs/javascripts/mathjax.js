/* MathJax configuration for derive's site (MathJax itself is served from the site, not a CDN).
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

/* Typeset each page Material shows (the first one and any reached by instant navigation). */
document$.subscribe(() => {
  typesetQueue = typesetQueue.then(() => {
    MathJax.startup.output.clearCache();
    MathJax.typesetClear();
    MathJax.texReset();
    return MathJax.typesetPromise();
  });
});
