// tickwork admin UI: small behaviours on top of server-rendered pages and htmx.
// Everything is progressive: without this file, forms still post and links still work.
(function () {
  "use strict";

  // -- theme toggle: system -> light -> dark -> system ---------------------------------
  var THEMES = ["system", "light", "dark"];
  function currentTheme() {
    try { return localStorage.getItem("tw-theme") || "system"; } catch (e) { return "system"; }
  }
  function applyTheme(theme) {
    var root = document.documentElement;
    if (theme === "light" || theme === "dark") root.setAttribute("data-theme", theme);
    else root.removeAttribute("data-theme");
    try {
      if (theme === "system") localStorage.removeItem("tw-theme");
      else localStorage.setItem("tw-theme", theme);
    } catch (e) { /* ignore */ }
    var button = document.getElementById("theme-toggle");
    if (button) {
      button.setAttribute("aria-label", "Theme: " + theme + " (change)");
      button.setAttribute("title", "Theme: " + theme);
      button.dataset.theme = theme;
    }
    redrawCharts();
  }

  // -- the viewer's time zone, so the server shows times in it -------------------------
  function syncTimeZone() {
    var zone;
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
    if (!zone) return;
    var shown = document.body.dataset.zone;
    var cookie = document.cookie.split("; ").find(function (c) { return c.indexOf("tw_tz=") === 0; });
    var pinned = document.body.dataset.zonePinned === "true";
    if (pinned) return;
    if (!cookie || decodeURIComponent(cookie.slice(6)) !== zone) {
      document.cookie = "tw_tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; samesite=lax";
    }
    var reloaded = false;
    try { reloaded = sessionStorage.getItem("tw-tz-reloaded") === zone; } catch (e) { reloaded = true; }
    if (shown && shown !== zone && !reloaded && document.body.dataset.reloadable === "true") {
      try { sessionStorage.setItem("tw-tz-reloaded", zone); } catch (e) { return; }
      window.location.reload();
    }
  }

  // -- toasts (HX-Trigger: {"showToast": {"message": ..., "tone": ...}}) ----------------
  function toast(message, tone, href) {
    var box = document.getElementById("toasts");
    if (!box || !message) return;
    var item = document.createElement("div");
    item.className = "toast" + (tone === "bad" ? " bad" : "");
    item.setAttribute("role", tone === "bad" ? "alert" : "status");
    if (href && href.charAt(0) === "/" && href.charAt(1) !== "/") {
      // A toast about something (a run) links to it, and stays until the pointer leaves.
      var link = document.createElement("a");
      link.href = href;
      link.textContent = message;
      item.appendChild(link);
    } else {
      item.textContent = message;
    }
    box.appendChild(item);
    var timer = null;
    function later() { timer = setTimeout(function () { item.remove(); }, tone === "bad" || href ? 8000 : 4000); }
    item.addEventListener("mouseenter", function () { clearTimeout(timer); });
    item.addEventListener("focusin", function () { clearTimeout(timer); });
    item.addEventListener("mouseleave", later);
    later();
  }
  document.body.addEventListener("showToast", function (event) {
    var detail = event.detail || {};
    toast(detail.message || detail.value, detail.tone, detail.href);
  });
  document.body.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    if (xhr && xhr.getResponseHeader("HX-Trigger")) return;
    var message = "Request failed (" + (xhr ? xhr.status : "network") + ")";
    try {
      var body = JSON.parse(xhr.responseText);
      if (body && body.error && body.error.message) message = body.error.message;
    } catch (e) { /* not JSON */ }
    toast(message, "bad");
  });
  document.body.addEventListener("htmx:sendError", function () {
    toast("The server cannot be reached; retrying…", "bad");
  });
  // A live page does not refresh under an open confirmation dialog (it would close it),
  // and a poller ([data-live]) asks nothing while its tab is hidden.
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    var source = event.detail.elt;
    if (source && source.querySelector && source.querySelector("dialog[open]")) {
      event.preventDefault();
    } else if (document.hidden && source && source.hasAttribute && source.hasAttribute("data-live")) {
      event.preventDefault();
    }
  });
  // A poller that asks for rows ([data-live-sigs]) says which it shows as they are, by id
  // and fingerprint: the answer leaves those out.
  document.body.addEventListener("htmx:configRequest", function (event) {
    var source = event.detail.elt;
    if (!source || !source.hasAttribute || !source.hasAttribute("data-live-sigs")) return;
    var rows = document.querySelectorAll("[data-live-row][data-sig]");
    event.detail.parameters.sigs = Array.prototype.map.call(rows, function (row) {
      return row.id.replace(/^\D+/, "") + ":" + row.dataset.sig;
    }).join(",");
  });
  // Back in view: pollers catch up at once (they listen for "twvisible" on the body).
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && window.htmx) htmx.trigger(document.body, "twvisible");
  });
  // A poll swaps rows in by id ([data-live-row]): never one the viewer is using (it holds
  // the focus or waits for an action's answer), nor one whose content did not change.
  document.body.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail.target;
    if (!target || !target.hasAttribute || !target.hasAttribute("data-live-row")) return;
    var fresh = event.detail.fragment && event.detail.fragment.firstElementChild;
    var busy = target.contains(document.activeElement) || target.querySelector(".htmx-request");
    var same = fresh && fresh.dataset && fresh.dataset.sig && fresh.dataset.sig === target.dataset.sig;
    if (busy || same) event.detail.shouldSwap = false;
  });

  // A live section swapped whole (a running run's page, the dashboard, the flows) keeps
  // the <details> the viewer opened and the focus: on the element with the same id, else
  // the same kind of element with the same link, label and text.
  var openDetails = [];
  var liveFocus = null;
  function focusKey(el) {
    return {
      id: el.id, tag: el.tagName, href: el.getAttribute("href"),
      label: el.getAttribute("aria-label"), text: el.textContent.trim().slice(0, 80),
    };
  }
  function findByKey(root, key) {
    if (key.id) return document.getElementById(key.id);
    return Array.prototype.find.call(root.querySelectorAll(key.tag), function (el) {
      return el.getAttribute("href") === key.href && el.getAttribute("aria-label") === key.label &&
        el.textContent.trim().slice(0, 80) === key.text;
    });
  }
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (!target || !target.hasAttribute || !target.hasAttribute("data-live")) return;
    openDetails = Array.prototype.map.call(target.querySelectorAll("details[open][id]"), function (d) {
      return d.id;
    });
    var active = document.activeElement;
    liveFocus = active && active !== document.body && target.contains(active) ? focusKey(active) : null;
  });
  function restoreLiveState(root) {
    openDetails.forEach(function (id) {
      var details = document.getElementById(id);
      if (details && root.contains(details)) details.open = true;
    });
    openDetails = [];
    if (liveFocus) {
      var again = findByKey(root, liveFocus);
      if (again && root.contains(again) && document.activeElement !== again) again.focus({ preventScroll: true });
      liveFocus = null;
    }
  }

  // Show 4xx responses that carry HTML (validation errors) instead of dropping them.

  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (status === 422 || status === 409) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // -- confirmation dialogs ------------------------------------------------------------
  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-open-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.dataset.openDialog);
      if (dialog && dialog.showModal) {
        event.preventDefault();
        dialog.showModal();
        var focus = dialog.querySelector("[autofocus]") || dialog.querySelector("button");
        if (focus) focus.focus();
      }
      return;
    }
    var closer = event.target.closest("[data-close-dialog]");
    if (closer) {
      var parent = closer.closest("dialog");
      if (parent) { event.preventDefault(); parent.close(); }
      return;
    }
    var deleting = event.target.closest("[data-delete-schedule]");
    var shared = document.getElementById("delete-dialog");
    if (deleting && shared && shared.showModal && window.htmx) {
      event.preventDefault();
      shared.dataset.scheduleId = deleting.dataset.deleteSchedule;
      shared.querySelector("[data-slot='name']").textContent = deleting.dataset.name;
      shared.showModal();
      shared.querySelector("[autofocus]").focus();
      return;
    }
    if (event.target.closest("[data-confirm-delete]") && shared) {
      var id = shared.dataset.scheduleId;
      shared.close();
      htmx.ajax("POST", "/schedules/" + id + "/delete", {
        target: "#schedule-" + id, swap: "outerHTML", values: { from: "list" },
      });
      return;
    }
    var preset = event.target.closest("[data-cron-preset]");
    if (preset) {
      event.preventDefault();
      var input = document.getElementById(preset.dataset.target || "field-cron");
      if (input) {
        input.value = preset.dataset.cronPreset;
        input.dispatchEvent(new Event("input", { bubbles: true }));
        input.dispatchEvent(new Event("change", { bubbles: true }));
        input.focus();
      }
      return;
    }
    if (event.target.closest("#theme-toggle")) {
      var next = THEMES[(THEMES.indexOf(currentTheme()) + 1) % THEMES.length];
      applyTheme(next);
      return;
    }
    var copy = event.target.closest("[data-copy]");
    if (copy && navigator.clipboard) {
      var source = document.getElementById(copy.dataset.copy);
      if (source) {
        navigator.clipboard.writeText(source.textContent.trim()).then(function () { toast("Copied"); });
      }
    }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var dialog = event.target.closest && event.target.closest("dialog");
    if (dialog && event.detail.successful && dialog.open) dialog.close();
  });

  // -- a user's role: Set shows once it differs; a role taken away is confirmed first -----
  var ROLES = ["viewer", "operator", "admin"];
  function syncRoleForm(select) {
    var button = select.form && select.form.querySelector("[data-role-set]");
    if (button) button.disabled = select.value === select.dataset.current;
  }
  function demotionRefused(select) {
    var before = select.dataset.current;
    if (!before || ROLES.indexOf(select.value) >= ROLES.indexOf(before)) return false;
    var question = "Demote " + select.dataset.roleOf + " from " + before + " to " + select.value +
      "? They lose what " + before + "s may do at once.";
    if (window.confirm(question)) return false;
    select.value = before;
    syncRoleForm(select);
    return true;
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var role = form.matches("[data-role-form]") && form.querySelector("[data-role-of]");
    if ((role && demotionRefused(role)) ||
        (form.dataset.confirm && !window.confirm(form.dataset.confirm))) {
      event.preventDefault();
    }
  });

  // -- auto-submitting selects (filters, page size) ------------------------------------
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("[data-role-of]")) syncRoleForm(target);
    if (target.matches("[data-autosubmit]") && target.form) {
      if (target.form.requestSubmit) target.form.requestSubmit(); else target.form.submit();
    }
    if (target.matches("input[name='trigger']")) showTriggerSection(target.form);
    if (target.matches("#field-task")) showTaskDefaults(target);
  });

  // -- the schedule form: placeholders show the chosen task's defaults -----------------
  function showTaskDefaults(select) {
    var option = select.options[select.selectedIndex];
    if (!option || !select.form) return;
    select.form.querySelectorAll("[data-task-default]").forEach(function (input) {
      var value = option.getAttribute("data-default-" + input.dataset.taskDefault);
      if (value === null) return;
      input.placeholder = value === "" ? "none" : "task default: " + value;
    });
  }

  // -- the schedule form: show the inputs of the chosen trigger ------------------------
  function showTriggerSection(form) {
    if (!form) return;
    var chosen = form.querySelector("input[name='trigger']:checked");
    var value = chosen ? chosen.value : "cron";
    form.querySelectorAll("[data-trigger-section]").forEach(function (section) {
      var on = section.dataset.triggerSection.split(" ").indexOf(value) >= 0;
      section.hidden = !on;
      section.querySelectorAll("input, select, textarea").forEach(function (el) {
        if (!el.hasAttribute("data-always")) el.disabled = !on;
      });
    });
  }

  // -- charts (uPlot) ------------------------------------------------------------------
  var charts = [];
  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }
  function buildChart(el) {
    if (typeof uPlot === "undefined") return;
    var spec;
    try { spec = JSON.parse(el.querySelector("script[type='application/json']").textContent); } catch (e) { return; }
    var zone = document.body.dataset.zone || "UTC";
    var width = Math.max(200, el.clientWidth);
    var height = spec.height || 220;
    var axisColor = cssVar("--text-2");
    var gridColor = cssVar("--border");
    var tzDate = function (ts) {
      try { return uPlot.tzDate(new Date(ts * 1e3), zone); } catch (e) { return new Date(ts * 1e3); }
    };
    var series = [{ label: "time" }];
    var data = [spec.x];
    var bars = spec.kind === "bars";
    var points = spec.kind === "points";
    if (bars) {
      // stacked: draw running totals, the tallest first, so each colour shows its share.
      var totals = spec.x.map(function () { return 0; });
      var stacked = spec.series.map(function (s) {
        totals = totals.map(function (t, i) { return t + (s.values[i] || 0); });
        return totals.slice();
      });
      spec.series.forEach(function (s, i) {
        var raw = s.values;
        series.push({
          label: s.label,
          fill: cssVar(s.color), stroke: cssVar(s.color), width: 0,
          paths: uPlot.paths.bars({ size: [0.8, 40], align: 0 }),
          points: { show: false },
          value: function (u, v, si, idx) { return idx == null ? "" : String(raw[idx] || 0); },
        });
        data.push(stacked[i]);
      });
      // draw order: totals (last) first
      var order = series.slice(1).map(function (_, i) { return i + 1; }).reverse();
      series = [series[0]].concat(order.map(function (i) { return series[i]; }));
      data = [data[0]].concat(order.map(function (i) { return data[i]; }));
    } else {
      spec.series.forEach(function (s) {
        var color = cssVar(s.color);
        var entry = {
          label: s.label, stroke: color, width: points ? 0 : 2, spanGaps: true,
          value: function (u, v) { return v == null ? "–" : (spec.unit === "%" ? v.toFixed(0) + "%" : fmtSeconds(v)); },
          points: { show: points || s.values.length < 40, size: points ? 6 : 5, fill: color, stroke: color },
        };
        if (points) entry.paths = function () { return null; };
        series.push(entry);
        data.push(s.values);
      });
    }
    var opts = {
      width: width, height: height, series: series, tzDate: tzDate,
      legend: { show: true, live: false },
      cursor: { points: { show: !bars } },
      scales: {
        // bars are centred on their hour: pad half a step so the first and last are whole
        x: spec.x_range
          ? { time: true, range: function () { return spec.x_range.slice(); } }
          : bars && spec.x.length > 1
          ? { time: true, range: function (u, min, max) {
              var half = (spec.x[1] - spec.x[0]) / 2;
              return [min - half, max + half];
            } }
          : { time: true },
        y: spec.unit === "%"
          ? { range: [0, 100] }
          : { range: function (u, min, max) { return [0, Math.max(max || 1, 1) * 1.1]; } },
      },
      axes: [
        {
          stroke: axisColor, grid: { stroke: gridColor, width: 1 }, ticks: { stroke: gridColor }, space: 70,
          // 24-hour clock, day and month names: [tick size, format, then on a new year/month/day…]
          values: [
            [86400 * 28, "{MMM}", "\n{YYYY}", null, null, null, null, null, 1],
            [86400, "{D} {MMM}", "\n{YYYY}", null, null, null, null, null, 1],
            [3600, "{HH}:{mm}", "\n{D} {MMM}", null, "\n{D} {MMM}", null, null, null, 1],
            [60, "{HH}:{mm}", "\n{D} {MMM}", null, "\n{D} {MMM}", null, null, null, 1],
            [1, "{HH}:{mm}:{ss}", "\n{D} {MMM}", null, "\n{D} {MMM}", null, "\n{HH}:{mm}", null, 1],
          ],
        },
        {
          stroke: axisColor, grid: { stroke: gridColor, width: 1 }, ticks: { stroke: gridColor },
          // wide enough for the longest label ("100%", "12.5 min"), never clipped
          size: function (u, values) {
            var longest = (values || []).reduce(function (n, v) { return Math.max(n, String(v).length); }, 0);
            return Math.max(48, 14 + longest * 8);
          },
          incrs: spec.unit ? undefined : [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000],
          values: function (u, ticks) {
            return ticks.map(function (t) {
              return spec.unit === "%" ? t + "%" : (spec.unit === "s" ? fmtSeconds(t) : String(t));
            });
          },
        },
      ],
    };
    var holder = el.querySelector(".chart-holder");
    holder.innerHTML = "";
    var chart = new uPlot(opts, data, holder);
    charts.push({ el: el, chart: chart });
  }
  function fmtSeconds(v) {
    if (v == null) return "–";
    if (v < 1) return Math.round(v * 1000) + " ms";
    if (v < 60) return v.toFixed(1) + " s";
    if (v < 3600) return (v / 60).toFixed(1) + " min";
    return (v / 3600).toFixed(1) + " h";
  }
  function initCharts(root) {
    // Charts of content htmx swapped out are gone from the page: let them go.
    charts = charts.filter(function (c) {
      if (document.contains(c.el)) return true;
      c.chart.destroy();
      return false;
    });
    (root || document).querySelectorAll("[data-chart]").forEach(buildChart);
  }
  function redrawCharts() {
    var els = charts.map(function (c) { c.chart.destroy(); return c.el; });
    charts = [];
    els.forEach(buildChart);
  }
  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      charts.forEach(function (c) {
        c.chart.setSize({ width: Math.max(200, c.el.clientWidth), height: c.chart.height });
      });
    }, 150);
  });
  if (window.matchMedia) {
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", redrawCharts);
  }

  // Bulk actions: the page's checkbox ticks every row; the count follows the ticks.
  function bulkForm(name) { return document.getElementById(name); }
  function syncBulkCount(formId) {
    var form = bulkForm(formId);
    if (!form) return;
    var items = document.querySelectorAll("input[data-bulk-item][form='" + formId + "']");
    var ticked = Array.prototype.filter.call(items, function (i) { return i.checked; }).length;
    form.querySelectorAll("[data-bulk-count]").forEach(function (el) { el.textContent = String(ticked); });
    form.querySelectorAll("[data-bulk-selected]").forEach(function (el) { el.disabled = ticked === 0; });
    var page = document.querySelector("input[data-bulk-page='" + formId + "']");
    if (page) {
      page.checked = ticked > 0 && ticked === items.length;
      page.indeterminate = ticked > 0 && ticked < items.length;
    }
  }
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!(target instanceof HTMLInputElement)) return;
    if (target.hasAttribute("data-bulk-page")) {
      var formId = target.getAttribute("data-bulk-page");
      document.querySelectorAll("input[data-bulk-item][form='" + formId + "']").forEach(function (i) {
        i.checked = target.checked;
      });
      syncBulkCount(formId);
    } else if (target.hasAttribute("data-bulk-item")) {
      syncBulkCount(target.getAttribute("form"));
    }
  });

  // -- the schedule form: allowed time windows as rows ---------------------------------
  // The form posts the textarea "windows" (the API's JSON list). This editor shows it as
  // rows of day checkboxes and from/to times, and writes the JSON back on every change;
  // JSON it cannot show as rows stays in the textarea as typed.
  var DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
  var DAY_LABELS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
  var TIME = /^\d{2}:\d{2}(:\d{2})?$/;
  function rowsOf(text) {
    if (!text.trim()) return [];
    var parsed;
    try { parsed = JSON.parse(text); } catch (e) { return null; }
    if (!Array.isArray(parsed) || parsed.length > 100) return null;
    var rows = [];
    for (var i = 0; i < parsed.length; i++) {
      var w = parsed[i];
      if (!w || typeof w !== "object" || Array.isArray(w)) return null;
      var keys = Object.keys(w).filter(function (k) { return ["days", "start", "end"].indexOf(k) < 0; });
      if (keys.length) return null;
      var days = w.days == null ? DAYS.slice() : w.days;
      if (!Array.isArray(days) || days.some(function (d) { return DAYS.indexOf(d) < 0; })) return null;
      if ((w.start != null && !TIME.test(w.start)) || (w.end != null && !TIME.test(w.end))) return null;
      rows.push({ days: days, start: w.start || "", end: w.end || "" });
    }
    return rows;
  }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) node.textContent = text;
    return node;
  }
  function windowRow(editor, row) {
    var box = el("div", { class: "window-row", role: "group" });
    var days = el("div", { class: "window-days" });
    DAYS.forEach(function (day, i) {
      var label = el("label", { class: "check" });
      var box2 = el("input", { type: "checkbox", value: day, "data-window-day": "" });
      box2.checked = row.days.indexOf(day) >= 0;
      label.appendChild(box2);
      label.appendChild(document.createTextNode(" " + DAY_LABELS[i]));
      days.appendChild(label);
    });
    box.appendChild(days);
    [["start", "From"], ["end", "to"]].forEach(function (part) {
      var label = el("label", { class: "window-time" }, part[1] + " ");
      var input = el("input", { type: "time", "data-window-part": part[0] });
      if (/:\d{2}:\d{2}$/.test(row[part[0]])) input.step = "1";
      input.value = row[part[0]];
      label.appendChild(input);
      box.appendChild(label);
    });
    box.appendChild(el("span", { class: "muted small window-note", "data-window-note": "" }));
    box.appendChild(el("button", { type: "button", class: "btn small", "data-remove-window": "" }, "Remove"));
    editor.querySelector("[data-window-rows]").appendChild(box);
    return box;
  }
  function renumberWindows(editor) {
    var rows = editor.querySelectorAll(".window-row");
    rows.forEach(function (row, i) {
      row.setAttribute("aria-label", "Window " + (i + 1));
      row.querySelector("[data-remove-window]").setAttribute("aria-label", "Remove window " + (i + 1));
      var start = row.querySelector("[data-window-part='start']").value;
      var end = row.querySelector("[data-window-part='end']").value;
      var note = row.querySelector("[data-window-note]");
      var none = !row.querySelector("[data-window-day]:checked");
      var same = !none && (start || "00:00") === (end || "23:59:59");
      row.dataset.problem = none ? "days" : (same ? "end" : "");
      note.textContent = none ? "pick at least one day" : (same ? "from and to are the same"
        : (start && end && end < start ? "ends the next day" : ""));
    });
    var empty = editor.querySelector("[data-windows-empty]");
    empty.hidden = rows.length > 0;
  }
  function writeWindows(editor) {
    var textarea = editor.closest("form").querySelector("textarea[name='windows']");
    var windows = Array.prototype.map.call(editor.querySelectorAll(".window-row"), function (row) {
      var w = { days: Array.prototype.map.call(row.querySelectorAll("[data-window-day]:checked"), function (b) { return b.value; }) };
      var start = row.querySelector("[data-window-part='start']").value;
      var end = row.querySelector("[data-window-part='end']").value;
      if (start) w.start = start;
      if (end) w.end = end;
      return w;
    });
    textarea.value = windows.length ? JSON.stringify(windows) : "";
    renumberWindows(editor);
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
    textarea.dispatchEvent(new Event("change", { bubbles: true }));
  }
  function initWindowsEditor(form) {
    var editor = form.querySelector("[data-windows-editor]");
    var textarea = form.querySelector("textarea[name='windows']");
    if (!editor || !textarea || editor.dataset.ready) return;
    var rows = rowsOf(textarea.value);
    if (rows === null) return;  // not rows: the JSON stays editable as typed
    editor.dataset.ready = "true";
    editor.appendChild(el("p", { class: "muted small", "data-windows-empty": "" }, "Any time: no windows."));
    editor.appendChild(el("div", { class: "window-rows", "data-window-rows": "" }));
    editor.appendChild(el("button", { type: "button", class: "btn small", "data-add-window": "" }, "Add window"));
    rows.forEach(function (row) { windowRow(editor, row); });
    renumberWindows(editor);
    editor.hidden = false;
    form.querySelector("[data-windows-raw]").hidden = true;
    if (textarea.getAttribute("aria-invalid") === "true") {
      // The refused windows: the first row that is wrong (or the first control) takes the
      // mark, so focus lands in the editor and the message is read with it.
      var bad = editor.querySelector(".window-row[data-problem='days'], .window-row[data-problem='end']");
      var target = bad && bad.dataset.problem === "end"
        ? bad.querySelector("[data-window-part='end']")
        : (bad || editor).querySelector("input, button");
      target.setAttribute("aria-invalid", "true");
      target.setAttribute("aria-describedby", "field-windows-error field-windows-help");
    }
    editor.addEventListener("change", function (event) {
      if (event.target.matches("[data-window-day], [data-window-part]")) writeWindows(editor);
    });
    editor.addEventListener("input", function (event) {
      if (event.target.matches("[data-window-part]")) writeWindows(editor);
    });
    editor.addEventListener("click", function (event) {
      if (event.target.closest("[data-add-window]")) {
        var row = windowRow(editor, { days: DAYS.slice(0, 5), start: "09:00", end: "17:00" });
        writeWindows(editor);
        row.querySelector("input").focus();
        return;
      }
      var remove = event.target.closest("[data-remove-window]");
      if (remove) {
        var gone = remove.closest(".window-row");
        var next = gone.nextElementSibling || gone.previousElementSibling;
        gone.remove();
        writeWindows(editor);
        (next ? next.querySelector("[data-remove-window]") : editor.querySelector("[data-add-window]")).focus();
      }
    });
  }

  function onLoad(root) {
    restoreLiveState(root);
    root.querySelectorAll("form[data-schedule-form]").forEach(initWindowsEditor);
    root.querySelectorAll("form[data-schedule-form]").forEach(showTriggerSection);
    if (root.matches && root.matches("form[data-schedule-form]")) showTriggerSection(root);
    initCharts(root);
    ["bulk-schedules", "bulk-runs"].forEach(syncBulkCount);
    root.querySelectorAll("select[data-role-of]").forEach(syncRoleForm);
  }

  // -- a refused form: its first invalid field takes focus; each message shows once ------
  function focusFirstError() {
    var banner = document.getElementById("form-errors");
    if (!banner) return;
    var first = Array.prototype.find.call(
      document.querySelectorAll("form [aria-invalid='true']:not([disabled])"),
      function (el) { return el.getClientRects().length > 0; });
    (first || banner).focus();
  }
  // Fields of the preview the user changed since the page loaded.
  var editedFields = {};
  function markEdited(event) {
    var el = event.target;
    if (el && el.classList && el.classList.contains("timing-input") && el.name) editedFields[el.name] = true;
  }
  document.addEventListener("input", markEdited, true);
  document.addEventListener("change", markEdited, true);
  document.body.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target || target.id !== "timing-preview") return;
    // Each message once. When the form comes back refused, the message stays next to its
    // field (which has focus) and the preview's copy is hidden; once the user changes a
    // field, the live preview speaks for it and the stale message by the field goes.
    var live = target.querySelector(".field-error");
    var liveKey = live ? live.id.replace(/^field-/, "").replace(/-preview-error$/, "") : null;
    var first = !target.dataset.swapped;
    target.dataset.swapped = "true";
    document.querySelectorAll("[data-timing-error]").forEach(function (el) {
      var key = el.id.replace(/^field-/, "").replace(/-error$/, "");
      if (first && key === liveKey) {
        live.hidden = true;
        el.hidden = false;
        var wait = document.createElement("p");
        wait.className = "muted";
        wait.textContent = "No preview until the marked field is fixed.";
        live.after(wait);
      } else {
        el.hidden = !!editedFields[key] || key === liveKey;
      }
    });
  });

  document.addEventListener("DOMContentLoaded", function () {
    applyTheme(currentTheme());
    syncTimeZone();
    document.querySelectorAll("form[data-schedule-form]").forEach(initWindowsEditor);
    focusFirstError();
  });
  if (window.htmx) {
    htmx.onLoad(onLoad);
  } else {
    document.addEventListener("DOMContentLoaded", function () { onLoad(document); });
  }
})();
