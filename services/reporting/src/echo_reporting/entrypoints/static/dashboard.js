// ECHO reporting dashboard: tooltips, filters that apply on change, and a readiness flag.
// The charts themselves are SVG drawn by the server; this file only adds behaviour.
(function () {
  "use strict";
  function ready() {
    var bars = document.querySelectorAll("svg.chart rect.bar");
    var withData = 0;
    var tip = document.createElement("div");
    tip.className = "tooltip";
    tip.hidden = true;
    document.body.appendChild(tip);
    bars.forEach(function (bar) {
      if (parseFloat(bar.getAttribute("data-value")) > 0) withData += 1;
      bar.addEventListener("mousemove", function (ev) {
        var title = bar.querySelector("title");
        tip.textContent = title ? title.textContent : bar.getAttribute("data-value");
        tip.style.left = ev.clientX + 12 + "px";
        tip.style.top = ev.clientY + 12 + "px";
        tip.hidden = false;
        bar.classList.add("active");
      });
      bar.addEventListener("mouseleave", function () {
        tip.hidden = true;
        bar.classList.remove("active");
      });
    });
    document.querySelectorAll("form.filters select").forEach(function (select) {
      select.addEventListener("change", function () {
        if (select.name === "region") {
          var programme = select.form.querySelector("select[name=programme]");
          if (programme) programme.value = "";
        }
        select.form.submit();
      });
    });
    document.body.setAttribute("data-charts", document.querySelectorAll("svg.chart").length);
    document.body.setAttribute("data-bars-with-data", withData);
    // The evaluations panel: sessions whose survey got answers, and Moore levels with a number.
    var rates = document.querySelectorAll("#chart-response-rates rect.bar");
    var answered = Array.prototype.filter.call(rates, function (bar) {
      return parseFloat(bar.getAttribute("data-value")) > 0;
    }).length;
    var measured = Array.prototype.filter.call(
      document.querySelectorAll("#moore-levels tr[data-level]"),
      function (row) {
        return Array.prototype.some.call(row.querySelectorAll("[data-measure]"), function (cell) {
          return parseFloat(cell.textContent) > 0;
        });
      }
    ).length;
    document.body.setAttribute("data-response-rate-bars", answered);
    document.body.setAttribute("data-moore-levels-with-data", measured);
    // Every resource the page loaded, for anyone checking that nothing came from elsewhere.
    var loaded = performance.getEntriesByType("resource").map(function (e) { return e.name; });
    document.body.setAttribute("data-resources", JSON.stringify(loaded));
    document.body.setAttribute("data-ready", "true");
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
