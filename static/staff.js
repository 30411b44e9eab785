/* Provider-relations staff page. Everything from the server is shown with textContent: never HTML. */
(function () {
  "use strict";
  var token = sessionStorage.getItem("pa-staff-token");
  var current = null;

  function $(id) { return document.getElementById(id); }
  function el(tag, text, attrs) {
    var n = document.createElement(tag);
    if (text != null) n.textContent = text;
    Object.keys(attrs || {}).forEach(function (k) { n.setAttribute(k, attrs[k]); });
    return n;
  }
  function api(path, options) {
    options = options || {};
    options.headers = Object.assign({ "Authorization": "Bearer " + token }, options.headers || {});
    return fetch(path, options).then(function (r) {
      if (r.status === 401) { signOut("Your token is not valid."); throw new Error("unauthorized"); }
      if (!r.ok) return r.json().then(function (b) { throw new Error(b.detail || r.status); });
      return r;
    });
  }
  function signOut(message) {
    sessionStorage.removeItem("pa-staff-token"); token = null;
    $("app").classList.add("hidden"); $("signin").classList.remove("hidden");
    $("signin-error").textContent = message || "";
  }
  function filterQuery() {
    var p = new URLSearchParams();
    if ($("f-status").value) p.set("status", $("f-status").value);
    if ($("f-category").value.trim()) p.set("category", $("f-category").value.trim());
    if ($("f-urgent").checked) p.set("urgent", "true");
    if ($("f-q").value.trim()) p.set("q", $("f-q").value.trim());
    return p.toString();
  }
  function loadQueue() {
    return api("/api/inquiries?" + filterQuery()).then(function (r) { return r.json(); }).then(function (body) {
      var tbody = $("queue"); tbody.textContent = "";
      body.inquiries.forEach(function (q) {
        var tr = el("tr", null, { "class": "row", tabindex: "0", "data-id": String(q.id) });
        tr.appendChild(el("td", q.reference));
        tr.appendChild(el("td", q.created.replace("T", " ").slice(0, 16)));
        var u = el("td"); if (q.urgent) u.appendChild(el("span", "URGENT", { "class": "urgent" })); tr.appendChild(u);
        tr.appendChild(el("td", q.status));
        tr.appendChild(el("td", q.category));
        tr.appendChild(el("td", q.organisation + " (" + q.name + ")"));
        tr.appendChild(el("td", q.note));
        tr.addEventListener("click", function () { openInquiry(q.id); });
        tr.addEventListener("keydown", function (e) { if (e.key === "Enter") openInquiry(q.id); });
        tbody.appendChild(tr);
      });
    });
  }
  function bars(container, title, data) {
    container.appendChild(el("h3", title));
    var max = Math.max.apply(null, Object.values(data).concat([1]));
    Object.keys(data).forEach(function (k) {
      var row = el("div", null, { "class": "muted" });
      row.appendChild(el("span", k + " ", { style: "display:inline-block;min-width:160px" }));
      row.appendChild(el("span", null, { "class": "bar", style: "width:" + Math.round(200 * data[k] / max) + "px" }));
      row.appendChild(el("span", " " + data[k]));
      container.appendChild(row);
    });
  }
  function loadAnalytics() {
    return api("/api/staff/analytics").then(function (r) { return r.json(); }).then(function (a) {
      var box = $("analytics"); box.textContent = "";
      box.appendChild(el("p", a.questions + " questions · abstention rate " + (100 * a.abstention_rate).toFixed(1) +
        "% · thumbs-down rate " + (100 * a.thumbs_down_rate).toFixed(1) + "%"));
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
  function renderDetail(q) {
    current = q;
    $("detail-empty").classList.add("hidden");
    var d = $("detail-body"); d.textContent = ""; d.classList.remove("hidden");
    d.setAttribute("data-reference", q.reference);
    d.appendChild(el("h3", q.reference + " · " + q.status + (q.urgent ? " · URGENT" : "")));
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
    if (q.reply) d.appendChild(el("p", "Reply" + (q.reply_approved ? " (approved answer)" : "") + ": " + q.reply));
    d.appendChild(el("h4", "Notes"));
    q.notes.forEach(function (n) { d.appendChild(el("p", n.author + ": " + n.text, { "class": "muted" })); });
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
    var l5 = el("label"); l5.appendChild(approved); l5.appendChild(document.createTextNode(" Approved answer: the assistant serves this reply for the same question")); form.appendChild(l5);
    form.appendChild(el("button", "Save", { type: "submit" }));
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var body = { status: status.value, assigned_to: assign.value || null, note: note.value || null,
                   reply: reply.value || null, approved: approved.checked };
      api("/api/inquiries/" + q.id, { method: "PATCH", headers: { "Content-Type": "application/json" },
                                      body: JSON.stringify(body) })
        .then(function (r) { return r.json(); }).then(function (updated) { renderDetail(updated); loadQueue(); });
    });
    d.appendChild(form);
  }
  $("signin-form").addEventListener("submit", function (e) {
    e.preventDefault();
    token = $("token").value.trim();
    sessionStorage.setItem("pa-staff-token", token);
    start();
  });
  $("filters").addEventListener("submit", function (e) { e.preventDefault(); loadQueue(); });
  $("csv").addEventListener("click", function () {
    api("/api/inquiries.csv?" + filterQuery()).then(function (r) { return r.blob(); }).then(function (blob) {
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
