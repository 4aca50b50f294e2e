// Draws the state diagrams of the admin pages with the vendored Viz.js (Graphviz compiled to
// WebAssembly). Each <figure data-diagram data-dot="..."> gets its DOT drawn as inline SVG;
// without JavaScript, or when drawing fails, the page keeps its tables and the DOT text.
(function () {
  "use strict";
  var figures = document.querySelectorAll("figure[data-diagram]");
  if (!figures.length) { return; }

  function say(figure, text) {
    var status = figure.querySelector("[data-diagram-status]");
    if (status) { status.textContent = text; }
  }

  if (typeof Viz === "undefined" || !Viz.instance) {
    figures.forEach(function (figure) {
      say(figure, figure.getAttribute("data-failed") || "The diagram renderer did not load.");
    });
    return;
  }
  Viz.instance().then(function (viz) {
    figures.forEach(function (figure) {
      try {
        var svg = viz.renderSVGElement(figure.getAttribute("data-dot") || "");
        svg.setAttribute("focusable", "false");
        svg.setAttribute("aria-hidden", "true");  // the figure's label and the tables speak
        figure.replaceChildren(svg);
      } catch (error) {
        say(figure, (figure.getAttribute("data-failed") || "The diagram could not be drawn:") +
            " " + error.message);
      }
    });
  }, function (error) {
    figures.forEach(function (figure) {
      say(figure, (figure.getAttribute("data-failed") || "The diagram could not be drawn:") +
          " " + error);
    });
  });

  // Preview forms are looked at, never sent: pressing Enter in one must not leave the page.
  document.querySelectorAll("form[data-preview]").forEach(function (form) {
    form.addEventListener("submit", function (event) { event.preventDefault(); });
  });
})();
