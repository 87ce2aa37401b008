// Exchange the one-time code in the address's fragment for a session cookie. The fragment is
// removed from the address bar and this history entry first, so the code is never kept.
(function () {
  "use strict";
  var status = document.getElementById("login-status");
  var token = window.location.hash.slice(1);
  if (!token) { return; }
  history.replaceState(null, "", window.location.pathname);
  status.textContent = "Signing in…";
  function say(text, hint) {
    status.textContent = "";
    var p = document.createElement("p");
    p.className = hint ? "bad" : "";
    p.textContent = text;
    status.appendChild(p);
    if (hint) {
      var h = document.createElement("p");
      h.className = "hint";
      h.textContent = "hint: " + hint;
      status.appendChild(h);
    }
  }
  fetch("/console/login", {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({token: token}),
    credentials: "same-origin",
  }).then(function (response) {
    return response.json().then(function (body) { return {ok: response.ok, body: body}; });
  }).then(function (answer) {
    if (answer.ok) {
      window.location.replace(answer.body.next);
    } else {
      say(answer.body.message || "Sign-in refused.", answer.body.hint);
    }
  }).catch(function () {
    say("The daemon did not answer.", "check that synapsed is running: `synapsectl status`");
  });
})();
