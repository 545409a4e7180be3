// reachyd's API documentation page: it fetches /openapi.json and renders
// its operations (grouped by tag, with anchors), their parameters, bodies
// and answers, and the schemas they refer to. Written for reachyd's own
// document; no library, nothing loaded from another site. Text from the
// document is only ever set as text (never parsed as HTML).
"use strict";

(function () {
  var METHODS = ["get", "put", "post", "delete", "patch", "head", "options"];

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === "text") e.textContent = attrs[k];
        else if (k === "cls") e.className = attrs[k];
        else e.setAttribute(k, attrs[k]);
      });
    }
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      e.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return e;
  }

  function fail(msg) {
    document.body.setAttribute("data-error", msg);
    var box = el("div", { id: "error", role: "alert" }, [el("strong", { text: "Cannot show the documentation: " }), msg]);
    var main = document.getElementById("content");
    main.textContent = "";
    main.appendChild(box);
  }

  window.addEventListener("error", function (ev) { fail(String(ev.message || ev)); });

  function refName(ref) { return ref.replace("#/components/schemas/", ""); }

  // typeNode renders a schema's type in one line, with links to schemas.
  function typeNode(s) {
    var span = el("span", { cls: "type" });
    function add(x) { span.appendChild(typeof x === "string" ? document.createTextNode(x) : x); }
    function walk(s) {
      if (!s || Object.keys(s).length === 0) { add("any"); return; }
      if (s.$ref) { var n = refName(s.$ref); add(el("a", { href: "#schema-" + n, text: n })); return; }
      if (s.anyOf) {
        s.anyOf.forEach(function (a, i) { if (i) add(" | "); walk(a); });
        return;
      }
      if (s["const"] !== undefined) { add(JSON.stringify(s["const"])); return; }
      if (s["enum"]) { add(s["enum"].map(function (v) { return JSON.stringify(v); }).join(" | ")); return; }
      if (s.type === "array") {
        if (s.prefixItems) {
          add("[");
          s.prefixItems.forEach(function (a, i) { if (i) add(", "); walk(a); });
          add("]");
          return;
        }
        add("array of "); walk(s.items); return;
      }
      if (s.type === "object") {
        if (s.properties) {
          add("{");
          Object.keys(s.properties).forEach(function (k, i) { if (i) add(", "); add(k + ": "); walk(s.properties[k]); });
          add("}");
          return;
        }
        if (s.additionalProperties && s.additionalProperties !== true) { add("object of "); walk(s.additionalProperties); return; }
        add("object"); return;
      }
      add(String(s.type || "any"));
      if (s.format) add(" (" + s.format + ")");
    }
    walk(s);
    return span;
  }

  function notes(s) {
    var out = [];
    if (!s) return "";
    if (s.description) out.push(s.description);
    if (s["default"] !== undefined) out.push("default " + JSON.stringify(s["default"]));
    ["minimum", "maximum", "minLength", "maxLength"].forEach(function (k) {
      if (s[k] !== undefined) out.push(k + " " + s[k]);
    });
    return out.join("; ");
  }

  function propsTable(s) {
    var keys = s["x-order"] || Object.keys(s.properties || {});
    var req = s.required || [];
    var body = el("tbody");
    keys.forEach(function (k) {
      var p = s.properties[k];
      body.appendChild(el("tr", null, [
        el("td", null, [el("code", { text: k })]),
        el("td", null, [typeNode(p)]),
        el("td", { text: req.indexOf(k) >= 0 ? "required" : "" }),
        el("td", { text: notes(p) })
      ]));
    });
    return el("table", null, [
      el("thead", null, [el("tr", null, [el("th", { text: "field" }), el("th", { text: "type" }), el("th", { text: "" }), el("th", { text: "notes" })])]),
      body
    ]);
  }

  function contentRows(content) {
    var out = [];
    Object.keys(content || {}).forEach(function (mt) {
      out.push(el("p", null, [el("code", { text: mt }), " ", typeNode(content[mt].schema)]));
    });
    return out;
  }

  function renderOp(path, method, op) {
    var id = "op-" + op.operationId;
    var head = el("h3", null, [el("span", { cls: "method m-" + method, text: method.toUpperCase() }), path]);
    if (op["x-websocket"]) head.appendChild(el("span", { cls: "badge", text: "WebSocket" }));
    if (op["x-reachyd-extension"]) head.appendChild(el("span", { cls: "badge", text: "reachyd" }));
    if (op.security) head.appendChild(el("span", { cls: "badge", text: "auth" }));
    if (op["x-undocumented"]) head.appendChild(el("span", { cls: "badge", text: "undocumented" }));
    var art = el("article", { cls: "op", id: id }, [head, el("p", { cls: "summary", text: op.summary || "" })]);
    if (op.description) art.appendChild(el("p", { cls: "desc", text: op.description }));
    if (op.parameters && op.parameters.length) {
      var rows = el("tbody");
      op.parameters.forEach(function (p) {
        rows.appendChild(el("tr", null, [
          el("td", null, [el("code", { text: p.name })]),
          el("td", { text: p["in"] }),
          el("td", null, [typeNode(p.schema)]),
          el("td", { text: p.required ? "required" : "" }),
          el("td", { text: [p.description, notes(p.schema)].filter(Boolean).join("; ") })
        ]));
      });
      art.appendChild(el("h4", { text: "Parameters" }));
      art.appendChild(el("table", null, [rows]));
    }
    if (op.requestBody) {
      art.appendChild(el("h4", { text: "Body" + (op.requestBody.required ? "" : " (optional)") }));
      contentRows(op.requestBody.content).forEach(function (r) { art.appendChild(r); });
    }
    var codes = Object.keys(op.responses || {}).sort();
    if (codes.length) {
      var rbody = el("tbody");
      codes.forEach(function (code) {
        var r = op.responses[code];
        rbody.appendChild(el("tr", null, [
          el("td", null, [el("code", { text: code })]),
          el("td", { text: r.description || "" }),
          el("td", null, contentRows(r.content))
        ]));
      });
      art.appendChild(el("h4", { text: "Answers" }));
      art.appendChild(el("table", null, [rbody]));
    }
    art.setAttribute("data-search", [method, path, op.summary, op.description, (op.tags || []).join(" ")].join(" ").toLowerCase());
    return art;
  }

  function render(doc) {
    var info = doc.info || {};
    document.getElementById("title").textContent = (info.title || "API") + " API";
    document.getElementById("version").textContent = "Version " + (info.version || "") + " · OpenAPI " + (doc.openapi || "");
    document.getElementById("description").textContent = info.description || "";
    document.title = (info.title || "API") + " API";

    var tagDesc = {};
    var tagOrder = [];
    (doc.tags || []).forEach(function (t) { tagDesc[t.name] = t.description; tagOrder.push(t.name); });
    var byTag = {};
    var count = 0;
    Object.keys(doc.paths || {}).sort().forEach(function (path) {
      METHODS.forEach(function (m) {
        var op = doc.paths[path][m];
        if (!op) return;
        var tag = (op.tags && op.tags[0]) || "other";
        if (!byTag[tag]) { byTag[tag] = []; if (tagOrder.indexOf(tag) < 0) tagOrder.push(tag); }
        byTag[tag].push({ path: path, method: m, op: op });
        count++;
      });
    });

    var main = document.getElementById("content");
    var toc = document.getElementById("toc");
    main.textContent = "";
    toc.textContent = "";
    tagOrder.forEach(function (tag) {
      var ops = byTag[tag];
      if (!ops) return;
      var sec = el("section", { cls: "tag", id: "tag-" + tag }, [el("h2", { text: tag })]);
      if (tagDesc[tag]) sec.appendChild(el("p", { text: tagDesc[tag] }));
      toc.appendChild(el("h2", null, [el("a", { href: "#tag-" + tag, text: tag })]));
      ops.forEach(function (o) {
        sec.appendChild(renderOp(o.path, o.method, o.op));
        toc.appendChild(el("a", { href: "#op-" + o.op.operationId, "data-op": "op-" + o.op.operationId, title: o.method.toUpperCase() + " " + o.path },
          [el("span", { cls: "method m-" + o.method, text: o.method.toUpperCase() }), o.path]));
      });
      main.appendChild(sec);
    });

    var schemas = (doc.components && doc.components.schemas) || {};
    var ssec = el("section", { cls: "tag", id: "schemas" }, [el("h2", { text: "Schemas" })]);
    toc.appendChild(el("h2", null, [el("a", { href: "#schemas", text: "schemas" })]));
    Object.keys(schemas).sort().forEach(function (name) {
      var s = schemas[name];
      var art = el("article", { cls: "op", id: "schema-" + name }, [el("h3", { text: name })]);
      if (s.description) art.appendChild(el("p", { cls: "desc", text: s.description }));
      if (s.properties) art.appendChild(propsTable(s));
      else art.appendChild(el("p", null, [typeNode(s)]));
      art.setAttribute("data-search", ("schema " + name + " " + (s.description || "")).toLowerCase());
      ssec.appendChild(art);
      toc.appendChild(el("a", { href: "#schema-" + name, "data-op": "schema-" + name, text: name }));
    });
    main.appendChild(ssec);

    var filter = document.getElementById("filter");
    filter.addEventListener("input", function () {
      var q = filter.value.trim().toLowerCase();
      Array.prototype.forEach.call(document.querySelectorAll("article.op"), function (a) {
        var hide = q !== "" && a.getAttribute("data-search").indexOf(q) < 0;
        a.classList.toggle("hidden", hide);
        var link = toc.querySelector('[data-op="' + a.id + '"]');
        if (link) link.classList.toggle("hidden", hide);
      });
    });

    document.body.setAttribute("data-rendered", String(count));
    if (location.hash) {
      var target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
      if (target) target.scrollIntoView();
    }
  }

  function start() {
    fetch("/openapi.json", { headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) throw new Error("/openapi.json answered " + r.status);
        return r.json();
      })
      .then(render)
      .catch(function (e) { fail(String(e && e.message ? e.message : e)); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
