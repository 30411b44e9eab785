/* Provider-relations staff page. Everything from the server is shown with textContent: never HTML. Works under
   a strict CSP: no inline script or handler, and styles are set through classes or the CSSOM, never as strings. */
(function () {
  "use strict";
  var PAGE_SIZE = 50;
  var token = sessionStorage.getItem("pa-staff-token");
  var current = null;
  var page = { offset: 0, total: 0 };

  function $(id) { return document.getElementById(id); }
  function el(tag, text, attrs) {
    var n = document.createElement(tag);
    if (text != null) n.textContent = text;
    Object.keys(attrs || {}).forEach(function (k) { n.setAttribute(k, attrs[k]); });
    return n;
  }
  function describe(body, status) {
    var detail = body && body.detail;
    if (Array.isArray(detail)) return detail.map(function (d) { return d.msg || String(d); }).join("; ");
    return detail ? String(detail) : "The request failed (" + status + ").";
  }
  function api(path, options) {
    options = options || {};
    options.headers = Object.assign({ "Authorization": "Bearer " + token }, options.headers || {});
    return fetch(path, options).then(function (r) {
      if (r.status === 401) { signOut("Your token is not valid."); throw new Error("unauthorized"); }
      if (!r.ok) {
        return r.json().catch(function () { return null; })
          .then(function (b) { throw new Error(describe(b, r.status)); });
      }
      return r;
    });
  }
  function patchInquiry(id, body) {
    return api("/api/inquiries/" + id, { method: "PATCH", headers: { "Content-Type": "application/json" },
                                         body: JSON.stringify(body) }).then(function (r) { return r.json(); });
  }
  function signOut(message) {
    sessionStorage.removeItem("pa-staff-token"); token = null;
    $("app").classList.add("hidden"); $("signin").classList.remove("hidden");
    $("signin-error").textContent = message || "";
  }
  function filterParams() {
    var p = new URLSearchParams();
    if ($("f-status").value) p.set("status", $("f-status").value);
    if ($("f-category").value.trim()) p.set("category", $("f-category").value.trim());
    if ($("f-urgent").checked) p.set("urgent", "true");
    if ($("f-q").value.trim()) p.set("q", $("f-q").value.trim());
    return p;
  }
  function badge(text, cls, title) {
    var b = el("span", text, { "class": cls });
    if (title) b.setAttribute("title", title);
    return b;
  }
  function queueRow(q) {
    var tr = el("tr", null, { "class": "row" + (q.burst ? " burst-row" : ""), tabindex: "0",
                              "data-id": String(q.id) });
    if (q.burst) tr.setAttribute("data-burst", "true");
    tr.appendChild(el("td", q.reference));
    tr.appendChild(el("td", q.created.replace("T", " ").slice(0, 16)));
    var flags = el("td");
    if (q.urgent) flags.appendChild(badge("URGENT", "urgent"));
    if (q.burst) flags.appendChild(badge("burst", "burst", "One of many inquiries from the same client within an hour"));
    tr.appendChild(flags);
    tr.appendChild(el("td", q.status));
    tr.appendChild(el("td", q.category));
    tr.appendChild(el("td", q.organisation + " (" + q.name + ")"));
    tr.appendChild(el("td", q.note));
    tr.addEventListener("click", function () { openInquiry(q.id); });
    tr.addEventListener("keydown", function (e) { if (e.key === "Enter") openInquiry(q.id); });
    return tr;
  }
  function showPage(count) {
    var first = count ? page.offset + 1 : 0;
    $("page-info").textContent = count ? first + "–" + (page.offset + count) + " of " + page.total
                                       : (page.total ? "no inquiries on this page" : "no inquiries");
    $("prev").disabled = page.offset === 0;
    $("next").disabled = page.offset + count >= page.total;
  }
  function loadQueue() {
    var p = filterParams();
    p.set("limit", String(PAGE_SIZE));
    p.set("offset", String(page.offset));
    return api("/api/inquiries?" + p.toString()).then(function (r) { return r.json(); }).then(function (body) {
      var tbody = $("queue"); tbody.textContent = "";
      body.inquiries.forEach(function (q) { tbody.appendChild(queueRow(q)); });
      // a server without paging sends no total: then a full page means there may be more
      page.total = typeof body.total === "number" ? body.total
        : page.offset + body.inquiries.length + (body.inquiries.length >= PAGE_SIZE ? 1 : 0);
      showPage(body.inquiries.length);
    });
  }
  function bars(container, title, data) {
    container.appendChild(el("h3", title));
    var max = Math.max.apply(null, Object.values(data).concat([1]));
    Object.keys(data).forEach(function (k) {
      var row = el("div", null, { "class": "muted" });
      row.appendChild(el("span", k + " ", { "class": "bar-label" }));
      var bar = el("span", null, { "class": "bar" });
      bar.style.width = Math.round(200 * data[k] / max) + "px";  // CSSOM, allowed by a strict style-src
      row.appendChild(bar);
      row.appendChild(el("span", " " + data[k]));
      container.appendChild(row);
    });
  }
  function loadAnalytics() {
    return api("/api/staff/analytics").then(function (r) { return r.json(); }).then(function (a) {
      var box = $("analytics"); box.textContent = "";
      var line = a.questions + " questions · abstention rate " + (100 * a.abstention_rate).toFixed(1) +
        "% · thumbs-down rate " + (100 * a.thumbs_down_rate).toFixed(1) + "%";
      if (a.feedback) line += " · rated " + a.feedback.up + " up, " + a.feedback.down + " down";
      box.appendChild(el("p", line));
      bars(box, "Questions per day", a.questions_per_day);
      bars(box, "Inquiries by category", a.inquiries_by_category);
      box.appendChild(el("h3", "Top unanswered questions"));
      var ul = el("ul"); a.top_unanswered.forEach(function (t) { ul.appendChild(el("li", t.question + " (" + t.count + ")")); });
      box.appendChild(ul);
    });
  }
  function openInquiry(id) {
    return api("/api/inquiries/" + id).then(function (r) { return r.json(); }).then(renderDetail);
  }
  function afterUpdate(updated) { renderDetail(updated); return loadQueue(); }
  function showError(err) {
    var box = $("action-error");
    if (box) box.textContent = err && err.message !== "unauthorized" ? err.message : "";
  }
  function renderReply(d, q) {
    if (!q.reply) return;
    d.appendChild(el("p", "Reply" + (q.reply_approved ? " (approved answer)" : "") + ": " + q.reply,
                     { id: "d-reply" }));
    if (!q.reply_approved) return;
    var withdraw = el("button", "Withdraw approved answer", { type: "button", id: "a-withdraw", "class": "secondary" });
    withdraw.addEventListener("click", function () {
      withdraw.disabled = true;
      patchInquiry(q.id, { approved: false }).then(afterUpdate).catch(function (err) {
        withdraw.disabled = false; showError(err);
      });
    });
    var p = el("p", null, { "class": "muted" });
    p.appendChild(withdraw);
    p.appendChild(document.createTextNode(" The assistant stops serving this reply; the reply itself stays."));
    d.appendChild(p);
  }
  function renderHistory(d, q) {
    if (!q.audit || !q.audit.length) return;
    d.appendChild(el("h4", "History"));
    var ul = el("ul", null, { "class": "history muted" });
    q.audit.forEach(function (a) {
      var text = a.created.replace("T", " ").slice(0, 16) + " · " + a.actor + " · " + a.action.replace(/_/g, " ");
      if (a.detail && a.detail.note) text += ": " + a.detail.note;
      ul.appendChild(el("li", text));
    });
    d.appendChild(ul);
  }
  function actionsForm(q) {
    var form = el("form", null, { id: "actions" });
    var status = el("select", null, { id: "a-status" });
    ["new", "in_progress", "resolved"].forEach(function (s) { var o = el("option", s); o.value = s; if (s === q.status) o.selected = true; status.appendChild(o); });
    var l1 = el("label", "Status "); l1.appendChild(status); form.appendChild(l1);
    var assign = el("input", null, { id: "a-assign" }); assign.value = q.assigned_to || "";
    var l2 = el("label", "Assigned to "); l2.appendChild(assign); form.appendChild(l2);
    var note = el("textarea", null, { id: "a-note" });
    var l3 = el("label", "Internal note"); l3.appendChild(note); form.appendChild(l3);
    var reply = el("textarea", null, { id: "a-reply" }); reply.value = q.reply || "";
    var l4 = el("label", "Reply to the provider (cite the transcript's sources as [1], [2])"); l4.appendChild(reply); form.appendChild(l4);
    var approved = el("input", null, { id: "a-approved", type: "checkbox" });
    approved.checked = !!q.reply_approved;
    var l5 = el("label"); l5.appendChild(approved); l5.appendChild(document.createTextNode(" Approved answer: the assistant serves this reply for the same question")); form.appendChild(l5);
    form.appendChild(el("button", "Save", { type: "submit" }));
    form.appendChild(el("p", null, { id: "action-error", role: "alert", "class": "error" }));
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      // only what changed: an unchanged approval is left as it is
      var body = {};
      if (status.value !== q.status) body.status = status.value;
      if (assign.value.trim() && assign.value.trim() !== (q.assigned_to || "")) body.assigned_to = assign.value.trim();
      if (note.value.trim()) body.note = note.value;
      if (reply.value.trim() && reply.value !== (q.reply || "")) body.reply = reply.value;
      if (approved.checked && (!q.reply_approved || body.reply !== undefined)) body.approved = true;
      else if (!approved.checked && q.reply_approved) body.approved = false;
      patchInquiry(q.id, body).then(afterUpdate).catch(showError);
    });
    return form;
  }
  function renderDetail(q) {
    current = q;
    $("detail-empty").classList.add("hidden");
    var d = $("detail-body"); d.textContent = ""; d.classList.remove("hidden");
    d.setAttribute("data-reference", q.reference);
    var h = el("h3", q.reference + " · " + q.status + (q.urgent ? " · URGENT" : ""));
    if (q.burst) { h.appendChild(document.createTextNode(" ")); h.appendChild(badge("burst", "burst")); }
    d.appendChild(h);
    d.appendChild(el("p", q.name + ", " + q.organisation + " · " + [q.phone, q.email].filter(Boolean).join(" · ")));
    d.appendChild(el("p", "Suggested department: " + (q.suggested_department || "–") + " · category " + q.category));
    d.appendChild(el("p", "Note: " + q.note));
    d.appendChild(el("h4", "Transcript"));
    q.transcript.forEach(function (t) {
      var div = el("div", null, { "class": "turn" });
      div.appendChild(el("strong", "Q: " + t.question)); div.appendChild(el("div", "A: " + t.answer));
      d.appendChild(div);
    });
    d.appendChild(el("h4", "Evidence"));
    var ev = el("ul", null, { "class": "evidence" });
    q.evidence.forEach(function (c) { ev.appendChild(el("li", c.doc_title + " – " + c.section + (c.page ? " (PDF p. " + c.page + ")" : ""))); });
    d.appendChild(ev);
    renderReply(d, q);
    d.appendChild(el("h4", "Notes"));
    q.notes.forEach(function (n) { d.appendChild(el("p", n.author + ": " + n.text, { "class": "muted" })); });
    d.appendChild(actionsForm(q));
    renderHistory(d, q);
  }
  $("signin-form").addEventListener("submit", function (e) {
    e.preventDefault();
    token = $("token").value.trim();
    sessionStorage.setItem("pa-staff-token", token);
    start();
  });
  $("filters").addEventListener("submit", function (e) { e.preventDefault(); page.offset = 0; loadQueue(); });
  $("prev").addEventListener("click", function () { page.offset = Math.max(0, page.offset - PAGE_SIZE); loadQueue(); });
  $("next").addEventListener("click", function () { page.offset += PAGE_SIZE; loadQueue(); });
  $("csv").addEventListener("click", function () {
    api("/api/inquiries.csv?" + filterParams().toString()).then(function (r) { return r.blob(); }).then(function (blob) {
      var a = el("a", null, { href: URL.createObjectURL(blob), download: "inquiries.csv" });
      document.body.appendChild(a); a.click(); a.remove();
    });
  });
  function start() {
    if (!token) return;
    loadQueue().then(function () {
      $("signin").classList.add("hidden"); $("app").classList.remove("hidden");
      return loadAnalytics();
    }).catch(function () {});
  }
  start();
})();
