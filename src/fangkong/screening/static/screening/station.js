/* Scan stations (采样点扫码页, 装箱): one input keeps the focus; Enter sends one small POST.
 *
 * The server answers with a partial that replaces the live panel; its #station-state
 * element carries the station's state: data-set-<name> values go into the form's hidden
 * inputs of that name (the open tube, the current box), data-mode switches what the input
 * expects (tube, person, confirm, box ...), data-pending holds a typed barcode waiting to
 * be typed again. Scans are sent one at a time, in order: a scanner is faster than the
 * network, and each answer may change the state the next scan needs.
 *
 * "Typed or scanned": a keyboard-wedge scanner sends its characters a few ms apart; a
 * person types 100 ms or more apart. The median gap between keystrokes decides. Text that
 * arrived without keystrokes (a camera scanner app, a paste) counts as scanned.
 * No sounds: every answer is visual.
 */
(function () {
  "use strict";
  var SCANNER_GAP_MS = 30;
  var form = document.querySelector("[data-station-form]");
  if (!form || !window.fetch) return;
  var input = form.querySelector("[data-station-input]");
  var live = document.getElementById(form.getAttribute("data-live"));
  var container = form.closest(".fk-station") || document.body;
  var queue = [];
  var busy = false;
  var keys = [];
  var mode = "";
  var pending = "";

  function hidden(name) {
    return form.querySelector("input[type=hidden][name='" + name + "']");
  }
  function setHidden(name, value) {
    var el = hidden(name);
    if (el) el.value = value;
  }
  function csrf() {
    var el = form.querySelector("input[name=csrfmiddlewaretoken]");
    return el ? el.value : "";
  }

  function typedByHand(value) {
    if (keys.length < 2 || keys.length < value.length / 2) return false;
    var gaps = [];
    for (var i = 1; i < keys.length; i++) gaps.push(keys[i] - keys[i - 1]);
    gaps.sort(function (a, b) { return a - b; });
    return gaps[Math.floor(gaps.length / 2)] > SCANNER_GAP_MS;
  }

  function applyState() {
    var state = live.querySelector("#station-state");
    if (!state) return;
    for (var i = 0; i < state.attributes.length; i++) {
      var attr = state.attributes[i];
      if (attr.name.indexOf("data-set-") === 0) {
        var name = attr.name.slice(9);
        setHidden(name, attr.value);
        container.querySelectorAll("form input[type=hidden][name='" + name + "']").forEach(function (el) {
          el.value = attr.value;
        });
      }
    }
    mode = state.getAttribute("data-mode") || "";
    pending = state.getAttribute("data-pending") || "";
    var placeholder = input.getAttribute("data-placeholder-" + mode);
    if (placeholder) input.placeholder = placeholder;
    container.querySelectorAll("[data-show-mode]").forEach(function (el) {
      el.hidden = el.getAttribute("data-show-mode").split(" ").indexOf(mode) < 0;
    });
    container.setAttribute("data-mode", mode);
  }

  function showError(message) {
    live.querySelectorAll("[data-testid=station-result]").forEach(function (el) { el.remove(); });
    var div = document.createElement("div");
    div.className = "fk-result fk-result-error fk-flash";
    div.setAttribute("data-testid", "station-result");
    div.setAttribute("data-level", "error");
    div.setAttribute("role", "status");
    var icon = document.createElement("div");
    icon.className = "fk-result-icon";
    icon.textContent = "\u2717";
    var body = document.createElement("div");
    body.className = "fk-result-body";
    body.textContent = message;
    div.appendChild(icon);
    div.appendChild(body);
    live.insertBefore(div, live.firstChild);
  }

  function flash() {
    var result = live.querySelector(".fk-result");
    if (result) result.classList.add("fk-flash");
  }

  function refocus() {
    var active = document.activeElement;
    if (active && active !== input && active !== document.body && active.closest("[data-walk-in-form], .fk-remove, select")) return;
    input.focus();
  }

  function post(url, data, onDone) {
    data.set("csrfmiddlewaretoken", csrf());
    var started = window.performance ? performance.now() : Date.now();
    return fetch(url, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-Station": "1", "X-CSRFToken": csrf() }
    }).then(function (response) {
      var elapsed = Math.round((window.performance ? performance.now() : Date.now()) - started);
      container.setAttribute("data-last-rtt", String(elapsed));
      if (response.redirected && response.url.indexOf("/accounts/login/") >= 0) {
        showError(form.getAttribute("data-msg-login"));
        return;
      }
      var part = response.headers.get("X-Station-Part");
      if (!part) {
        showError(form.getAttribute(response.status === 403 || response.status === 404 ? "data-msg-denied" : "data-msg-failed"));
        return;
      }
      return response.text().then(function (html) {
        onDone(part, html);
      });
    }).catch(function () {
      showError(form.getAttribute("data-msg-failed"));
    });
  }

  function swapLive(part, html) {
    if (part !== "live") return false;
    live.innerHTML = html;
    applyState();
    flash();
    return true;
  }

  // A job is built when its turn comes, so it sees the state the answers before it set.
  function next() {
    if (busy || !queue.length) return;
    busy = true;
    var job = queue.shift()();
    if (!job) { busy = false; next(); return; }
    post(job.url, job.data, job.done || swapLive).then(function () {
      busy = false;
      refocus();
      next();
    });
  }

  function enqueue(build) {
    queue.push(build);
    next();
  }

  function baseData() {
    var data = new FormData(form);
    data.set("code", "");
    data.set("typed", "");
    data.set("confirm", "");
    data.set("reason", "");
    return data;
  }

  input.addEventListener("keydown", function (event) {
    if (event.key && event.key.length === 1) keys.push(event.timeStamp || Date.now());
  });
  input.addEventListener("input", function () {
    if (!input.value) keys = [];
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var value = input.value;
    var typed = typedByHand(value);
    keys = [];
    input.value = "";
    if (!value.trim()) { input.focus(); return; }
    enqueue(function () {
      var data = baseData();
      if (mode === "confirm" && pending && typed) {
        data.set("code", pending);
        data.set("confirm", value);
        data.set("typed", "1");
      } else {
        data.set("code", value);
        data.set("typed", typed ? "1" : "");
      }
      pending = "";
      return { url: form.action, data: data };
    });
  });

  function actionJob(button) {
    var action = button.getAttribute("data-action");
    var data = baseData();
    var url = form.getAttribute("data-url-" + action);
    if (action === "reason") {
      data.set("code", button.getAttribute("data-code"));
      data.set("name", button.getAttribute("data-name") || "");
      data.set("reason", button.getAttribute("data-reason"));
      url = form.action;
    } else if (action === "remove") {
      var details = button.closest("details");
      var select = details ? details.querySelector("[data-remove-reason]") : null;
      data.set("sample", button.getAttribute("data-sample") || "");
      data.set("item", button.getAttribute("data-item") || "");
      data.set("reason", select ? select.value : "");
    } else if (action === "capacity") {
      var box = button.closest("details");
      var choice = box ? box.querySelector("[data-capacity]") : null;
      data.set("capacity", choice ? choice.value : "");
    } else if (action === "select") {
      data.set("box", "");
      data.set("code", button.getAttribute("data-code") || "");
      url = form.action;
    } else if (action === "finish") {
      data.set("finish", "1");
      url = form.action;
    }
    return url ? { url: url, data: data } : null;
  }

  container.addEventListener("click", function (event) {
    var button = event.target.closest("[data-action]");
    if (!button || !container.contains(button)) return;
    if (button.getAttribute("data-action") === "walk-in") {
      var walkIn = document.getElementById("walk-in");
      if (walkIn) {
        walkIn.open = true;
        var id = walkIn.querySelector("input[name=id_number]");
        if (id && button.getAttribute("data-id-number")) id.value = button.getAttribute("data-id-number");
        var name = walkIn.querySelector("input[name=name]");
        if (name) name.focus();
      }
      return;
    }
    event.preventDefault();
    enqueue(function () { return actionJob(button); });
  });

  document.addEventListener("submit", function (event) {
    var walkInForm = event.target.closest("[data-walk-in-form]");
    if (!walkInForm) return;
    event.preventDefault();
    var data = new FormData(walkInForm);
    enqueue(function () {
      data.set("tube", hidden("tube") ? hidden("tube").value : "");
      return { url: walkInForm.action, data: data, done: onWalkIn };
    });
    function onWalkIn(part, html) {
      if (part === "walkin") {
        var box = document.getElementById("walk-in-box");
        box.innerHTML = html;
        var invalid = box.querySelector(".is-invalid");
        if (invalid) invalid.focus();
        return;
      }
      swapLive(part, html);
      walkInForm.reset();
      var details = document.getElementById("walk-in");
      if (details) details.open = false;
      input.focus();
    }
  });

  input.addEventListener("blur", function () {
    window.setTimeout(function () {
      var active = document.activeElement;
      if (!active || active === document.body || active === document.documentElement) input.focus();
    }, 0);
  });
  container.addEventListener("click", function (event) {
    if (!event.target.closest("a, button, input, select, textarea, summary, label, details")) input.focus();
  });

  applyState();
  input.focus();
})();
