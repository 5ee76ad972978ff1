// Behaviour that htmx attributes cannot express. No inline scripts anywhere: the CSP forbids them.
"use strict";

document.addEventListener("htmx:responseError", (event) => {
  const xhr = event.detail.xhr;
  if (xhr.status === 401) {
    window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname + window.location.search));
  }
});

// ---------------------------------------------------------------------------------------------------------
// Live updates. The server pushes, for each event, HTML elements swapped out of band (the same row partials
// the sections render) preceded by <meta name="live-event" content="ID">. This extension keeps the id of the
// last event shown, so that a reconnecting socket resumes from it (?after=ID) and the server replays what was
// missed; and it drops what must not be swapped: elements whose target is not on the page (a section not
// loaded yet will read the database itself), entries already shown, entries the page's filters hide.
// ---------------------------------------------------------------------------------------------------------

const live = {
  lastEventId: 0,
  paused: false,
  held: [],
};

function liveRoot() {
  return document.getElementById("live");
}

// Reconnect after a random delay under a ceiling that doubles with each failed attempt (spreading the pages
// of a restarted server), but never above 10 s, so a page back from a network drop is live again soon.
htmx.config.wsReconnectDelay = (retryCount) => Math.min(1000 * 2 ** retryCount, 10000) * Math.random();

htmx.createWebSocket = (url) => {
  // The first connection resumes from the page's own render (htmx connects before DOMContentLoaded
  // handlers of later scripts run, so read it here).
  const root = liveRoot();
  if (!live.lastEventId && root) live.lastEventId = Number(root.dataset.after) || 0;
  const resume = new URL(url, window.location.href);
  resume.searchParams.set("after", String(live.lastEventId));
  const socket = new WebSocket(resume.toString());
  socket.binaryType = htmx.config.wsBinaryType;
  return socket;
};

function oobTarget(element) {
  const spec = element.getAttribute("hx-swap-oob");
  if (!spec) return null;
  const colon = spec.indexOf(":");
  const selector = colon > 0 ? spec.slice(colon + 1) : "#" + CSS.escape(element.id);
  return document.querySelector(selector);
}

// Table rows (an invoice, a work order) come wrapped in <template>: each replaces the element with its id, if
// the page shows it and shows an older state of it. data-version is raised by every change of the row in the
// database: a row rendered before a change can arrive after it, and must not undo it; the same version is the
// same row (the page that made the change already shows it, with its confirmation, which a push would wipe
// out) unless what it shows has moved with the day (data-state: an invoice falling overdue).
function isNewer(row, current) {
  const version = Number(row.dataset.version), shown = Number(current.dataset.version);
  if (Number.isNaN(version) || Number.isNaN(shown)) return true;
  return version > shown || (version === shown && row.dataset.state !== current.dataset.state);
}

function replaceRows(content) {
  for (const row of Array.from(content.children)) replaceRow(row);
}

function replaceRow(row) {
  const current = row.id && document.getElementById(row.id);
  if (!current) return;
  if (current.querySelector(".htmx-request")) {
    // A form of this row awaits its answer, which replaces the row it was sent from, confirmation and all: a
    // push arriving first would detach that row and the answer would land nowhere. The push waits for the
    // answer, and applies then if it is still newer.
    document.body.addEventListener("htmx:afterRequest", () => replaceRow(row), { once: true });
    return;
  }
  if (!isNewer(row, current)) return;
  row.removeAttribute("hx-swap-oob");
  current.replaceWith(row);
  htmx.process(row);
}

function isInsertion(element) {
  return /^(afterbegin|beforeend):/.test(element.getAttribute("hx-swap-oob") || "");
}

function timelineAccepts(timeline, kind) {
  const filter = timeline.dataset.kind || "";
  return !filter || filter === kind;
}

function refreshSections(names) {
  for (const name of names) {
    if (document.getElementById("section-" + name)) htmx.trigger(document.body, "refresh-" + name);
  }
}

function refreshAllSections() {
  document.querySelectorAll("#customer-360 > section[id^='section-']").forEach((section) => {
    htmx.trigger(document.body, "refresh-" + section.id.slice("section-".length));
  });
  if (document.getElementById("activity-stream")) window.location.reload();
}

htmx.defineExtension("live", {
  transformResponse(text, xhr, elt) {
    if (xhr) return text; // only WebSocket messages (no XMLHttpRequest) pass through here
    const template = document.createElement("template");
    template.innerHTML = text;
    const refresh = [];
    for (const element of Array.from(template.content.children)) {
      if (element.matches("meta[name='live-event']")) {
        live.lastEventId = Math.max(live.lastEventId, Number(element.content) || 0);
        element.remove();
      } else if (element.matches("meta[name='live-refresh']")) {
        refresh.push(...element.content.split(" ").filter(Boolean));
        element.remove();
      } else if (element.matches("meta[name='live-resync']")) {
        live.lastEventId = Math.max(live.lastEventId, Number(element.content) || 0);
        element.remove();
        setTimeout(refreshAllSections, 0);
      } else if (element.matches("template[data-replace]")) {
        replaceRows(element.content);
        element.remove();
      } else {
        const target = oobTarget(element);
        // An entry inserted into a list (timeline, stream) rather than an element replaced in place.
        const entry = isInsertion(element) ? element.firstElementChild : null;
        if (!target) {
          element.remove();
        } else if (entry && entry.id && document.getElementById(entry.id)) {
          element.remove(); // already shown (a replay, or this page's own write)
        } else if (target.id === "activity-timeline" && !timelineAccepts(target, element.dataset.kind)) {
          element.remove();
        } else if (target.id === "activity-stream" && live.paused) {
          live.held.push(element.outerHTML);
          element.remove();
          showHeld();
        }
      }
    }
    if (refresh.length) setTimeout(() => refreshSections(refresh), 0);
    return template.innerHTML;
  },
});

