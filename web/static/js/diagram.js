// Draws the state diagrams with the vendored Viz.js (Graphviz compiled to WebAssembly). Each
// <figure data-diagram data-dot="..."> gets its DOT drawn as inline SVG, fitted to the page
// width, with zoom (buttons, + and - keys, Ctrl + wheel) and pan (drag, or the scroll bars).
// A figure inside a closed <details> is drawn when it is opened, and Viz.js (1.3 MB) is only
// fetched then (from data-viz) when the page did not load it. Without JavaScript, or when
// drawing fails, the page keeps its tables and the DOT text.
(function () {
  "use strict";
  var figures = document.querySelectorAll("figure[data-diagram]");
  var MIN = 0.2, MAX = 4, STEP = 1.25;
  var renderer = null;

  function say(figure, text) {
    var status = figure.querySelector("[data-diagram-status]");
    if (status) { status.textContent = text; }
  }

  function failed(figure, error) {
    say(figure, (figure.getAttribute("data-failed") || "The diagram could not be drawn:") +
        " " + (error && error.message ? error.message : error));
  }

  // One Viz instance for the page, loading the script first when it is not there yet.
  function viz(source) {
    if (renderer) { return renderer; }
    renderer = new Promise(function (resolve, reject) {
      if (typeof Viz !== "undefined" && Viz.instance) { resolve(); return; }
      if (!source) { reject(new Error("The diagram renderer did not load.")); return; }
      var script = document.createElement("script");
      script.src = source;
      script.onload = function () { resolve(); };
      script.onerror = function () { reject(new Error("The diagram renderer did not load.")); };
      document.head.appendChild(script);
    }).then(function () { return Viz.instance(); });
    return renderer;
  }

  function zoomable(figure, svg) {
    var width = svg.width.baseVal.value, height = svg.height.baseVal.value;
    var scale = 1;
    var tools = figure.closest("[data-diagram-viewer]");
    tools = tools && tools.querySelector(".diagram-tools");

    function apply(next) {
      scale = Math.min(MAX, Math.max(MIN, next));
      svg.setAttribute("width", String(Math.round(width * scale)));
      svg.setAttribute("height", String(Math.round(height * scale)));
    }
    function fit() {
      var style = getComputedStyle(figure);
      var room = figure.clientWidth - parseFloat(style.paddingLeft) -
          parseFloat(style.paddingRight);
      apply(Math.min(1, room / width));
    }
    // Zooming keeps the middle of what is shown in the middle.
    function zoom(next) {
      var x = (figure.scrollLeft + figure.clientWidth / 2) / scale;
      var y = (figure.scrollTop + figure.clientHeight / 2) / scale;
      apply(next);
      figure.scrollLeft = x * scale - figure.clientWidth / 2;
      figure.scrollTop = y * scale - figure.clientHeight / 2;
    }
    var actions = {
      "in": function () { zoom(scale * STEP); },
      "out": function () { zoom(scale / STEP); },
      "fit": fit,
      "one": function () { zoom(1); }
    };
    if (tools) {
      tools.hidden = false;
      tools.querySelectorAll("[data-zoom]").forEach(function (button) {
        button.addEventListener("click", actions[button.getAttribute("data-zoom")]);
      });
    }
    figure.addEventListener("keydown", function (event) {
      var action = {"+": "in", "=": "in", "-": "out", "0": "fit"}[event.key];
      if (action) { event.preventDefault(); actions[action](); }
    });
    figure.addEventListener("wheel", function (event) {
      if (!event.ctrlKey) { return; }  // a plain wheel scrolls the page as usual
      event.preventDefault();
      zoom(event.deltaY < 0 ? scale * STEP : scale / STEP);
    }, {passive: false});
    var drag = null;
    figure.addEventListener("pointerdown", function (event) {
      // A press on the frame itself is on its scroll bars (or padding): leave those be.
      if (event.button !== 0 || event.target === figure) { return; }
      drag = {x: event.clientX, y: event.clientY, left: figure.scrollLeft, top: figure.scrollTop};
      figure.classList.add("dragging");
      figure.setPointerCapture(event.pointerId);
    });
    figure.addEventListener("pointermove", function (event) {
      if (!drag) { return; }
      figure.scrollLeft = drag.left - (event.clientX - drag.x);
      figure.scrollTop = drag.top - (event.clientY - drag.y);
    });
    ["pointerup", "pointercancel"].forEach(function (name) {
      figure.addEventListener(name, function () {
        drag = null;
        figure.classList.remove("dragging");
      });
    });
    fit();
    // The case's current state, when it is marked, is brought into view.
    var current = svg.querySelector("g.current");
    if (current) {
      var box = current.getBoundingClientRect(), frame = figure.getBoundingClientRect();
      figure.scrollTop += box.top - frame.top - figure.clientHeight / 2 + box.height / 2;
    }
  }

  function draw(figure) {
    if (figure.hasAttribute("data-drawn")) { return; }
    figure.setAttribute("data-drawn", "");
    viz(figure.getAttribute("data-viz")).then(function (instance) {
      try {
        var svg = instance.renderSVGElement(figure.getAttribute("data-dot") || "");
        svg.setAttribute("focusable", "false");
        svg.setAttribute("aria-hidden", "true");  // the figure's label and the tables speak
        figure.replaceChildren(svg);
        zoomable(figure, svg);
      } catch (error) {
        failed(figure, error);
      }
    }, function (error) { failed(figure, error); });
  }

  figures.forEach(function (figure) {
    var details = figure.closest("details");
    if (details && !details.open) {
      details.addEventListener("toggle", function () { if (details.open) { draw(figure); } });
    } else {
      draw(figure);
    }
  });

  // Preview forms are looked at, never sent: pressing Enter in one must not leave the page.
  document.querySelectorAll("form[data-preview]").forEach(function (form) {
    form.addEventListener("submit", function (event) { event.preventDefault(); });
  });
})();
