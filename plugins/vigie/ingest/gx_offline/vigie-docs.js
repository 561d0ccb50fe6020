/*
 * Vigie's offline stand-in for what Great Expectations' Data Docs load from CDNs (jQuery,
 * Bootstrap, bootstrap-table): the few calls the pages make, so that they render with no
 * network. Written for Vigie (vigie.ingest.expectations.make_docs_offline), no third-party
 * code. What it does not do (charts, date pickers, filter controls) the pages do without.
 */
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }

  function cell(tag, html) {
    var node = document.createElement(tag);
    node.innerHTML = html === undefined || html === null ? "" : String(html);
    return node;
  }

  function renderTable(table, options) {
    var columns = options.columns || [];
    var rows = (options.data || []).slice();
    var sortName = options.sortName;
    if (sortName) {
      var column = columns.filter(function (c) { return c.field === sortName; })[0];
      var key = (column && column.sortName) || sortName;
      var sign = options.sortOrder === "desc" ? -1 : 1;
      rows.sort(function (a, b) { return a[key] < b[key] ? -sign : a[key] > b[key] ? sign : 0; });
    }
    table.innerHTML = "";
    table.classList.add("vigie-table");
    var head = document.createElement("thead");
    var titles = document.createElement("tr");
    columns.forEach(function (c) { titles.appendChild(cell("th", c.title)); });
    head.appendChild(titles);
    table.appendChild(head);
    var body = document.createElement("tbody");
    rows.forEach(function (row) {
      var line = document.createElement("tr");
      columns.forEach(function (c) { line.appendChild(cell("td", row[c.field])); });
      if (row._table_row_link_path) {
        line.className = "clickable-row";
        line.setAttribute("data-href", row._table_row_link_path);
        line.addEventListener("click", function () { window.location = row._table_row_link_path; });
      }
      body.appendChild(line);
    });
    table.appendChild(body);
  }

  function Wrapped(nodes) { this.nodes = nodes; this.length = nodes.length; }
  Wrapped.prototype.each = function (fn) { this.nodes.forEach(function (n, i) { fn.call(n, i, n); }); return this; };
  Wrapped.prototype.bootstrapTable = function (options) {
    if (typeof options === "object") { this.each(function () { renderTable(this, options); }); }
    return this;
  };
  Wrapped.prototype.on = function (event, fn) {
    var name = String(event).split(".")[0];
    if (name === "click-row" || name === "closed") { return this; }  // rows link by themselves
    return this.each(function () { this.addEventListener(name, fn); });
  };
  Wrapped.prototype.ready = function (fn) { ready(fn); return this; };
  Wrapped.prototype.addClass = function (c) { return this.each(function () { this.classList.add(c); }); };
  Wrapped.prototype.removeClass = function (c) { return this.each(function () { this.classList.remove(c); }); };
  Wrapped.prototype.show = function () { return this.each(function () { this.style.display = ""; }); };
  Wrapped.prototype.hide = function () { return this.each(function () { this.style.display = "none"; }); };
  Wrapped.prototype.fadeIn = Wrapped.prototype.show;
  Wrapped.prototype.fadeOut = Wrapped.prototype.hide;
  Wrapped.prototype.modal = function () { return this; };
  Wrapped.prototype.tooltip = function () { return this; };
  Wrapped.prototype.popover = function () { return this; };
  Wrapped.prototype.parent = function () {
    return new Wrapped(this.nodes.map(function (n) { return n.parentNode; }).filter(Boolean));
  };
  Wrapped.prototype.data = function (key) {
    return this.nodes.length ? this.nodes[0].getAttribute("data-" + key) : undefined;
  };

  function $(target) {
    if (typeof target === "function") { ready(target); return new Wrapped([]); }
    if (target === document || target === window || (target && target.nodeType)) { return new Wrapped([target]); }
    if (typeof target === "string") {
      try { return new Wrapped(Array.prototype.slice.call(document.querySelectorAll(target))); } catch (e) { return new Wrapped([]); }
    }
    return new Wrapped([]);
  }
  $.fn = Wrapped.prototype;
  window.$ = window.jQuery = $;
  window.vegaEmbed = function () { return Promise.resolve(); };

  // Tabs and collapsible sections, as Bootstrap's data attributes declare them.
  ready(function () {
    document.addEventListener("click", function (event) {
      var toggle = event.target.closest && event.target.closest("[data-toggle]");
      if (!toggle) { return; }
      var kind = toggle.getAttribute("data-toggle");
      var selector = toggle.getAttribute("data-target") || toggle.getAttribute("href");
      if (!selector || selector.charAt(0) !== "#") { return; }
      var pane = document.querySelector(selector);
      if (!pane) { return; }
      event.preventDefault();
      if (kind === "tab") {
        Array.prototype.forEach.call(pane.parentNode.children, function (p) { p.classList.remove("active", "show"); });
        pane.classList.add("active", "show");
        var nav = toggle.closest("ul");
        if (nav) { Array.prototype.forEach.call(nav.querySelectorAll(".nav-link"), function (l) { l.classList.remove("active"); }); }
        toggle.classList.add("active");
      } else if (kind === "collapse") {
        pane.classList.toggle("show");
      }
    });
  });
})();