// The words come from the page, in the user's language (data-label-* attributes rendered by the server).
function setStatus(state) {
  const status = document.getElementById("live-status");
  if (!status || status.dataset.state === state) return;
  status.dataset.state = state;
  status.textContent = status.dataset["label" + state.charAt(0).toUpperCase() + state.slice(1)] || state;
}

document.addEventListener("htmx:wsConnecting", () => {
  const status = document.getElementById("live-status");
  if (status && status.dataset.state !== "connecting") setStatus("reconnecting");
});
document.addEventListener("htmx:wsOpen", () => setStatus("live"));
document.addEventListener("htmx:wsClose", (event) => {
  // 1008: the session ended (signed out everywhere, account disabled): back to the sign-in form.
  if (event.detail.event && event.detail.event.code === 1008) {
    window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname + window.location.search));
    return;
  }
  setStatus(navigator.onLine ? "reconnecting" : "offline");
});
window.addEventListener("offline", () => setStatus("offline"));

document.addEventListener("DOMContentLoaded", setUpStream);

// An entry can arrive twice: pushed by the socket and returned by this page's own form. Keep the first.
document.addEventListener("htmx:oobBeforeSwap", (event) => {
  const fragment = event.detail.fragment;
  if (!fragment || !/^(activity-timeline|activity-pinned|activity-stream)$/.test(event.detail.target.id)) return;
  for (const entry of Array.from(fragment.children)) {
    if (entry.id && document.getElementById(entry.id)) entry.remove();
  }
  if (!fragment.children.length) event.detail.shouldSwap = false;
});

// Fresh entries are marked for a moment, then settle.
document.addEventListener("htmx:oobAfterSwap", (event) => {
  document.querySelectorAll(".entry.is-new").forEach((entry) => {
    setTimeout(() => entry.classList.remove("is-new"), 4000);
  });
  capStream();
});

// ---------------------------------------------------------------------------------------------------------
// The operations stream: filters hide rows without losing them; pause holds new entries and counts them.
// ---------------------------------------------------------------------------------------------------------

function streamFilter() {
  const kind = document.getElementById("stream-kind");
  const actor = document.getElementById("stream-actor");
  return { kind: kind ? kind.value : "", actor: actor ? actor.value : "" };
}

function applyStreamFilter() {
  const { kind, actor } = streamFilter();
  document.querySelectorAll("#activity-stream > li").forEach((row) => {
    row.hidden = (kind && row.dataset.kind !== kind) || (actor && row.dataset.actor !== actor);
  });
}

function capStream() {
  const stream = document.getElementById("activity-stream");
  if (!stream) return;
  applyStreamFilter();
  const cap = Number(stream.dataset.cap) || 200;
  while (stream.children.length > cap) stream.lastElementChild.remove();
}

function showHeld() {
  const held = document.getElementById("stream-held");
  if (!held) return;
  held.hidden = live.held.length === 0;
  held.textContent =
    live.held.length === 1 ? held.dataset.labelOne : held.dataset.labelMany.replace("{count}", String(live.held.length));
}

function setUpStream() {
  const form = document.getElementById("stream-filter");
  if (!form) return;
  form.addEventListener("change", applyStreamFilter);
  form.addEventListener("submit", (event) => event.preventDefault());
  const pause = document.getElementById("stream-pause");
  pause.addEventListener("click", () => {
    live.paused = !live.paused;
    pause.setAttribute("aria-pressed", String(live.paused));
    pause.textContent = live.paused ? pause.dataset.labelResume : pause.dataset.labelPause;
    if (!live.paused && live.held.length) {
      const stream = document.getElementById("activity-stream");
      const template = document.createElement("template");
      template.innerHTML = live.held.reverse().map((html) => html.replace(/^<ol[^>]*>|<\/ol>$/g, "")).join("");
      live.held = [];
      stream.prepend(template.content);
      htmx.process(stream);
      capStream();
    }
    showHeld();
  });
}

// Sections below the first screenful load as they come within a screen of view: htmx's `intersect` would
// wait until they are on screen, where a placeholder growing into its content pushes what is being read.
const nearObserver = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (!entry.isIntersecting) continue;
    nearObserver.unobserve(entry.target);
    htmx.trigger(entry.target, "near");
  }
}, { rootMargin: "100% 0px" });
document.addEventListener("DOMContentLoaded", () => {
  // Those within reach already are asked for now rather than at the observer's first report, which waits for
  // the first frame (htmx has set up its triggers: its own DOMContentLoaded handler ran before this one).
  const reach = 2 * window.innerHeight;
  document.querySelectorAll("[data-load-near]").forEach((placeholder) => {
    if (placeholder.getBoundingClientRect().top < reach) {
      htmx.trigger(placeholder, "near");
    } else {
      nearObserver.observe(placeholder);
    }
  });
});
