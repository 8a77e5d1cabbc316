// Cairn's web app: the small script behind the server-rendered pages. Every write goes to
// /api/v1 with the session's CSRF token; text from the server is only ever set as textContent.
"use strict";

(function () {
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";

  // ---------- helpers ----------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(method, path, body, extraHeaders) {
    const headers = Object.assign({ Accept: "application/json" }, extraHeaders || {});
    if (method !== "GET") headers["X-CSRF-Token"] = csrf;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch("/api/v1" + path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401 && document.body.dataset.page !== "signin") {
      location.href = "/signin?next=" + encodeURIComponent(location.pathname + location.search);
      throw new ApiError(401, "unauthenticated", "signed out");
    }
    if (!response.ok) {
      let code = "error";
      let message = response.status + " " + response.statusText;
      try {
        const data = await response.json();
        if (data && data.error) {
          code = data.error.code;
          message = data.error.message;
        }
      } catch (_) { /* not JSON */ }
      throw new ApiError(response.status, code, message);
    }
    if (response.status === 204) return null;
    const type = response.headers.get("content-type") || "";
    return type.includes("json") ? response.json() : response;
  }

  function toast(message) {
    const box = document.getElementById("toast");
    if (!box) return;
    box.textContent = message;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { box.textContent = ""; }, 4000);
  }

  function setStatus(node, message, kind) {
    if (!node) return;
    node.textContent = message;
    node.classList.remove("ok", "error");
    if (kind) node.classList.add(kind);
  }

  function splitList(text) {
    return text.split(",").map((part) => part.trim()).filter((part) => part.length > 0);
  }

  function checkedValues(form, name) {
    return Array.from(form.querySelectorAll('input[name="' + name + '"]:checked')).map((input) => input.value);
  }

  function busy(button, on) {
    if (!button) return;
    button.disabled = on;
    button.setAttribute("aria-busy", on ? "true" : "false");
  }

  function formatTime(ms) {
    const date = new Date(ms);
    const pad = (n) => String(n).padStart(2, "0");
    return date.getUTCFullYear() + "-" + pad(date.getUTCMonth() + 1) + "-" + pad(date.getUTCDate()) +
      " " + pad(date.getUTCHours()) + ":" + pad(date.getUTCMinutes());
  }

  function resultTable(columns, rows, truncated) {
    const table = el("table", { class: "table" },
      el("caption", { class: "visually-hidden", text: "Query result" }),
      el("thead", {}, el("tr", {}, ...columns.map((name) => el("th", { scope: "col", text: name })))),
      el("tbody", {}, ...rows.map((row) => el("tr", {}, ...row.map((cell) =>
        el("td", { text: cell === null ? "NULL" : (typeof cell === "object" ? JSON.stringify(cell) : String(cell)) }))))));
    const wrap = el("div", { class: "table-scroll sql-table", tabindex: "0", role: "region", "aria-label": "Query result, scrolls sideways" }, table);
    const note = el("p", { class: "muted small", text: rows.length + (rows.length === 1 ? " row" : " rows") + (truncated ? " (truncated at the row limit)" : "") + ", shown to you only." });
    return el("div", {}, wrap, note);
  }

  // ---------- everywhere ----------
  document.addEventListener("keydown", (event) => {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    const typing = target instanceof HTMLElement &&
      (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
    if (typing) return;
    const box = document.getElementById("search-q") || document.getElementById("global-q");
    if (box) {
      event.preventDefault();
      box.focus();
      box.select();
    }
  });

  const signOut = document.getElementById("sign-out");
  if (signOut) {
    signOut.addEventListener("click", async () => {
      try { await api("DELETE", "/session"); } catch (_) { /* gone already */ }
      location.href = "/signin";
    });
  }

  // ---------- sign in ----------
  const signInForm = document.getElementById("signin-form");
  if (signInForm) {
    signInForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = document.getElementById("signin-error");
      const button = signInForm.querySelector('button[type="submit"]');
      error.textContent = "";
      const body = {
        email: signInForm.email.value.trim(),
        password: signInForm.password.value,
      };
      const workspace = signInForm.workspace.value.trim();
      if (workspace) body.workspace = workspace;
      if (!body.email || !body.password) {
        error.textContent = "Enter your e-mail and password.";
        return;
      }
      busy(button, true);
      try {
        await api("POST", "/session", body);
        const next = signInForm.dataset.next || "/";
        location.href = next.startsWith("/") && !next.startsWith("//") ? next : "/";
      } catch (failure) {
        error.textContent = failure.status === 429
          ? "Too many attempts. Wait a little and try again."
          : "Wrong e-mail, password or workspace.";
        busy(button, false);
      }
    });
  }

  // ---------- the AI page ----------
  const askForm = document.getElementById("ask-form");
  const thread = document.getElementById("thread");
  const historyList = document.getElementById("history-list");

  function refreshHistoryEmpty() {
    if (!historyList) return;
    const none = historyList.children.length === 0;
    document.getElementById("history-empty").hidden = !none;
    document.getElementById("clear-history").hidden = none;
  }

  function historyItem(promptId, threadId, question, at) {
    const label = question.length > 90 ? question.slice(0, 89) + "…" : question;
    const remove = el("button", {
      type: "button", class: "icon-button", "data-delete-prompt": promptId,
      "aria-label": "Delete prompt: " + label, title: "Delete",
    });
    remove.innerHTML = '<svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" focusable="false"><path d="M6 6l12 12M18 6L6 18" stroke="currentColor" stroke-width="2" stroke-linecap="round"></path></svg>';
    return el("li", { class: "history-item current", "data-prompt-id": promptId, "data-thread-id": threadId },
      el("a", { href: "/?thread=" + threadId + "#prompt-" + promptId },
        el("span", { class: "history-q", text: label }),
        el("span", { class: "history-time", text: formatTime(at) })),
      remove);
  }

  function sentDisclosure(provider, promptId) {
    const details = el("details", { class: "sent" }, el("summary", { text: "What was sent" }));
    if (provider === "builtin") {
      details.append(el("p", { class: "nothing-sent", text: "Nothing left this server: the built-in assistant answered offline, with no entry on the egress ledger." }));
      return details;
    }
    let loaded = false;
    details.addEventListener("toggle", async () => {
      if (!details.open || loaded) return;
      loaded = true;
      const holder = el("div", {}, el("p", { class: "muted", text: "Loading the ledger entry…" }));
      details.append(holder);
      try {
        const entries = await api("GET", "/ai/history/" + promptId + "/egress");
        holder.replaceChildren();
        if (entries.length === 0) {
          holder.append(el("p", { class: "nothing-sent", text: "Nothing left this server for this answer: no entry on the egress ledger." }));
        }
        for (const entry of entries) {
          holder.append(el("dl", { class: "facts" },
            el("dt", { text: "Ledger entry" }), el("dd", { text: "#" + entry.id + " at " + formatTime(entry.at) }),
            el("dt", { text: "Provider" }), el("dd", { text: entry.provider + " · " + entry.model }),
            el("dt", { text: "Endpoint" }), el("dd", {}, el("code", { text: entry.endpoint })),
            el("dt", { text: "Region" }), el("dd", { text: entry.region || "unspecified" }),
            el("dt", { text: "Size" }), el("dd", { text: entry.bytes + " bytes, SHA-256 " + entry.body_sha256 })));
          let body = entry.body;
          try { body = JSON.stringify(JSON.parse(entry.body), null, 2); } catch (_) { /* as sent */ }
          holder.append(el("pre", { class: "code" }, el("code", { text: body })));
        }
      } catch (failure) {
        holder.replaceChildren(el("p", { class: "error", text: failure.message }));
      }
    });
    return details;
  }

  // An answer's text with its fenced code blocks set apart; only ever text nodes.
  function renderAnswer(container, text) {
    container.replaceChildren();
    text.split("```").forEach((part, index) => {
      if (index % 2 === 1) {
        const newline = part.indexOf("\n");
        const code = newline >= 0 && /^[A-Za-z0-9]*$/.test(part.slice(0, newline)) ? part.slice(newline + 1) : part;
        container.append(el("pre", { class: "code" }, el("code", { text: code.replace(/\s+$/, "") })));
      } else if (part.trim()) {
        container.append(el("span", { text: part.replace(/^\n+|\n+$/g, "") }));
      }
    });
  }

  function citationList(citations) {
    if (!citations || citations.length === 0) return null;
    return el("div", { class: "citations" },
      el("p", { class: "mini-head", text: "Sources" }),
      el("ul", {}, ...citations.map((citation) => el("li", {},
        el("a", { href: "/resources/" + encodeURIComponent(citation.id) },
          el("span", { class: "badge kind kind-" + citation.kind, text: citation.kind }),
          el("span", { class: "cite-name", text: citation.name }),
          el("span", { class: "cite-path", text: citation.path }))))));
  }

  function sqlBlock(sql) {
    if (!sql) return null;
    return el("div", { class: "sql-answer" },
      el("p", { class: "mini-head", text: "SQL" }),
      el("pre", { class: "code" }, el("code", { text: sql.sql })),
      resultTable(sql.columns || [], sql.rows || [], sql.truncated));
  }

  // Reads server-sent events from a fetch response: `event: NAME` / `data: JSON` blocks.
  async function readEvents(response, onEvent) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (value) buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let name = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length) onEvent(name, JSON.parse(data.join("\n")));
      }
      if (done) break;
    }
  }

  async function ask(question) {
    const welcome = document.getElementById("welcome");
    if (welcome) welcome.remove();
    const threadInput = document.getElementById("thread-id");
    const button = document.getElementById("ask-button");
    const text = el("div", { class: "answer-text" });
    const answer = el("div", { class: "answer streaming", "aria-busy": "true" },
      el("p", { class: "thinking" }, el("span", { class: "spinner", "aria-hidden": "true" }), "Looking through the catalog…"),
      text);
    const turn = el("article", { class: "turn" },
      el("div", { class: "question" }, el("p", { text: question })), answer);
    thread.append(turn);
    turn.scrollIntoView({ block: "start", behavior: "smooth" });
    busy(button, true);
    const body = { question };
    if (threadInput.value) body.thread_id = Number(threadInput.value);
    try {
      const response = await api("POST", "/ai/ask", body, { Accept: "text/event-stream" });
      const thinking = answer.querySelector(".thinking");
      let final = null;
      await readEvents(response, (name, data) => {
        if (thinking.isConnected) thinking.remove();
        if (name === "delta") text.textContent += data.text;
        if (name === "done") final = data;
      });
      if (!final) throw new Error("the answer ended early");
      renderAnswer(text, final.answer);
      answer.classList.remove("streaming");
      answer.removeAttribute("aria-busy");
      turn.id = "prompt-" + final.prompt_id;
      turn.dataset.promptId = final.prompt_id;
      const extras = [citationList(final.citations), sqlBlock(final.sql), sentDisclosure(final.provider, final.prompt_id)];
      for (const extra of extras) if (extra) answer.append(extra);
      threadInput.value = final.thread_id;
      history.replaceState(null, "", "/?thread=" + final.thread_id);
      if (historyList) {
        for (const item of historyList.querySelectorAll(".history-item.current")) {
          if (item.dataset.threadId !== String(final.thread_id)) item.classList.remove("current");
        }
        historyList.prepend(historyItem(final.prompt_id, final.thread_id, question, Date.now()));
        refreshHistoryEmpty();
      }
    } catch (failure) {
      answer.classList.remove("streaming");
      answer.removeAttribute("aria-busy");
      const thinking = answer.querySelector(".thinking");
      if (thinking) thinking.remove();
      answer.append(el("p", { class: "error", role: "alert", text: "No answer: " + failure.message }));
    } finally {
      busy(button, false);
    }
  }

  if (askForm) {
    const box = document.getElementById("question");
    askForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const question = box.value.trim();
      if (!question) { box.focus(); return; }
      box.value = "";
      ask(question);
    });
    box.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        askForm.requestSubmit();
      }
    });
    document.addEventListener("click", (event) => {
      const suggestion = event.target.closest("[data-question]");
      if (!suggestion) return;
      box.value = suggestion.dataset.question;
      box.focus();
    });
    if (!location.hash) box.focus();
  }

  if (historyList) {
    historyList.addEventListener("click", async (event) => {
      const button = event.target.closest("[data-delete-prompt]");
      if (!button) return;
      const id = button.dataset.deletePrompt;
      busy(button, true);
      try {
        await api("DELETE", "/ai/history/" + encodeURIComponent(id));
        const item = button.closest("li");
        const next = item.nextElementSibling || item.previousElementSibling;
        item.remove();
        const turn = document.getElementById("prompt-" + id);
        if (turn) turn.remove();
        refreshHistoryEmpty();
        toast("Prompt deleted.");
        const focusTarget = next ? next.querySelector("a") : document.getElementById("question");
        if (focusTarget) focusTarget.focus();
      } catch (failure) {
        busy(button, false);
        toast("Could not delete: " + failure.message);
      }
    });
    document.getElementById("clear-history").addEventListener("click", async () => {
      if (!confirm("Delete all your prompts? The assistant forgets them.")) return;
      try {
        await api("DELETE", "/ai/history");
        historyList.replaceChildren();
        refreshHistoryEmpty();
        toast("History cleared.");
        if (location.search.includes("thread=")) location.href = "/";
      } catch (failure) {
        toast("Could not clear: " + failure.message);
      }
    });
  }

  // "Run again" for SQL of earlier answers (results are never stored).
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-run-sql]");
    if (!button) return;
    const holder = button.parentElement.querySelector(".sql-result");
    busy(button, true);
    try {
      const result = await api("POST", "/sql", { integration_id: Number(button.dataset.integration), sql: button.dataset.runSql });
      holder.replaceChildren(resultTable(result.columns || [], result.rows || [], result.truncated));
    } catch (failure) {
      holder.replaceChildren(el("p", { class: "error", role: "alert", text: failure.message }));
    } finally {
      busy(button, false);
    }
  });

  // ---------- resource pages ----------
  const about = document.getElementById("about");
  if (about && document.getElementById("edit-resource")) {
    const id = about.dataset.resourceId;
    const editButton = document.getElementById("edit-resource");
    const editForm = document.getElementById("edit-form");
    const suggestion = document.getElementById("suggestion");
    const setEditing = (on) => {
      editForm.hidden = !on;
      editButton.setAttribute("aria-expanded", on ? "true" : "false");
      if (on) document.getElementById("edit-description").focus();
    };
    editButton.addEventListener("click", () => setEditing(editForm.hidden));
    document.getElementById("cancel-edit").addEventListener("click", () => { setEditing(false); editButton.focus(); });
    editForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = document.getElementById("edit-error");
      error.textContent = "";
      try {
        await api("PATCH", "/resources/" + id, {
          description: editForm.description.value,
          owners: splitList(editForm.owners.value),
          tags: splitList(editForm.tags.value),
        });
        location.reload();
      } catch (failure) {
        error.textContent = failure.message;
      }
    });
    const suggestButton = document.getElementById("suggest-description");
    suggestButton.addEventListener("click", async () => {
      busy(suggestButton, true);
      try {
        const draft = await api("POST", "/resources/" + id + "/describe");
        document.getElementById("suggestion-text").textContent = draft.description;
        document.getElementById("suggestion-source").textContent = draft.provider === "builtin"
          ? "Drafted offline from metadata; nothing left this server."
          : "Drafted by the workspace's model from metadata; the request is on the egress ledger.";
        suggestion.hidden = false;
        document.getElementById("accept-suggestion").focus();
      } catch (failure) {
        toast("No suggestion: " + failure.message);
      } finally {
        busy(suggestButton, false);
      }
    });
    document.getElementById("accept-suggestion").addEventListener("click", async () => {
      try {
        await api("PATCH", "/resources/" + id, { description: document.getElementById("suggestion-text").textContent });
        location.reload();
      } catch (failure) {
        toast("Could not save: " + failure.message);
      }
    });
    document.getElementById("discard-suggestion").addEventListener("click", () => {
      suggestion.hidden = true;
      suggestButton.focus();
    });
  }

  // ---------- settings: AI ----------
  const aiForm = document.getElementById("ai-settings");
  if (aiForm) {
    const openaiFields = document.getElementById("openai-fields");
    const showProvider = () => { openaiFields.hidden = !document.getElementById("provider-openai").checked; };
    for (const radio of aiForm.querySelectorAll('input[name="provider"]')) radio.addEventListener("change", showProvider);
    showProvider();
    aiForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const status = document.getElementById("ai-settings-status");
      const body = {
        run_sql_enabled: aiForm.run_sql_enabled.checked,
        pseudonymize_people: aiForm.pseudonymize_people.checked,
        region: aiForm.region.value.trim() || null,
        retention_days: aiForm.retention_days.value ? Number(aiForm.retention_days.value) : null,
      };
      if (document.getElementById("provider-openai").checked) {
        body.provider = {
          kind: "openai",
          base_url: aiForm.base_url.value.trim(),
          model: aiForm.model.value.trim(),
          region: aiForm.provider_region.value.trim() || null,
        };
        if (aiForm.api_key.value) body.provider.api_key = aiForm.api_key.value;
      } else {
        body.provider = { kind: "builtin" };
      }
      setStatus(status, "Saving…");
      try {
        await api("PUT", "/settings/ai", body);
        aiForm.api_key.value = "";
        setStatus(status, "Saved.", "ok");
      } catch (failure) {
        setStatus(status, failure.message, "error");
      }
    });
  }

  // ---------- settings: integrations ----------
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-sync]");
    if (!button) return;
    const id = button.dataset.sync;
    const progress = document.getElementById("sync-" + id);
    const started = Date.now();
    const bar = el("progress", { "aria-label": "Sync in progress" });
    const label = el("span", { text: "Starting… 0 s" });
    progress.replaceChildren(bar, label);
    const phases = { crawling: "Reading the database’s catalog", storing: "Storing what changed", indexing: "Updating search" };
    let phase = "crawling";
    const timer = setInterval(() => { label.textContent = (phases[phase] || phase) + "… " + Math.round((Date.now() - started) / 1000) + " s"; }, 500);
    busy(button, true);
    try {
      // The sync runs on the server in the background; its record tells the phase and the end.
      const begun = await api("POST", "/integrations/" + id + "/sync?wait=false");
      let state = begun;
      while (!state.finished_at) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        state = await api("GET", "/integrations/" + id + "/syncs/" + begun.sync_id);
        phase = state.phase;
      }
      if (state.phase !== "done") throw new Error(state.error || state.phase);
      const seconds = (state.elapsed_ms / 1000).toFixed(1);
      const chips = ["added", "changed", "removed"]
        .map((key) => el("span", { class: "badge", text: state[key] + " " + key }));
      progress.replaceChildren(el("strong", { class: "form-status ok", text: "Synced in " + seconds + " s" }), el("span", { class: "sync-counts" }, ...chips));
    } catch (failure) {
      progress.replaceChildren(el("span", { class: "form-status error", role: "alert", text: "Sync failed: " + failure.message }));
    } finally {
      clearInterval(timer);
      busy(button, false);
    }
  });

  for (const form of document.querySelectorAll(".permissions-form")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const status = form.querySelector(".form-status");
      try {
        await api("PUT", "/integrations/" + form.dataset.integration + "/permissions", {
          teams: checkedValues(form, "teams"),
          users: checkedValues(form, "users").map(Number),
        });
        setStatus(status, "Permissions saved.", "ok");
      } catch (failure) {
        setStatus(status, failure.message, "error");
      }
    });
  }

  for (const form of document.querySelectorAll(".dbt-form")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const status = form.querySelector(".form-status");
      const readJson = async (input) => {
        const file = input.files && input.files[0];
        if (!file) return undefined;
        try { return JSON.parse(await file.text()); } catch (_) { throw new Error(file.name + " is not JSON"); }
      };
      try {
        const manifest = await readJson(form.manifest);
        if (!manifest) throw new Error("choose a manifest.json");
        const body = { manifest };
        const catalog = await readJson(form.catalog);
        if (catalog) body.catalog = catalog;
        setStatus(status, "Importing…");
        const result = await api("POST", "/integrations/" + form.dataset.integration + "/dbt", body);
        let message = "Imported: " + result.matched + " of " + result.nodes + " models matched, " +
          result.columns_documented + " columns documented, " + result.lineage + " lineage links.";
        if (result.unmatched && result.unmatched.length) message += " Unmatched: " + result.unmatched.slice(0, 5).join(", ") + (result.unmatched.length > 5 ? "…" : "");
        setStatus(status, message, "ok");
      } catch (failure) {
        setStatus(status, failure.message, "error");
      }
    });
  }

  const addIntegration = document.getElementById("add-integration");
  if (addIntegration) {
    addIntegration.addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = document.getElementById("add-integration-error");
      error.textContent = "";
      try {
        await api("POST", "/integrations", {
          name: addIntegration.elements.namedItem("name").value.trim(),
          kind: addIntegration.kind.value,
          connection: addIntegration.connection.value,
          teams: checkedValues(addIntegration, "teams"),
        });
        location.reload();
      } catch (failure) {
        error.textContent = failure.message;
      }
    });
  }

  // ---------- settings: teams and people ----------
  document.addEventListener("change", async (event) => {
    const select = event.target.closest("[data-user-role]");
    if (!select) return;
    try {
      await api("PATCH", "/users/" + select.dataset.userRole, { role: select.value });
      toast("Role changed.");
    } catch (failure) {
      toast("Could not change the role: " + failure.message);
    }
  });

  document.addEventListener("click", async (event) => {
    const removeUser = event.target.closest("[data-delete-user]");
    if (removeUser) {
      if (!confirm("Remove " + removeUser.dataset.email + " and erase their prompts and tokens?")) return;
      try { await api("DELETE", "/users/" + removeUser.dataset.deleteUser); location.reload(); } catch (failure) { toast(failure.message); }
      return;
    }
    const removeMember = event.target.closest("[data-remove-member]");
    if (removeMember) {
      try {
        await api("DELETE", "/teams/" + removeMember.dataset.team + "/members/" + removeMember.dataset.removeMember);
        location.reload();
      } catch (failure) { toast(failure.message); }
      return;
    }
    const revoke = event.target.closest("[data-revoke-token]");
    if (revoke) {
      if (!confirm("Revoke this token? Scripts using it stop working.")) return;
      try { await api("DELETE", "/tokens/" + revoke.dataset.revokeToken); location.reload(); } catch (failure) { toast(failure.message); }
    }
  });

  for (const form of document.querySelectorAll(".add-team-member")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!form.user.value) return;
      try { await api("PUT", "/teams/" + form.dataset.team + "/members/" + form.user.value); location.reload(); } catch (failure) { toast(failure.message); }
    });
  }

  const addTeam = document.getElementById("add-team");
  if (addTeam) {
    addTeam.addEventListener("submit", async (event) => {
      event.preventDefault();
      try { await api("POST", "/teams", { name: addTeam.elements.namedItem("name").value.trim() }); location.reload(); } catch (failure) { toast(failure.message); }
    });
  }

  const addMember = document.getElementById("add-member");
  if (addMember) {
    addMember.addEventListener("submit", async (event) => {
      event.preventDefault();
      const status = document.getElementById("add-member-status");
      const body = {
        email: addMember.email.value.trim(),
        role: addMember.role.value,
        teams: checkedValues(addMember, "teams"),
      };
      if (addMember.elements.namedItem("name").value.trim()) body.name = addMember.elements.namedItem("name").value.trim();
      if (addMember.password.value) body.password = addMember.password.value;
      try {
        const created = await api("POST", "/users", body);
        const message = created.password
          ? "Added " + created.user.email + ". Their password, shown once: " + created.password
          : "Added " + created.user.email + ".";
        setStatus(status, message, "ok");
        addMember.reset();
      } catch (failure) {
        setStatus(status, failure.message, "error");
      }
    });
  }

  // ---------- settings: audit ----------
  const verify = document.getElementById("verify-audit");
  if (verify) {
    verify.addEventListener("click", async () => {
      const result = document.getElementById("verify-result");
      busy(verify, true);
      try {
        const check = await api("GET", "/audit/verify");
        if (check.ok) setStatus(result, "The chain holds: " + check.entries + " entries verified.", "ok");
        else setStatus(result, "The chain is broken at entry " + check.broken_at + ".", "error");
      } catch (failure) {
        setStatus(result, failure.message, "error");
      } finally {
        busy(verify, false);
      }
    });
  }

  // ---------- account ----------
  const createToken = document.getElementById("create-token");
  if (createToken) {
    createToken.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = {};
      if (createToken.elements.namedItem("name").value.trim()) body.name = createToken.elements.namedItem("name").value.trim();
      try {
        const token = await api("POST", "/tokens", body);
        const box = document.getElementById("new-token");
        const value = document.getElementById("new-token-value");
        value.value = token.token;
        box.hidden = false;
        value.focus();
        value.select();
      } catch (failure) {
        toast(failure.message);
      }
    });
  }
})();
