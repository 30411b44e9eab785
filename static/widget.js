/*
 * Provider Assistant chat widget. Embed with one tag:
 *   <script src="https://HOST/widget.js" defer
 *           data-region="Northwest" data-title="Provider Assistant" data-accent="#0b5cad"></script>
 * Plain JavaScript, no dependencies, no build step. Everything lives in a shadow root so the host
 * page's styles cannot reach in and ours cannot leak out. Text from answers and documents is only
 * ever set with textContent: nothing the server sends is parsed as HTML.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__providerAssistantLoaded) return;
  window.__providerAssistantLoaded = true;

  var API = new URL(script.getAttribute("src"), document.baseURI).origin;
  var REGION = script.dataset.region || null;
  var TITLE = script.dataset.title || "Provider Assistant";
  var ACCENT = /^#[0-9a-fA-F]{3,8}$/.test(script.dataset.accent || "") ? script.dataset.accent : "#0b5cad";
  var STORE = "provider-assistant:" + API;

  var CSS = [
    ":host{all:initial;position:fixed;right:20px;bottom:20px;z-index:2147483000;font:15px/1.45 system-ui,sans-serif;color:#1a1a1a}",
    "*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}",
    ".launcher{background:" + ACCENT + ";color:#fff;border:0;border-radius:28px;padding:14px 20px;font:600 15px system-ui,sans-serif;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25)}",
    ".launcher:focus-visible,button:focus-visible,a:focus-visible,textarea:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}",
    ".panel{display:none;flex-direction:column;width:380px;max-width:calc(100vw - 24px);height:560px;max-height:calc(100vh - 40px);background:#fff;border:1px solid #c8c8c8;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.3);overflow:hidden}",
    ".panel.open{display:flex}",
    "header{background:" + ACCENT + ";color:#fff;padding:10px 14px;display:flex;align-items:center;justify-content:space-between}",
    "header h2{font:600 16px system-ui,sans-serif;margin:0}",
    "header button{background:transparent;color:#fff;border:0;font-size:22px;cursor:pointer;line-height:1}",
    ".log{flex:1;overflow-y:auto;padding:12px;background:#f6f7f9}",
    ".msg{margin:0 0 12px;padding:10px 12px;border-radius:10px;max-width:92%;white-space:pre-wrap;word-wrap:break-word}",
    ".user{background:" + ACCENT + ";color:#fff;margin-left:auto}",
    ".bot{background:#fff;border:1px solid #d9dce1}",
    ".bot.urgent{border:2px solid #b00020;background:#fff5f5}",
    ".badge{display:inline-block;background:#b00020;color:#fff;font:700 12px system-ui,sans-serif;padding:2px 8px;border-radius:10px;margin-bottom:6px}",
    ".chips{display:flex;flex-wrap:wrap;gap:6px;margin-top:8px}",
    ".chip{display:inline-block;border:1px solid " + ACCENT + ";color:" + ACCENT + ";background:#fff;border-radius:14px;padding:3px 10px;font-size:13px;text-decoration:none;cursor:pointer}",
    ".contacts{margin-top:8px;font-size:14px}",
    ".contacts a{color:#0a4a8c;font-weight:600}",
    ".actions{display:flex;gap:8px;margin-top:8px;align-items:center;font-size:13px;color:#555}",
    ".actions button{border:1px solid #c8c8c8;background:#fff;border-radius:6px;padding:2px 8px;cursor:pointer;color:#1a1a1a}",
    ".actions button[aria-pressed=true]{background:#e7f0fb;border-color:" + ACCENT + "}",
    "form{display:flex;gap:8px;padding:10px;border-top:1px solid #d9dce1;background:#fff}",
    "textarea{flex:1;resize:none;height:44px;padding:8px;border:1px solid #8a8f98;border-radius:8px;font:15px system-ui,sans-serif;color:#1a1a1a}",
    "form button{background:" + ACCENT + ";color:#fff;border:0;border-radius:8px;padding:0 14px;font-weight:600;cursor:pointer}",
    ".escalate{margin:0 10px 10px;background:#fff;border:1px solid #8a8f98;border-radius:8px;padding:6px;cursor:pointer;color:#1a1a1a;font:14px system-ui,sans-serif}",
    ".note{font-size:13px;color:#444;padding:0 12px 8px}",
    "@media (max-width:480px){:host{right:0;bottom:0;left:0}.panel{width:100vw;max-width:100vw;height:100vh;max-height:100vh;border-radius:0}.launcher{position:fixed;right:12px;bottom:12px}}"
  ].join("\n");

  var host = document.createElement("div");
  host.id = "provider-assistant";
  document.body.appendChild(host);
  var root = host.attachShadow({ mode: "open" });
  var style = document.createElement("style");
  style.textContent = CSS;
  root.appendChild(style);

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text != null) node.textContent = text;
    return node;
  }

  var launcher = el("button", { "class": "launcher", type: "button", "aria-haspopup": "dialog",
                                "aria-expanded": "false", "aria-controls": "pa-panel" }, "Ask " + TITLE);
  var panel = el("section", { "class": "panel", id: "pa-panel", role: "dialog", "aria-modal": "false",
                              "aria-labelledby": "pa-title" });
  var header = el("header");
  header.appendChild(el("h2", { id: "pa-title" }, TITLE));
  var close = el("button", { type: "button", "aria-label": "Close chat" }, "\u00d7");
  header.appendChild(close);
  var log = el("div", { "class": "log", role: "log", "aria-live": "polite", "aria-relevant": "additions",
                        "aria-label": "Conversation" });
  var note = el("p", { "class": "note" }, "Answers come from the provider manual, with sources. Do not enter member names or ID numbers.");
  var form = el("form");
  var input = el("textarea", { "aria-label": "Your question", placeholder: "Ask about claims, authorizations, contacts\u2026", maxlength: "2000" });
  var send = el("button", { type: "submit" }, "Send");
  form.appendChild(input);
  form.appendChild(send);
  var escalate = el("button", { "class": "escalate", type: "button" }, "Talk to provider relations");
  panel.appendChild(header);
  panel.appendChild(log);
  panel.appendChild(note);
  panel.appendChild(form);
  panel.appendChild(escalate);
  root.appendChild(launcher);
  root.appendChild(panel);

  var state = load();

  function load() {
    try { return JSON.parse(localStorage.getItem(STORE)) || {}; } catch (e) { return {}; }
  }
  function save() {
    try { localStorage.setItem(STORE, JSON.stringify(state)); } catch (e) { /* private mode: no memory */ }
  }

  function open() {
    panel.classList.add("open");
    launcher.setAttribute("aria-expanded", "true");
    launcher.style.display = "none";
    input.focus();
  }
  function shut() {
    panel.classList.remove("open");
    launcher.setAttribute("aria-expanded", "false");
    launcher.style.display = "";
    launcher.focus();
  }
  launcher.addEventListener("click", open);
  close.addEventListener("click", shut);
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") { e.preventDefault(); shut(); } });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
  });

  function addUser(text) {
    log.appendChild(el("p", { "class": "msg user" }, text));
    log.scrollTop = log.scrollHeight;
  }

  function safeHref(scheme, value) {
    var clean = String(value || "").trim();
    if (scheme === "tel:") return /^[0-9()+.\-\s]{7,20}$/.test(clean) ? "tel:" + clean.replace(/[^0-9+]/g, "") : null;
    if (scheme === "mailto:") return /^[^\s@<>"]+@[^\s@<>"]+$/.test(clean) ? "mailto:" + clean : null;
    return null;
  }

  function botBubble() {
    var bubble = el("div", { "class": "msg bot" });
    var text = el("div", { "class": "text" });
    bubble.appendChild(text);
    log.appendChild(bubble);
    return { bubble: bubble, text: text };
  }

  function finish(view, answer) {
    if (answer.urgent) {
      view.bubble.classList.add("urgent");
      view.bubble.insertBefore(el("span", { "class": "badge", role: "status" }, "Urgent: act now"), view.text);
    }
    var chips = el("div", { "class": "chips", "aria-label": "Sources" });
    (answer.citations || []).forEach(function (c) {
      var label = "[" + c.n + "] " + (c.section || c.doc_title) + (c.printed_page ? " \u00b7 p. " + c.printed_page : "");
      var href = API + (String(c.url || "").charAt(0) === "/" ? c.url : "/docs/" + encodeURIComponent(c.doc_id));
      var chip = el("a", { "class": "chip", href: href, target: "_blank", rel: "noopener",
                           title: c.doc_title + (c.page ? ", PDF page " + c.page : "") }, label);
      chips.appendChild(chip);
    });
    if (chips.childNodes.length) view.bubble.appendChild(chips);
    var contacts = el("div", { "class": "contacts" });
    (answer.contacts || []).forEach(function (c) {
      var line = el("div");
      line.appendChild(document.createTextNode((c.department || "Contact") + ": "));
      [["tel:", c.phone], ["mailto:", c.email]].forEach(function (pair, i) {
        var href = safeHref(pair[0], pair[1]);
        if (!href) return;
        if (line.childNodes.length > 1) line.appendChild(document.createTextNode(" \u00b7 "));
        line.appendChild(el("a", { href: href }, pair[1]));
      });
      contacts.appendChild(line);
    });
    if (contacts.childNodes.length) view.bubble.appendChild(contacts);
    if (answer.message_id) view.bubble.appendChild(feedbackRow(answer.message_id));
    if (answer.abstained) view.bubble.appendChild(offer());
    log.scrollTop = log.scrollHeight;
  }

  function offer() {
    var b = el("button", { type: "button", "class": "offer", style: "margin-top:8px;border:1px solid #8a8f98;background:#fff;border-radius:6px;padding:4px 10px;cursor:pointer" }, "Ask provider relations instead");
    b.addEventListener("click", function () { escalationForm(); });
    return b;
  }

  function feedbackRow(messageId) {
    var row = el("div", { "class": "actions" });
    row.appendChild(el("span", null, "Helpful?"));
    [["up", "Yes", "This answer helped"], ["down", "No", "This answer did not help"]].forEach(function (f) {
      var b = el("button", { type: "button", "aria-label": f[2], "aria-pressed": "false", "data-rating": f[0] }, f[1]);
      b.addEventListener("click", function () {
        fetch(API + "/api/feedback", { method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ message_id: messageId, rating: f[0] }) }).then(function (r) {
          if (r.ok) {
            row.querySelectorAll("button").forEach(function (x) { x.setAttribute("aria-pressed", "false"); });
            b.setAttribute("aria-pressed", "true");
            row.setAttribute("data-sent", f[0]);
            if (f[0] === "down" && !row.querySelector(".offer")) row.appendChild(offer());
          }
        });
      });
      row.appendChild(b);
    });
    return row;
  }

  function parseEvents(buffer, onEvent) {
    var parts = buffer.split("\n\n");
    var rest = parts.pop();
    parts.forEach(function (block) {
      var event = "message", data = "";
      block.split("\n").forEach(function (line) {
        if (line.indexOf("event:") === 0) event = line.slice(6).trim();
        else if (line.indexOf("data:") === 0) data += line.slice(5);
      });
      if (data) onEvent(event, JSON.parse(data));
    });
    return rest;
  }

  function ask(question, again) {
    if (!again) addUser(question);
    var view = botBubble();
    view.bubble.setAttribute("aria-busy", "true");
    var answer = { citations: [], contacts: [] };
    var retried = false;
    send.disabled = true;
    fetch(API + "/api/chat/stream", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ message: question, conversation_id: state.conversationId || null,
                             conversation_secret: state.conversationSecret || null, region: REGION })
    }).then(function (response) {
      if ((response.status === 403 || response.status === 404) && state.conversationId) {
        // the conversation is gone or no longer ours: start a new one and ask again
        delete state.conversationId; delete state.conversationSecret; save();
        retried = true;
        view.bubble.remove();
        ask(question, true);
        return;
      }
      if (!response.ok) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          throw new Error(typeof body.detail === "string" ? body.detail : "The service could not answer (" + response.status + ").");
        });
      }
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) return;
          buffer = parseEvents(buffer + decoder.decode(chunk.value, { stream: true }), function (event, data) {
            if (event === "meta") {
              answer.message_id = data.message_id; answer.urgent = data.urgent; answer.abstained = data.abstained;
              state.conversationId = data.conversation_id;
              if (data.conversation_secret) state.conversationSecret = data.conversation_secret;
              save();
            } else if (event === "delta") {
              view.text.textContent += data.text;
            } else if (event === "sources") {
              answer.citations = data.citations; answer.contacts = data.contacts;
            } else if (event === "error") {
              view.text.textContent = "Sorry, something went wrong. Please try again or contact provider relations.";
            }
          });
          return pump();
        });
      }
      return pump();
    }).then(function () {
      if (!retried) finish(view, answer);
    }).catch(function (err) {
      view.text.textContent = err && err.message ? err.message : "The service is not reachable right now.";
    }).then(function () {
      if (retried) return;
      view.bubble.removeAttribute("aria-busy");
      send.disabled = false;
      input.focus();
    });
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var question = input.value.trim();
    if (!question) return;
    input.value = "";
    ask(question);
  });

  function escalationForm() {
    var existing = log.querySelector("form.escalation");
    if (existing) { existing.querySelector("input").focus(); return; }
    var f = el("form", { "class": "msg bot escalation", "aria-label": "Contact provider relations" });
    f.appendChild(el("p", null, "Provider relations will follow up on this conversation. How can they reach you?"));
    var fields = [["name", "Your name", "text", true], ["organisation", "Practice or organisation", "text", true],
                  ["phone", "Phone", "tel", false], ["email", "E-mail", "email", false],
                  ["note", "What do you need? (no member names or ID numbers)", "text", false]];
    var inputs = {};
    fields.forEach(function (fd) {
      var label = el("label", { style: "display:block;margin:4px 0;font-size:13px" }, fd[1]);
      var field = el("input", { name: fd[0], type: fd[2], style: "display:block;width:100%;padding:6px;border:1px solid #8a8f98;border-radius:6px" });
      if (fd[3]) field.required = true;
      label.appendChild(field);
      f.appendChild(label);
      inputs[fd[0]] = field;
    });
    var submit = el("button", { type: "submit", style: "margin-top:8px;background:" + ACCENT + ";color:#fff;border:0;border-radius:6px;padding:6px 12px;cursor:pointer" }, "Send to provider relations");
    var status = el("p", { role: "status", "class": "escalation-status" });
    f.appendChild(submit);
    f.appendChild(status);
    f.addEventListener("submit", function (e) {
      e.preventDefault();
      var body = { conversation_id: state.conversationId || null,
                   conversation_secret: state.conversationId ? state.conversationSecret || null : null,
                   name: inputs.name.value.trim(),
                   organisation: inputs.organisation.value.trim(), phone: inputs.phone.value.trim() || null,
                   email: inputs.email.value.trim() || null, note: inputs.note.value };
      submit.disabled = true;
      fetch(API + "/api/escalate", { method: "POST", headers: { "Content-Type": "application/json" },
                                     body: JSON.stringify(body) })
        .then(function (r) { return r.json().then(function (data) { return { ok: r.ok, data: data }; }); })
        .then(function (res) {
          if (res.ok) {
            status.textContent = "Sent. Your reference number is " + res.data.reference + ".";
            f.setAttribute("data-reference", res.data.reference);
          } else {
            submit.disabled = false;
            status.textContent = typeof res.data.detail === "string" ? res.data.detail : "Please add your name, organisation and a phone number or e-mail.";
          }
        })
        .catch(function () { submit.disabled = false; status.textContent = "Could not send right now."; });
    });
    log.appendChild(f);
    log.scrollTop = log.scrollHeight;
    inputs.name.focus();
  }
  escalate.addEventListener("click", escalationForm);

  function restore() {
    if (!state.conversationId) return;
    fetch(API + "/api/conversations/" + encodeURIComponent(state.conversationId),
          { headers: { "X-Conversation-Secret": state.conversationSecret || "" } }).then(function (r) {
      if (!r.ok) { delete state.conversationId; delete state.conversationSecret; save(); return null; }
      return r.json();
    }).then(function (body) {
      if (!body) return;
      body.messages.forEach(function (m) {
        addUser(m.question);
        var view = botBubble();
        view.text.textContent = m.answer.answer;
        finish(view, Object.assign({ message_id: m.message_id }, m.answer));
      });
    });
  }
  restore();
})();
