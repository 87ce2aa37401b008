// Small progressive enhancements; every page works as plain forms without this file.
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  // Provider-specific options: show the chosen provider's fieldset only.
  var select = document.querySelector("[data-provider-select]");
  if (select) {
    var note = document.querySelector("[data-default-url-note]");
    var sync = function () {
      document.querySelectorAll("[data-options-for]").forEach(function (set) {
        set.hidden = set.getAttribute("data-options-for") !== select.value;
      });
      if (note) {
        var url = select.options[select.selectedIndex].getAttribute("data-default-url");
        note.textContent = url ? " (" + url + ")" : " (this provider has none: give one)";
      }
    };
    select.addEventListener("change", sync);
    sync();
  }

  // Copy buttons for IDE snippets.
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var text = document.getElementById(button.getAttribute("data-copy")).textContent;
      var done = function () { button.textContent = "Copied"; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { button.textContent = "Copy failed: select the text"; });
      } else {
        var range = document.createRange();
        range.selectNodeContents(document.getElementById(button.getAttribute("data-copy")));
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        button.textContent = document.execCommand("copy") ? "Copied" : "Press Ctrl+C to copy";
      }
    });
  });

  // Forms that ask first (deleting a thread).
  document.querySelectorAll("form[data-confirm-submit]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm-submit"))) { event.preventDefault(); }
    });
  });

  // Preflight: each stage appears as it finishes (newline-delimited JSON from the daemon).
  var form = document.getElementById("preflight-form");
  if (!form) { return; }
  var live = document.getElementById("preflight-live");
  var tables = {};

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    if (cls) { node.className = cls; }
    return node;
  }
  function tableFor(name) {
    if (tables[name]) { return tables[name]; }
    live.appendChild(el("h2", name));
    var table = el("table", null, "data checks");
    table.setAttribute("data-connection", name);
    var head = el("tr");
    ["Stage", "Result", "Time", "Detail"].forEach(function (h) { var th = el("th", h); th.scope = "col"; head.appendChild(th); });
    table.appendChild(el("thead")).appendChild(head);
    tables[name] = table.appendChild(el("tbody"));
    live.appendChild(table);
    return tables[name];
  }
  function addCheck(name, check) {
    var row = el("tr", null, "check " + check.status);
    row.setAttribute("data-stage", check.name);
    var stage = el("th", check.name); stage.scope = "row";
    row.appendChild(stage);
    row.appendChild(el("td", check.status));
    row.appendChild(el("td", Math.round(check.duration_ms) + " ms"));
    var detail = el("td", check.message);
    if (check.kind) { detail.appendChild(el("br")); detail.appendChild(el("strong", check.kind)); }
    if (check.hint) { detail.appendChild(el("br")); detail.appendChild(el("span", "hint: " + check.hint, "hint")); }
    row.appendChild(detail);
    tableFor(name).appendChild(row);
  }
  function verdict(text, ok) {
    var p = el("p", text, ok ? "ok" : "bad");
    p.id = "preflight-verdict";
    live.insertBefore(p, live.firstChild);
  }
  function handle(line) {
    if (!line.trim()) { return; }
    var message = JSON.parse(line);
    if (message.type === "check") { addCheck(message.connection, message.check); }
    else if (message.type === "result") { verdict(message.result.ok ? "All checks passed." : "Preflight failed.", message.result.ok); }
    else if (message.type === "error") { verdict(message.kind + ": " + message.message + (message.hint ? " — hint: " + message.hint : ""), false); }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var probe = document.getElementById("probe");
    if (probe.checked && !window.confirm(probe.getAttribute("data-confirm"))) { return; }
    live.textContent = "";
    tables = {};
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/x-ndjson", "X-CSRF-Token": csrf},
      body: JSON.stringify({target: document.getElementById("target").value, probe: probe.checked}),
    }).then(function (response) {
      if (!response.ok) { return response.text().then(function (t) { verdict(t, false); }); }
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) { handle(buffer); return; }
          buffer += decoder.decode(chunk.value, {stream: true});
          var lines = buffer.split("\n");
          buffer = lines.pop();
          lines.forEach(handle);
          return pump();
        });
      }
      return pump();
    }).catch(function (error) {
      verdict("The daemon did not answer: " + error, false);
    }).finally(function () { button.disabled = false; });
  });
})();
