// losscape surface viewer: an interactive 3D view of a loss surface on a 2D canvas, with no
// library and no network (it works from file://). Drag to rotate, wheel (or +/-) to zoom,
// hover for (a, b, value), a log-scale toggle and a cut-off. Written for losscape; the same
// file serves `losscape plot --kind html` and docs/figures/index.html.
//
// Usage: LosscapeViewer.mount(element, {x: [...], y: [...], z: [[row for y0], ...], label,
//   title, vmax, view: [azimuth, elevation] in degrees (optional)}) where z[j][i] is the value at (x[i], y[j]) and null marks a missing point.
// The element gets data-rendered="1" and data-painted=<pixels drawn> once drawn (the browser
// test reads them).
(function (global) {
  "use strict";

  // A perceptually ordered map (viridis, 9 stops).
  var STOPS = [
    [68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
    [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37]
  ];

  function colour(t) {
    if (!(t >= 0)) t = 0;
    if (t > 1) t = 1;
    var s = t * (STOPS.length - 1), k = Math.min(Math.floor(s), STOPS.length - 2), f = s - k;
    var a = STOPS[k], b = STOPS[k + 1];
    return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
  }

  function fmt(v) {
    if (v === null || !isFinite(v)) return "n/a";
    var a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(3);
    return (Math.round(v * 1e4) / 1e4).toString();
  }

  function mount(el, data) {
    var nx = data.x.length, ny = data.y.length;
    if (!nx || !ny || data.z.length !== ny) throw new Error("losscape viewer: z must have one row per y value");
    var home = data.view || [35, 30];
    var state = { az: home[0], el: home[1], zoom: 1, log: false, cut: data.vmax || null, hover: null };

    el.innerHTML = "";
    el.classList.add("lv");
    var bar = document.createElement("div");
    bar.className = "lv-bar";
    var logBox = document.createElement("label");
    var logInput = document.createElement("input");
    logInput.type = "checkbox";
    logBox.appendChild(logInput);
    logBox.appendChild(document.createTextNode(" log scale"));
    var cutBox = document.createElement("label");
    cutBox.appendChild(document.createTextNode(" cut off at "));
    var cutInput = document.createElement("input");
    cutInput.type = "number";
    cutInput.step = "any";
    cutInput.style.width = "6em";
    cutInput.value = state.cut === null ? "" : String(state.cut);
    cutInput.placeholder = "none";
    cutBox.appendChild(cutInput);
    var reset = document.createElement("button");
    reset.type = "button";
    reset.textContent = "reset view";
    var readout = document.createElement("span");
    readout.className = "lv-readout";
    readout.textContent = "drag to rotate, wheel to zoom, hover for values";
    bar.appendChild(logBox);
    bar.appendChild(cutBox);
    bar.appendChild(document.createTextNode(" "));
    bar.appendChild(reset);
    bar.appendChild(document.createTextNode(" "));
    bar.appendChild(readout);
    var canvas = document.createElement("canvas");
    canvas.className = "lv-canvas";
    el.appendChild(bar);
    el.appendChild(canvas);

    var label = data.label || "loss";
    var projected = [];

    function value(j, i) {
      var v = data.z[j][i];
      if (v === null || v === undefined || !isFinite(v)) return null;
      if (state.cut !== null && isFinite(state.cut) && v > state.cut) v = state.cut;
      if (state.log) return v > 0 ? Math.log10(v) : null;
      return v;
    }

    function above(j, i) {
      var v = data.z[j][i];
      return state.cut !== null && isFinite(state.cut) && v !== null && v > state.cut;
    }

    function range() {
      var lo = Infinity, hi = -Infinity;
      for (var j = 0; j < ny; j++) for (var i = 0; i < nx; i++) {
        var v = value(j, i);
        if (v === null) continue;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      if (lo === Infinity) { lo = 0; hi = 1; }
      if (hi === lo) hi = lo + 1;
      return [lo, hi];
    }

    function draw() {
      var w = canvas.clientWidth || 640, h = canvas.clientHeight || 480;
      var dpr = global.devicePixelRatio || 1;
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
      var g = canvas.getContext("2d");
      g.setTransform(dpr, 0, 0, dpr, 0, 0);
      g.fillStyle = "#ffffff";
      g.fillRect(0, 0, w, h);
      var r = range(), lo = r[0], hi = r[1];
      var x0 = data.x[0], x1 = data.x[nx - 1], y0 = data.y[0], y1 = data.y[ny - 1];
      var az = state.az * Math.PI / 180, elv = state.el * Math.PI / 180;
      var ca = Math.cos(az), sa = Math.sin(az), ce = Math.cos(elv), se = Math.sin(elv);
      var scale = Math.min(w, h) * 0.28 * state.zoom;
      function project(u, v, t) {
        // u, v, t in -1..1: rotate about the vertical axis, then tilt.
        var px = u * ca - v * sa, py = u * sa + v * ca;
        return [w / 2 + px * scale, h / 2 + (py * se - t * ce) * scale, py * ce + t * se];
      }
      function norm(i, j, val) {
        var u = nx > 1 ? 2 * i / (nx - 1) - 1 : 0, v = ny > 1 ? 2 * j / (ny - 1) - 1 : 0;
        return project(u, v, 2 * (val - lo) / (hi - lo) - 1);
      }
      projected = [];
      for (var j = 0; j < ny; j++) {
        projected.push([]);
        for (var i = 0; i < nx; i++) {
          var val = value(j, i);
          projected[j].push(val === null ? null : norm(i, j, val));
        }
      }
      // The floor box edges behind the surface.
      g.strokeStyle = "#bbbbbb";
      g.lineWidth = 1;
      var corners = [[-1, -1], [1, -1], [1, 1], [-1, 1]].map(function (c) { return project(c[0], c[1], -1); });
      g.beginPath();
      for (var c = 0; c <= 4; c++) {
        var p = corners[c % 4];
        if (c === 0) g.moveTo(p[0], p[1]); else g.lineTo(p[0], p[1]);
      }
      g.stroke();
      // Quads far to near (painter's algorithm).
      var quads = [];
      for (var jj = 0; jj + 1 < ny; jj++) for (var ii = 0; ii + 1 < nx; ii++) {
        var a = projected[jj][ii], b = projected[jj][ii + 1], cc = projected[jj + 1][ii + 1], d = projected[jj + 1][ii];
        if (!a || !b || !cc || !d) continue;
        // Cut off, not flattened: a cell wholly above the cut-off is not drawn.
        if (above(jj, ii) && above(jj, ii + 1) && above(jj + 1, ii + 1) && above(jj + 1, ii)) continue;
        var mean = (value(jj, ii) + value(jj, ii + 1) + value(jj + 1, ii + 1) + value(jj + 1, ii)) / 4;
        quads.push({ p: [a, b, cc, d], depth: (a[2] + b[2] + cc[2] + d[2]) / 4, t: (mean - lo) / (hi - lo) });
      }
      quads.sort(function (m, n) { return n.depth - m.depth; });
      g.lineWidth = 0.5;
      for (var q = 0; q < quads.length; q++) {
        var rgb = colour(quads[q].t), pts = quads[q].p;
        g.fillStyle = "rgb(" + rgb.map(Math.round).join(",") + ")";
        g.strokeStyle = "rgba(0,0,0,0.25)";
        g.beginPath();
        g.moveTo(pts[0][0], pts[0][1]);
        for (var k = 1; k < 4; k++) g.lineTo(pts[k][0], pts[k][1]);
        g.closePath();
        g.fill();
        g.stroke();
      }
      // Axis labels at the floor corners.
      g.fillStyle = "#333333";
      g.font = "12px sans-serif";
      var ax = project(1.15, -1, -1), by = project(-1, 1.15, -1);
      g.fillText("a", ax[0], ax[1]);
      g.fillText("b", by[0], by[1]);
      g.fillText(fmt(x0) + ".." + fmt(x1), project(0, -1.25, -1)[0] - 20, project(0, -1.25, -1)[1]);
      g.fillText(fmt(y0) + ".." + fmt(y1), project(-1.25, 0, -1)[0] - 20, project(-1.25, 0, -1)[1]);
      // Colour bar.
      for (var s = 0; s < 100; s++) {
        var cb = colour(s / 99);
        g.fillStyle = "rgb(" + cb.map(Math.round).join(",") + ")";
        g.fillRect(w - 30, h - 30 - s * (h - 60) / 100, 14, (h - 60) / 100 + 1);
      }
      g.fillStyle = "#333333";
      var unit = state.log ? "log10 " + label : label;
      g.fillText(fmt(hi), w - 80, 32);
      g.fillText(fmt(lo), w - 80, h - 30);
      g.fillText(unit, 8, 16);
      if (data.title) g.fillText(data.title, 8, 32);
      if (state.hover) {
        var hp = projected[state.hover[1]][state.hover[0]];
        if (hp) {
          g.strokeStyle = "#d62728";
          g.lineWidth = 2;
          g.beginPath();
          g.arc(hp[0], hp[1], 5, 0, 2 * Math.PI);
          g.stroke();
        }
      }
      el.setAttribute("data-rendered", "1");
      el.setAttribute("data-painted", String(quads.length));
    }

    function nearest(mx, my) {
      var best = null, bestD = 144;
      for (var j = 0; j < ny; j++) for (var i = 0; i < nx; i++) {
        var p = projected[j] && projected[j][i];
        if (!p) continue;
        var d = (p[0] - mx) * (p[0] - mx) + (p[1] - my) * (p[1] - my);
        if (d < bestD) { bestD = d; best = [i, j]; }
      }
      return best;
    }

    var drag = null;
    canvas.addEventListener("mousedown", function (e) { drag = [e.clientX, e.clientY, state.az, state.el]; });
    global.addEventListener("mouseup", function () { drag = null; });
    canvas.addEventListener("mousemove", function (e) {
      if (drag) {
        state.az = drag[2] - (e.clientX - drag[0]) * 0.5;
        state.el = Math.max(-89, Math.min(89, drag[3] + (e.clientY - drag[1]) * 0.5));
        draw();
        return;
      }
      var box = canvas.getBoundingClientRect();
      var hit = nearest(e.clientX - box.left, e.clientY - box.top);
      state.hover = hit;
      if (hit) {
        var raw = data.z[hit[1]][hit[0]];
        readout.textContent = "a = " + fmt(data.x[hit[0]]) + ", b = " + fmt(data.y[hit[1]]) + ", " + label + " = " + fmt(raw);
      }
      draw();
    });
    canvas.addEventListener("wheel", function (e) {
      e.preventDefault();
      state.zoom = Math.max(0.2, Math.min(8, state.zoom * (e.deltaY < 0 ? 1.1 : 1 / 1.1)));
      draw();
    }, { passive: false });
    canvas.tabIndex = 0;
    canvas.addEventListener("keydown", function (e) {
      if (e.key === "+" || e.key === "=") state.zoom = Math.min(8, state.zoom * 1.1);
      else if (e.key === "-") state.zoom = Math.max(0.2, state.zoom / 1.1);
      else if (e.key === "ArrowLeft") state.az += 5;
      else if (e.key === "ArrowRight") state.az -= 5;
      else if (e.key === "ArrowUp") state.el = Math.min(89, state.el + 5);
      else if (e.key === "ArrowDown") state.el = Math.max(-89, state.el - 5);
      else return;
      e.preventDefault();
      draw();
    });
    logInput.addEventListener("change", function () { state.log = logInput.checked; draw(); });
    cutInput.addEventListener("input", function () {
      var v = parseFloat(cutInput.value);
      state.cut = isFinite(v) ? v : null;
      draw();
    });
    reset.addEventListener("click", function () {
      state.az = home[0]; state.el = home[1]; state.zoom = 1; draw();
    });
    global.addEventListener("resize", draw);
    draw();
    return { redraw: draw, state: state };
  }

  global.LosscapeViewer = { mount: mount, colour: colour, format: fmt };
})(typeof window !== "undefined" ? window : this);
