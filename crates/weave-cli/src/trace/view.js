// The timeline of `weave trace view`: draws the data in D (written by
// html.rs) on a canvas, a lane per LWP. Wheel: zoom around the pointer;
// drag: pan; click a slice: its ULT's details; #t=FROM,TO (ms) in the
// address opens at that range, #ult=N with ULT N's details (both may be
// given: #t=0,5&ult=3). No network, no libraries.
"use strict";
window.onerror = function (msg, src, line) {
  var e = document.createElement("div");
  e.id = "script-error";
  e.textContent = "script error: " + msg + " (line " + line + ")";
  document.body.insertBefore(e, document.body.firstChild);
};
(function () {
  var LANE_H = 26, AXIS_H = 22, PAD = 3;
  var cv = document.getElementById("timeline");
  var labels = document.getElementById("labels");
  var info = document.getElementById("info");
  var ctx = cv.getContext("2d");
  var t0 = 0, t1 = Math.max(D.end, 1);
  // The ULT whose details are shown (-1: none).
  var sel = -1;
  var nl = D.lanes.length;

  function color(u) {
    var h = (u * 2654435761) % 360;
    return "hsl(" + h + ",55%,62%)";
  }
  function fmt(ns) {
    if (ns >= 1e9) return (ns / 1e9).toFixed(3) + " s";
    if (ns >= 1e6) return (ns / 1e6).toFixed(3) + " ms";
    if (ns >= 1e3) return (ns / 1e3).toFixed(1) + " µs";
    return ns + " ns";
  }
  // First index i (of records of `w` numbers) whose end (start for
  // marks) is >= t, in a flat array sorted by start.
  function first(a, w, endAt, t) {
    var lo = 0, hi = a.length / w;
    while (lo < hi) {
      var m = (lo + hi) >> 1;
      if (a[m * w + endAt] < t) lo = m + 1; else hi = m;
    }
    return lo;
  }
  function x(t, W) { return ((t - t0) / (t1 - t0)) * W; }
  function laneY(l) { return AXIS_H + l * LANE_H; }

  function resize() {
    var w = cv.parentNode.clientWidth || 1000;
    cv.width = w;
    cv.height = AXIS_H + nl * LANE_H + 4;
    labels.style.height = cv.height + "px";
  }

  function draw() {
    var W = cv.width, H = cv.height;
    ctx.clearRect(0, 0, W, H);
    ctx.font = "11px sans-serif";
    // Axis.
    ctx.fillStyle = "#333";
    // A tick every 1, 2 or 5 times a power of ten, at least 90 px apart,
    // so that the labels never overlap.
    var span = t1 - t0, raw = Math.max(span / Math.max(2, Math.floor(W / 90)), 1);
    var p10 = Math.pow(10, Math.floor(Math.log10(raw))), mant = raw / p10;
    var step = p10 * (mant <= 1 ? 1 : mant <= 2 ? 2 : mant <= 5 ? 5 : 10);
    for (var t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
      var px = x(t, W);
      ctx.fillRect(px, AXIS_H - 6, 1, 6);
      ctx.fillText(fmt(t), px + 2, AXIS_H - 9);
    }
    var drawn = 0;
    for (var l = 0; l < nl; l++) {
      var y = laneY(l);
      ctx.fillStyle = l % 2 ? "#f4f4f4" : "#fafafa";
      ctx.fillRect(0, y, W, LANE_H);
      // Idle spans.
      var I = D.idle[l];
      ctx.fillStyle = "#ddd";
      for (var i = first(I, 2, 1, t0); i * 2 < I.length && I[i * 2] <= t1; i++) {
        var a = x(I[i * 2], W), b = x(I[i * 2 + 1], W);
        ctx.fillRect(a, y + LANE_H / 2 - 1, Math.max(1, b - a), 2);
      }
      // Runnable but waiting for this LWP: a band along the lane's foot.
      var R = D.ready[l];
      ctx.fillStyle = "#e6b800";
      for (var r = first(R, 2, 1, t0); r * 2 < R.length && R[r * 2] <= t1; r++) {
        var ra = x(R[r * 2], W), rb = x(R[r * 2 + 1], W);
        ctx.fillRect(ra, y + LANE_H - PAD, Math.max(1, rb - ra), PAD);
      }
      // Runs: at most one rectangle per pixel column.
      var S = D.slices[l], last = -1;
      for (var k = first(S, 3, 1, t0); k * 3 < S.length && S[k * 3] <= t1; k++) {
        var x0 = x(S[k * 3], W), x1 = x(S[k * 3 + 1], W);
        if (x1 - x0 < 1 && Math.floor(x0) === last) continue;
        last = Math.floor(x0);
        ctx.fillStyle = color(S[k * 3 + 2]);
        ctx.fillRect(x0, y + PAD, Math.max(1, x1 - x0), LANE_H - 2 * PAD);
        drawn++;
        if (x1 - x0 > 50) {
          ctx.fillStyle = "#000";
          ctx.save();
          ctx.beginPath();
          ctx.rect(x0, y, x1 - x0, LANE_H);
          ctx.clip();
          ctx.fillText(label(S[k * 3 + 2]), Math.max(x0, 0) + 3, y + LANE_H / 2 + 4);
          ctx.restore();
        }
      }
      // Marks.
      var M = D.marks[l];
      for (var j = first(M, 3, 0, t0); j * 3 < M.length && M[j * 3] <= t1; j++) {
        var mx = x(M[j * 3], W), kind = M[j * 3 + 1];
        ctx.fillStyle = D.markColors[kind];
        ctx.beginPath();
        ctx.moveTo(mx, y + 1);
        ctx.lineTo(mx - 4, y + 8);
        ctx.lineTo(mx + 4, y + 8);
        ctx.fill();
        if (kind === 3 || kind === 4) ctx.fillRect(mx, y, 2, LANE_H);
      }
    }
    // The clicked thread's own runnable waits: from each spawn or wake
    // in its (kept) history to the run that followed, on that run's lane.
    if (sel >= 0) {
      var h = D.ults[sel][7], since = -1;
      ctx.strokeStyle = "#000";
      ctx.lineWidth = 1;
      for (var s = 0; s < h.length; s += 3) {
        if (h[s + 1] === 0 || h[s + 1] === 3) since = h[s];
        else if (h[s + 1] === 1 && since >= 0) {
          var ln = D.lanes.indexOf(h[s + 2]);
          if (ln >= 0 && h[s] >= t0 && since <= t1) {
            var wa = x(since, W), wb = x(h[s], W);
            ctx.strokeRect(wa, laneY(ln) + LANE_H - PAD - 2, Math.max(2, wb - wa), PAD + 2);
          }
          since = -1;
        }
      }
    }
    // Flows: wake -> run, when few enough are on screen to read.
    var F = D.flows, vis = [];
    for (var f = 0; f < F.length; f += 5) {
      if (F[f + 1] <= t1 && F[f + 3] >= t0) vis.push(f);
      if (vis.length > 4000) break;
    }
    var note = document.getElementById("flownote");
    if (vis.length <= 4000) {
      ctx.strokeStyle = "rgba(40,40,160,0.55)";
      ctx.lineWidth = 1;
      for (var v = 0; v < vis.length; v++) {
        var q = vis[v], from = F[q], to = F[q + 2];
        var ya = laneY(from < 0 ? to : from) + (from < 0 ? 2 : LANE_H / 2);
        var yb = laneY(to) + LANE_H / 2;
        var xa = x(F[q + 1], W), xb = x(F[q + 3], W);
        ctx.beginPath();
        ctx.moveTo(xa, ya);
        ctx.bezierCurveTo((xa + xb) / 2, ya, (xa + xb) / 2, yb, xb, yb);
        ctx.stroke();
        ctx.fillStyle = "rgba(40,40,160,0.8)";
        ctx.fillRect(xb - 2, yb - 2, 4, 4);
      }
      note.textContent = vis.length + " wake-ups on screen";
    } else {
      note.textContent = "more than 4000 wake-ups on screen: zoom in to see them as flows";
    }
    document.getElementById("range").textContent =
      fmt(t0) + " – " + fmt(t1) + " (" + fmt(t1 - t0) + " shown)";
    document.body.setAttribute("data-rendered", nl + " lanes, " + drawn + " slices drawn");
  }

  function labelLanes() {
    labels.innerHTML = "";
    for (var l = 0; l < nl; l++) {
      var d = document.createElement("div");
      d.className = "lane";
      d.setAttribute("data-lwp", D.lanes[l]);
      d.style.top = laneY(l) + "px";
      d.style.height = LANE_H + "px";
      d.textContent = "LWP " + D.lanes[l] + (D.bound[l] ? " (bound)" : "");
      labels.appendChild(d);
    }
  }

  // A ULT's label: its name if it has one, and its table index.
  function label(u) {
    var r = D.ults[u], n = D.names[u];
    return n !== undefined ? n + " (ULT " + r[0] + ")" : "ULT " + r[0];
  }
  // The steps of a history, by `Step::code` (crates/weave-cli/src/trace/mod.rs).
  function step(code, arg) {
    switch (code) {
      case 0: return arg < 0 ? "spawned by an OS thread" : "spawned on LWP " + arg;
      case 1: return "runs on LWP " + arg;
      case 2: return "blocks: " + (D.reasons[arg] || "reason " + arg);
      case 3: return arg < 0 ? "woken" : "woken by " + label(arg);
      case 4: return "exits";
      case 5: return "stolen by LWP " + (arg >> 16) + " from LWP " + (arg & 65535);
      case 6: return "blocks LWP " + arg + " in the kernel";
      case 7: return "its fd is ready";
      case 8: return "its timer fires";
      case 9: return "signal " + arg + " routed to it";
      case 10: return "runs the handler of signal " + arg;
    }
    return "step " + code;
  }
  function details(u) {
    var r = D.ults[u], w = r[6], h = D.ults[u][7];
    var waits = [];
    for (var i = 0; i < w.length; i += 2) {
      waits.push((D.reasons[w[i]] || w[i]) + " " + fmt(w[i + 1]));
    }
    var s = "<b>" + esc(label(u)) + "</b> id " + r[0] + "." + r[1] + ", priority " + r[2] +
      "<br>ran " + fmt(r[3]) + " in " + r[4] + " runs, runnable but waiting " + fmt(r[5]) +
      "<br>blocked: " + esc(waits.join(", ") || "never") +
      "<table id=\"history\"><tr><th>time</th><th>state</th></tr>";
    for (var k = 0; k < h.length; k += 3) {
      s += "<tr><td>" + fmt(h[k]) + "</td><td>" + esc(step(h[k + 1], h[k + 2])) + "</td></tr>";
    }
    s += "</table>";
    if (r[8]) s += "(" + r[8] + " earlier steps not kept)";
    info.innerHTML = s;
    sel = u;
    draw();
  }
  function esc(t) {
    return String(t).replace(/[&<>"]/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c];
    });
  }

  var drag = null, moved = false;
  cv.addEventListener("wheel", function (e) {
    e.preventDefault();
    var W = cv.width, r = cv.getBoundingClientRect();
    var at = t0 + ((e.clientX - r.left) / W) * (t1 - t0);
    var k = e.deltaY > 0 ? 1.25 : 0.8;
    var n0 = at - (at - t0) * k, n1 = at + (t1 - at) * k;
    if (n1 - n0 < 10) return;
    t0 = Math.max(0, n0);
    t1 = Math.min(Math.max(D.end, 1), n1);
    draw();
  }, { passive: false });
  cv.addEventListener("mousedown", function (e) {
    drag = { x: e.clientX, t0: t0, t1: t1 };
    moved = false;
  });
  window.addEventListener("mousemove", function (e) {
    if (!drag) return;
    var dx = e.clientX - drag.x;
    if (Math.abs(dx) > 2) moved = true;
    var dt = (dx / cv.width) * (drag.t1 - drag.t0);
    t0 = drag.t0 - dt;
    t1 = drag.t1 - dt;
    draw();
  });
  window.addEventListener("mouseup", function () { drag = null; });
  cv.addEventListener("click", function (e) {
    if (moved) return;
    var r = cv.getBoundingClientRect();
    var l = Math.floor((e.clientY - r.top - AXIS_H) / LANE_H);
    if (l < 0 || l >= nl) return;
    var t = t0 + ((e.clientX - r.left) / cv.width) * (t1 - t0);
    var slop = (3 / cv.width) * (t1 - t0);
    var S = D.slices[l], k = first(S, 3, 1, t - slop);
    if (k * 3 < S.length && S[k * 3] <= t + slop) details(S[k * 3 + 2]);
  });
  document.getElementById("reset").addEventListener("click", function () {
    t0 = 0;
    t1 = Math.max(D.end, 1);
    draw();
  });
  window.addEventListener("resize", function () { resize(); draw(); });
  // A view to open at: #t=FROM,TO in ms (e.g. from a shared link).
  var m = /t=([0-9.]+),([0-9.]+)/.exec(location.hash);
  if (m && +m[2] > +m[1]) {
    t0 = +m[1] * 1e6;
    t1 = Math.min(+m[2] * 1e6, Math.max(D.end, 1));
  }
  resize();
  labelLanes();
  draw();
  // A thread to open with its details shown: #ult=N (its table index).
  var mu = /ult=([0-9]+)/.exec(location.hash);
  if (mu) {
    for (var q = 0; q < D.ults.length; q++) {
      if (D.ults[q][0] === +mu[1]) { details(q); break; }
    }
  }
})();
