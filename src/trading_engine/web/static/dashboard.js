// Actions (retrain, rollback) through the API's own endpoints, and a running job's live panel.
// With an API token set, the token is asked for once and kept in this tab's sessionStorage.
(function () {
  "use strict";
  const TOKEN = "trading-engine.token";
  const JOB = "trading-engine.job";
  const tokenRequired = document.body.dataset.tokenRequired === "true";

  function say(text, kind) {
    const box = document.getElementById("action-message");
    box.textContent = text;
    box.className = "message " + (kind || "");
  }

  function askToken() {
    const dialog = document.getElementById("token-dialog");
    const form = document.getElementById("token-form");
    const input = document.getElementById("token-input");
    input.value = "";
    return new Promise((resolve) => {
      const done = (value) => {
        form.removeEventListener("submit", onSubmit);
        document.getElementById("token-cancel").removeEventListener("click", onCancel);
        dialog.removeEventListener("cancel", onCancel);
        if (dialog.open) dialog.close();
        resolve(value);
      };
      const onSubmit = (event) => { event.preventDefault(); done(input.value.trim() || null); };
      const onCancel = (event) => { event.preventDefault(); done(null); };
      form.addEventListener("submit", onSubmit);
      document.getElementById("token-cancel").addEventListener("click", onCancel);
      dialog.addEventListener("cancel", onCancel);
      dialog.showModal();
      input.focus();
    });
  }

  async function headers() {
    const result = { "Content-Type": "application/json" };
    if (tokenRequired) {
      let token = sessionStorage.getItem(TOKEN);
      if (!token) {
        token = await askToken();
        if (token) sessionStorage.setItem(TOKEN, token);
      }
      if (token) result.Authorization = "Bearer " + token;
    }
    return result;
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: await headers(),
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = { message: response.statusText }; }
    if (response.status === 401) sessionStorage.removeItem(TOKEN);  // ask again next time
    return { ok: response.ok, status: response.status, data: data };
  }

  function refreshMain() {
    const url = window.location.pathname + window.location.search;
    return htmx.ajax("GET", url, { target: "#main", select: "#main", swap: "outerHTML" }).then(() => {
      fetch("/api/ml/retraining/status").then((r) => r.json()).then((status) => {
        const live = document.getElementById("live-version");
        if (live && status.production_version) {
          live.textContent = status.production_version;
          live.href = "/versions/" + encodeURIComponent(status.production_version);
        }
      });
    });
  }

  function watchJob(jobId) {
    sessionStorage.setItem(JOB, jobId);
    const panel = document.getElementById("job-panel");
    panel.innerHTML = "";
    const holder = document.createElement("div");
    holder.className = "job queued";
    holder.textContent = "Retrain job " + jobId + " started…";
    holder.setAttribute("hx-get", "/ui/jobs/" + encodeURIComponent(jobId));
    holder.setAttribute("hx-trigger", "load");
    holder.setAttribute("hx-swap", "outerHTML");
    panel.appendChild(holder);
    htmx.process(holder);
  }

  function refused(result) {
    const message = result.data.message || ("HTTP " + result.status);
    const hint = result.status === 401 ? " (the token was not accepted; you will be asked again)" : "";
    say("Refused: " + message + hint, "error");
  }

  async function retrain(form) {
    const query = new URLSearchParams();
    if (form.elements.force && form.elements.force.checked) query.set("force", "true");
    if (form.elements.full && form.elements.full.checked) query.set("full", "true");
    const search = query.toString();
    const result = await post("/api/ml/retraining/trigger" + (search ? "?" + search : ""));
    if (!result.ok) return refused(result);
    say("Retrain job " + result.data.job_id + " started.", "ok");
    watchJob(result.data.job_id);
  }

  async function rollback(form) {
    const body = {};
    if (form.elements.version && form.elements.version.value) body.version = form.elements.version.value;
    if (form.elements.expected_version && form.elements.expected_version.value) {
      body.expected_version = form.elements.expected_version.value;
    }
    const result = await post("/api/ml/retraining/rollback", body);
    if (!result.ok) return refused(result);
    say(result.data.message, "ok");
    await refreshMain();
  }

  const ACTIONS = { retrain: retrain, rollback: rollback };

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    const action = form.dataset && ACTIONS[form.dataset.action];
    if (!action) return;
    event.preventDefault();
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    try {
      await action(form);
    } catch (error) {
      say("Failed: " + error, "error");
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  });

  document.addEventListener("htmx:afterSwap", () => {
    const final = document.querySelector("#job-panel [data-final]:not([data-seen])");
    if (!final) return;
    final.dataset.seen = "1";
    sessionStorage.removeItem(JOB);
    refreshMain();
  });

  document.addEventListener("DOMContentLoaded", () => {
    const pending = sessionStorage.getItem(JOB);
    if (pending) watchJob(pending);
  });
})();
