/* fsbridge console: live updates (server-sent events), action buttons, the timeline. No build step. */
(function () {
  "use strict";
  var page = document.getElementById("conference");
  var flash = document.getElementById("flash");
  // URLs are built on location.origin: a page opened as http://user:pass@host/ must not pass its
  // credentials into fetch() (which refuses such URLs); the browser's cached Basic auth is sent anyway.
  function url(path) { return location.origin + path; }
  function say(text, bad) {
    flash.textContent = text; flash.className = bad ? "bad show" : "show";
    clearTimeout(say.t); say.t = setTimeout(function () { flash.className = ""; }, 4000);
  }

  function post(path, body) {
    return fetch(url(path), {method: "POST", credentials: "same-origin", body: body || new FormData(),
                             headers: {"X-FSBridge-Console": "1", "Accept": "application/json"}})
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (j) {
          if (!r.ok) { throw new Error((j && j.message) || ("HTTP " + r.status)); }
          return j;
        });
      });
  }

  if (!page) {
    // the conference list: reload when a conference appears, starts or ends (at most once a second)
    if (document.getElementById("index-page") && window.EventSource) {
      var all = new EventSource(url(location.pathname.replace(/\/$/, "") + "/events")), pending = null;
      all.onmessage = function (m) {
        var e = JSON.parse(m.data);
        if (/^(conference-(start|end)|participant-join)$/.test(e.event) && !pending) {
          pending = setTimeout(function () { all.close(); location.reload(); }, 1000);
        }
      };
    }
    return;
  }
  var base = page.dataset.base;
  var talking = {};

  function applyTalking() {
    document.querySelectorAll("#participants tr.participant").forEach(function (tr) {
      var on = !!talking[tr.dataset.call];
      var dot = tr.querySelector(".talk");
      dot.classList.toggle("on", on);
      dot.dataset.talking = on ? "true" : "false";
    });
  }

  var refreshing = null;
  function refreshTable() {
    if (refreshing) { refreshing.again = true; return; }
    refreshing = {again: false};
    fetch(url(base + "/participants"), {credentials: "same-origin"}).then(function (r) { return r.text(); })
      .then(function (html) {
        document.getElementById("participants").innerHTML = html;
        applyTalking();
      }).finally(function () {
        var again = refreshing.again; refreshing = null;
        if (again) { refreshTable(); }
      });
  }

  var cbTimer = null;
  function refreshCallbacks() {   // at most every 500 ms: deliveries follow events by a few ms
    if (cbTimer) { return; }
    cbTimer = setTimeout(function () {
      cbTimer = null;
      fetch(url(base + "/callbacks"), {credentials: "same-origin"}).then(function (r) { return r.text(); })
        .then(function (html) { document.getElementById("callbacks-wrap").innerHTML = html; });
    }, 500);
  }

  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("button[data-action]");
    if (!btn || btn.closest("form")) { return; }
    if (btn.dataset.confirm && !window.confirm(btn.dataset.confirm)) { return; }
    var a = btn.dataset.action, path, form = new FormData();
    if (btn.dataset.who) { path = base + "/participants/" + encodeURIComponent(btn.dataset.who) + "/" + a; }
    else if (btn.dataset.rec) {          // the REST Recording update: Status=paused|in-progress|stopped
      path = base + "/recordings/" + encodeURIComponent(btn.dataset.rec);
      form.append("Status", {pause: "paused", resume: "in-progress", stop: "stopped"}[a]);
    }
    else { path = base + "/" + a; }
    btn.disabled = true;
    post(path, form).then(function () {
      say(a + ": done");
      if (btn.dataset.rec || a === "end" || a === "record") { location.reload(); } else { refreshTable(); }
    }).catch(function (e) { say(a + ": " + e.message, true); btn.disabled = false; });
  });

  var form = document.querySelector("form.announce");
  if (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      post(base + "/announce", new FormData(form)).then(function () { say("announcement sent"); form.reset(); })
        .catch(function (e) { say("announce: " + e.message, true); });
    });
  }

  /* ---------------------------------------------------------------- timeline */
  var data = JSON.parse(document.getElementById("timeline-data").textContent);
  var svg = document.getElementById("timeline");
  var detail = document.getElementById("timeline-detail");
  var NS = "http://www.w3.org/2000/svg";

  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    parent.appendChild(e); return e;
  }
  function clock(t) { return new Date(t * 1000).toISOString().substr(11, 8); }

  function spans(events, who, on, off, end) {
    var out = [], open = null;
    events.forEach(function (e) {
      if (e.call_sid !== who) { return; }
      if (on.indexOf(e.event) >= 0 && open === null) { open = e.t; }
      else if ((off.indexOf(e.event) >= 0 || e.event === "participant-leave") && open !== null) {
        out.push([open, e.t]); open = null;
      }
    });
    if (open !== null) { out.push([open, end]); }
    return out;
  }

  function draw() {
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    var now = Date.now() / 1000;
    var people = data.participants || [], events = data.events || [];
    var t0 = data.start, t1 = data.end;
    people.forEach(function (p) { if (p.joined && (t0 === null || p.joined < t0)) { t0 = p.joined; } });
    var last = null;
    events.forEach(function (e) { if (t0 === null || e.t < t0) { t0 = e.t; } if (last === null || e.t > last) { last = e.t; } });
    if (t0 === null) { el("text", {x: 10, y: 20, "class": "empty"}, svg).textContent = "No events yet."; return; }
    // live: up to now (engine time may run ahead of the wall clock on a fast simulated clock)
    if (t1 === null) { t1 = Math.max(now, last || t0, t0 + 1); } else if (last !== null && last > t1) { t1 = last; }
    var W = Math.max(svg.clientWidth || 800, 400), left = 150, right = 20, row = 28, top = 24;
    var H = top + Math.max(people.length, 1) * row + 10;
    svg.setAttribute("viewBox", "0 0 " + W + " " + H); svg.setAttribute("height", H);
    var scale = (W - left - right) / Math.max(t1 - t0, 0.001);
    function x(t) { return left + (t - t0) * scale; }
    var step = Math.pow(10, Math.floor(Math.log10(Math.max(t1 - t0, 1) / 2)));
    for (var t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
      el("line", {x1: x(t), x2: x(t), y1: top - 6, y2: H - 6, "class": "tick"}, svg);
      el("text", {x: x(t) + 2, y: 12, "class": "axis"}, svg).textContent = clock(t);
    }
    people.forEach(function (p, i) {
      var y = top + i * row;
      var name = p.label || p.from || p.call_sid;
      el("text", {x: 6, y: y + 17, "class": "name"}, svg).textContent = name.length > 20 ? name.substr(0, 19) + "…" : name;
      var end = p.left || t1;
      var bar = el("rect", {x: x(p.joined), y: y + 4, width: Math.max(x(end) - x(p.joined), 1), height: row - 8,
                            "class": "in"}, svg);
      bar.dataset.info = name + " in the conference " + clock(p.joined) + " – " + (p.left ? clock(p.left) : "now");
      [["mute", ["participant-mute"], ["participant-unmute"]],
       ["hold", ["participant-hold"], ["participant-unhold"]],
       ["talk", ["participant-speech-start"], ["participant-speech-stop"]]].forEach(function (k) {
        spans(events, p.call_sid, k[1], k[2], end).forEach(function (s) {
          var r = el("rect", {x: x(s[0]), y: y + (k[0] === "talk" ? 9 : 4), width: Math.max(x(s[1]) - x(s[0]), 2),
                              height: k[0] === "talk" ? row - 18 : row - 8, "class": k[0]}, svg);
          r.dataset.info = name + " " + (k[0] === "talk" ? "talking" : k[0] === "mute" ? "muted" : "on hold") +
            " " + clock(s[0]) + " – " + clock(s[1]) + " (" + (s[1] - s[0]).toFixed(1) + " s)";
        });
      });
      events.forEach(function (e) {
        if (e.call_sid !== p.call_sid || /speech/.test(e.event)) { return; }
        var m = el("circle", {cx: x(e.t), cy: y + row / 2, r: 4, "class": "mark"}, svg);
        m.dataset.info = "#" + e.seq + " " + e.event + " · " + name + " · " + clock(e.t);
      });
    });
  }
  function show(ev) { if (ev.target.dataset && ev.target.dataset.info) { detail.textContent = ev.target.dataset.info; } }
  svg.addEventListener("mousemove", show);
  svg.addEventListener("click", show);
  window.addEventListener("resize", draw);
  draw();

  /* ---------------------------------------------------------------- live updates */
  if (page.dataset.live !== "true" || !window.EventSource) { return; }
  var TABLE = /^(participant-(join|leave|mute|unmute|hold|unhold|modify)|conference-start)$/;
  var source = new EventSource(url(base + "/events"));
  var redraw = null;
  source.onmessage = function (m) {
    var e = JSON.parse(m.data);
    if (e.event === "snapshot") {
      talking = {}; e.talking.forEach(function (c) { talking[c] = true; }); applyTalking(); return;
    }
    data.events.push(e);
    refreshCallbacks();
    if (e.event === "participant-speech-start") { talking[e.call_sid] = true; applyTalking(); }
    else if (e.event === "participant-speech-stop") { delete talking[e.call_sid]; applyTalking(); }
    else if (e.event === "conference-end") { source.close(); location.reload(); return; }
    else if (TABLE.test(e.event)) {
      if (e.event === "participant-leave") { delete talking[e.call_sid]; }
      if (e.event === "participant-join" && !data.participants.some(function (p) { return p.call_sid === e.call_sid; })) {
        data.participants.push({call_sid: e.call_sid, label: e.label, joined: e.t, left: null});
      }
      if (e.event === "participant-leave") {
        data.participants.forEach(function (p) { if (p.call_sid === e.call_sid) { p.left = e.t; } });
      }
      refreshTable();
    }
    if (!redraw) { redraw = setTimeout(function () { redraw = null; draw(); }, 250); }
  };
})();
