"""The check an advisor would make, in real Chromium, at desktop (1280 px) and phone (390 px) width, in French
and in English: the Customer 360 page of a customer who speaks the interface's language (the one with the
longest history, every lazy section brought in), the operations stream and the customer search.

For each page:

a. nothing moves by itself: the layout shifts Chromium reports (PerformanceObserver, 'layout-shift',
   buffered, registered before navigation), apart from those right after an input, add up to less than 0.02.
   The Customer 360 page is read a screen at a time, each screen once what it asked for has come: its first
   screenful comes with it, and the others before they are scrolled to. A failure lists each shift's elements
   with their boxes before and after, and the sections that arrived with another height than their
   placeholder's;
b. no console error, no uncaught page error, no response with a status of 400 or more, no failed request;
c. no string left in the other language: the words of the visible text (the rendered text, the title,
   visible elements' title, aria-label, placeholder, alt and data-label-* attributes (the words scripts put
   on the page), the options of visible lists, the value of input buttons) are checked against the other
   language's function words. Text marked as being in another language (lang="en" in a French page: an
   email as the customer received it, the consent wording the customer agreed to, the language switch) is
   what the page says it is and is not checked; text people wrote in the customer's language (a note, an
   email subject, a work order's description) shown in a page of the other language must be marked so too.
   Proper nouns from the database (people, companies, streets, cities, vehicle makes and models) are taken out
   first: "rue des Érables" is an address, not French left in an English page. On the Customer 360 page the
   collapsed parts (<details>: payment forms, consent changes, emails) are opened and read as well;
d. on the Customer 360 page, every visible control (link, button, field, list, summary, anything with
   tabindex >= 0) can be reached with the Tab key from the top of the page;
e. at 390 px, nothing is wider than the screen (a table may scroll inside its own box, if a keyboard can
   reach that box or something in it).

Each test runs every check and reports every problem found, grouped by check, so that one run says all there
is to fix. A failing test leaves a screenshot and the HTML in tests/artifacts/ (the open_page fixture).
"""

from __future__ import annotations

import re
import sqlite3
from collections import defaultdict
from urllib.parse import quote_plus

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Server, seeded_server

WIDTHS = (1280, 390)
LANGUAGES = ("fr", "en")
HEIGHT = 900
MAX_LAYOUT_SHIFT = 0.02

# The words that betray the other language. Matched whole and case-insensitively; a hyphen or an apostrophe
# joins a word ("Dollard-des-Ormeaux", "ne-pas-relancer", "l'Église" are one word each, none of them listed).
# Words both languages use are left out:
#   "a", "on", "as", "son", "note", "date", "total", "client", "service", "type", "message", "description" and
#   the like belong to both;
#   "an" is French too ("1 an", "par an": relative dates and yearly figures);
#   "no" is Quebec French's abbreviation of "numéro" ("no de facture");
#   "due" is French ("la somme due", "date due");
#   "or" is French too ("Or," the conjunction, "or" the metal), but rare in a shop's UI and common in
#   English: kept;
#   "plus" is English too ("plus taxes"): left out of the French words;
#   "encore" and "sans" are English too: not added.
ENGLISH_WORDS = frozenset(
    " ".join(
        (
            "the of and is was by for with paid still issued received added opened must this your you",
            "are has have to at from not or will been there which when than more less load new none yes",
            "show all any every were into about their please would could should after before since",
            "until only",
        )
    ).split()
)
FRENCH_WORDS = frozenset(
    " ".join(
        (
            "le la les des du est pour avec sur une aucun aucune au aux dans par pas ce cette vos votre nous",
            "sont été déjà moins tous toutes afficher reçu émise ajouté payée depuis avant après chez leur",
            "leurs entre selon très reçue payé émis ajoutée envoyé envoyée",
        )
    ).split()
)
OTHER_LANGUAGE_WORDS = {"fr": ENGLISH_WORDS, "en": FRENCH_WORDS}
WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """conftest's server, with longer histories (a customer of each language with hundreds of entries, so the
    timeline, the invoices and the documents are full pages) and enough customers for both languages."""
    with seeded_server(tmp_path_factory.mktemp("quality"), customers=30, activities=50) as server:
        yield server


def database(server: Server) -> sqlite3.Connection:
    return sqlite3.connect(server.database_url.removeprefix("sqlite:///"))


def customer_speaking(server: Server, language: str) -> int:
    """The customer of that language with the longest history."""
    with database(server) as conn:
        row = conn.execute(
            """SELECT c.id FROM customers c JOIN customer_activities a ON a.customer_id = c.id
               WHERE c.language = ? AND c.status = 'active' AND c.erased_at IS NULL
               GROUP BY c.id ORDER BY count(*) DESC, c.id LIMIT 1""",
            (language,),
        ).fetchone()
    assert row, f"the seed has no {language}-speaking customer"
    return row[0]


def customer_prefix(server: Server) -> str:
    """The three letters most last names start with: a search that finds more than one customer."""
    with database(server) as conn:
        (prefix,) = conn.execute(
            "SELECT substr(last_name, 1, 3) AS p FROM customers"
            " GROUP BY lower(p) ORDER BY count(*) DESC, p LIMIT 1"
        ).fetchone()
    return prefix


def proper_nouns(server: Server) -> re.Pattern:
    """People's, companies', streets', cities' names and vehicle makes and models, as stored: data, not
    interface text, whatever words they are made of. Longest first, whole words, case as stored."""
    with database(server) as conn:
        names = set()
        for query in (
            "SELECT first_name, last_name, first_name || ' ' || last_name, company, address_line1,"
            " address_line2, city FROM customers",
            "SELECT name FROM users",
            "SELECT make, model, make || ' ' || model FROM vehicles",
            "SELECT technician FROM work_orders",
        ):
            for row in conn.execute(query):
                names.update(value for value in row if value)
    names = sorted(names, key=len, reverse=True)
    return re.compile(r"(?<![\w'’-])(?:" + "|".join(map(re.escape, names)) + r")(?![\w'’-])")


# -- the page's own reports ---------------------------------------------------------------------------------

# Registered before the page's first byte: every layout shift, with what moved and from where to where (the
# element is described when the shift happens, as a section swapped in later replaces its placeholder).
LAYOUT_SHIFT_OBSERVER = """
(() => {
  if (window.__layoutShifts) return;
  window.__layoutShifts = [];
  const describe = (node) => {
    if (!node) return "(a node since removed)";
    const element = node.nodeType === 1 ? node : node.parentElement;
    if (!element) return "#text";
    let label = element.tagName.toLowerCase();
    if (element.id) label += "#" + element.id;
    else if (element.classList.length) label += "." + Array.from(element.classList).slice(0, 3).join(".");
    if (node.nodeType !== 1) label += " (text)";
    const section = element.closest("section[id], header, nav, main > *");
    if (section && section !== element) {
      label = (section.id ? "#" + section.id : section.tagName.toLowerCase()) + " › " + label;
    }
    return label;
  };
  const rect = (r) =>
    r ? `x=${Math.round(r.x)} y=${Math.round(r.y)} ${Math.round(r.width)}×${Math.round(r.height)}` : "-";
  const box = (element) => {
    const r = element.getBoundingClientRect();
    return {x: Math.round(r.x), y: Math.round(r.y), width: Math.round(r.width), height: Math.round(r.height)};
  };
  // Each section's box just before htmx swaps it in, and just after: a shift's source that is a placeholder
  // since replaced has no node any more, but its box says which one it was.
  window.__swaps = [];
  document.addEventListener("htmx:beforeSwap", (event) => {
    const target = event.detail.target;
    if (!target || !target.id || !target.isConnected) return;
    const swap = {id: target.id, at: Math.round(performance.now()), before: box(target), after: null};
    window.__swaps.push(swap);
    setTimeout(() => {
      const now = document.getElementById(swap.id);
      if (now) swap.after = box(now);
    }, 0);
  }, true);
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      window.__layoutShifts.push({
        value: entry.value,
        hadRecentInput: entry.hadRecentInput,
        at: Math.round(entry.startTime),
        sources: (entry.sources || []).map((source) => ({
          node: describe(source.node), previous: rect(source.previousRect), current: rect(source.currentRect),
        })),
      });
    }
  }).observe({type: "layout-shift", buffered: true});
})();
"""


class Watch:
    """What the browser reports while the page is used: console errors, page errors, failed responses."""

    def __init__(self, page) -> None:
        self.problems: list[str] = []
        page.on("console", self.console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("response", self.response)
        page.on("requestfailed", self.failed)

    def console(self, message) -> None:
        if message.type == "error":
            where = message.location or {}
            self.problems.append(
                f"console error: {message.text} ({where.get('url', '?')}:{where.get('lineNumber', '?')})"
            )

    def response(self, response) -> None:
        if response.status >= 400:
            self.problems.append(f"{response.status} {response.request.method} {response.url}")

    def failed(self, request) -> None:
        self.problems.append(f"request failed: {request.method} {request.url} ({request.failure})")


def layout_shifts(page) -> list[str]:
    """The shifts not caused by the user, if they add up to too much: each with what moved, from where to
    where, and the sections that arrived with another height than their placeholder (what pushed the rest)."""
    shifts, swaps = page.evaluate("[window.__layoutShifts || null, window.__swaps || []]")
    assert shifts is not None, "the layout-shift observer did not run"
    counted = [shift for shift in shifts if not shift["hadRecentInput"]]
    total = sum(shift["value"] for shift in counted)
    if total < MAX_LAYOUT_SHIFT:
        return []

    def placeholder(rect: str) -> str:
        for swap in swaps:
            box = swap["before"]
            if rect == f"x={box['x']} y={box['y']} {box['width']}×{box['height']}":
                return f"#{swap['id']} (its placeholder, replaced at {swap['at']} ms)"
        return "(a node since removed)"

    lines = [f"cumulative layout shift {total:.4f} (limit {MAX_LAYOUT_SHIFT}), {len(counted)} shifts:"]
    for shift in sorted(counted, key=lambda shift: -shift["value"]):
        lines.append(f"  {shift['value']:.4f} at {shift['at']} ms:")
        for source in shift["sources"]:
            node = source["node"]
            if node == "(a node since removed)":
                node = placeholder(source["previous"])
            lines.append(f"    {node}: {source['previous']} → {source['current']}")
    resized = [
        f"#{swap['id']} at {swap['at']} ms: {swap['before']['height']} px → {swap['after']['height']} px"
        for swap in swaps
        if swap["after"] and abs(swap["after"]["height"] - swap["before"]["height"]) > 1
    ]
    if resized:
        lines.append("  swapped in with another height than before:")
        lines.extend(f"    {line}" for line in resized)
    return ["\n".join(lines)]


# -- bringing the page in ------------------------------------------------------------------------------------


def speak(page, language: str) -> None:
    """The signed-in user reads `language`: switched with the top bar's form if need be."""
    if page.get_attribute("html", "lang") != language:
        page.click(".language-switch button[type=submit]")
        page.wait_for_load_state()
    expect(page.locator("html")).to_have_attribute("lang", language)


def settle(page) -> None:
    """No htmx request in flight and the fonts in: what is on the page is what will stay."""
    page.wait_for_function("() => !document.querySelector('.htmx-request')", timeout=15_000)
    page.evaluate("document.fonts.ready.then(() => true)")
    page.wait_for_timeout(300)


PLACEHOLDERS_NEAR = """
() => Array.from(document.querySelectorAll("section[id^='section-']"))
  .filter((section) => {
    const box = section.getBoundingClientRect();
    return section.querySelector(".skeleton") && box.bottom > 0 && box.top < 2 * window.innerHeight;
  })
  .map((section) => section.id)
"""
NEXT_FRAME = "new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"


def bring_in_every_section(page) -> None:
    """Read down the page as an advisor would, a screen at a time, each screen read once what has been asked
    for has come: the sections on screen and within a screen below it (which the page asks for before they
    come into view). A section that loaded only once on screen, placeholder first, would push what is read."""
    for _ in range(200):
        page.wait_for_function(f"() => ({PLACEHOLDERS_NEAR})().length === 0", timeout=15_000)
        page.evaluate(NEXT_FRAME)
        if page.evaluate("window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 2"):
            break
        page.evaluate(f"window.scrollBy({{top: {int(HEIGHT * 0.8)}, behavior: 'instant'}})")
        page.evaluate(NEXT_FRAME)
    expect(page.locator(".skeleton")).to_have_count(0, timeout=15_000)
    settle(page)


# -- c. the words of the page --------------------------------------------------------------------------------

# Returns [{where, source, text}]: the visible text grouped by the block it is in, then the title, attributes
# and options. What is inside an element whose lang is not the page's is left out.
COLLECT_TEXT = """
() => {
  const pageLanguage = (document.documentElement.lang || "").toLowerCase().slice(0, 2);
  const shown = (element) =>
    element.checkVisibility({visibilityProperty: true, contentVisibilityAuto: true}) &&
    element.getClientRects().length > 0;
  const foreign = (element) => {
    const holder = element.closest("[lang]");
    return holder !== null && holder.lang.toLowerCase().slice(0, 2) !== pageLanguage;
  };
  const where = (element) => {
    const parts = [];
    const region = element.closest("section[id], header, nav, form[id], main > *");
    if (region) {
      const classes = Array.from(region.classList).slice(0, 2).map((name) => "." + name).join("");
      parts.push(region.id ? "#" + region.id : region.tagName.toLowerCase() + classes);
    }
    const owner = element.closest("[id]");
    if (owner && owner !== region && !(region && !region.contains(owner))) parts.push("#" + owner.id);
    const tag = element.tagName.toLowerCase() + (element.classList.length ? "." + element.classList[0] : "");
    parts.push(tag);
    return parts.join(" › ");
  };
  const inlineTags =
    /^(A|ABBR|B|BDI|BDO|CITE|CODE|DATA|EM|I|KBD|MARK|Q|S|SAMP|SMALL|SPAN|STRONG|SUB|SUP|TIME|U|VAR|BR|WBR)$/;
  const blockOf = (element) => {
    let current = element;
    while (current && current !== document.body) {
      const inline = getComputedStyle(current).display.startsWith("inline");
      if (!inlineTags.test(current.tagName) || !inline) return current;
      current = current.parentElement;
    }
    return document.body;
  };
  const chunks = [];
  const blocks = new Map();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || /^(SCRIPT|STYLE|TEMPLATE|NOSCRIPT)$/.test(parent.tagName) || !node.data.trim()) continue;
    if (!shown(parent)) continue;
    if (foreign(parent)) continue;
    const block = blockOf(parent);
    if (!blocks.has(block)) blocks.set(block, []);
    blocks.get(block).push(node.data);
  }
  for (const [block, texts] of blocks) {
    chunks.push({where: where(block), source: "text", text: texts.join("").replace(/\\s+/g, " ").trim()});
  }
  chunks.push({where: "document", source: "<title>", text: document.title});
  const attributes = ["title", "aria-label", "aria-description", "aria-roledescription", "aria-valuetext",
                      "placeholder", "alt"];
  for (const element of document.body.querySelectorAll("*")) {
    if (!shown(element)) continue;
    if (foreign(element)) continue;
    const labels = element.getAttributeNames().filter((name) => name.startsWith("data-label"));
    const names = attributes.concat(labels);
    for (const name of names) {
      const value = element.getAttribute(name);
      if (value && value.trim()) chunks.push({where: where(element), source: name, text: value.trim()});
    }
    if (element.matches("input[type=submit], input[type=button], input[type=reset]") && element.value) {
      chunks.push({where: where(element), source: "value", text: element.value});
    }
    if (element.tagName === "SELECT") {
      for (const option of element.options) {
        if (foreign(option)) continue;
        const text = option.text.trim();
        if (text) chunks.push({where: where(element), source: "<option>", text});
        if (option.label && option.label.trim() !== text) {
          chunks.push({where: where(element), source: "<option label>", text: option.label});
        }
      }
    }
  }
  return chunks;
}
"""


def untranslated(page, language: str, nouns: re.Pattern, seen: set, state: str = "") -> list[str]:
    """The other language's words in what the page shows, grouped by sentence (digits aside), with where;
    what `seen` holds was reported already, in another state of the same page."""
    words = OTHER_LANGUAGE_WORDS[language]
    chunks = page.evaluate(COLLECT_TEXT)
    found: dict[tuple[str, str], list[tuple[str, str, list[str]]]] = defaultdict(list)
    for chunk in chunks:
        text = nouns.sub(" ", chunk["text"])
        hits = sorted({word for word in WORD.findall(text.lower()) if word in words})
        if hits:
            key = (chunk["source"], re.sub(r"\d+", "#", chunk["text"]))
            if key in seen:
                continue
            found[key].append((chunk["where"], chunk["text"], hits))
    seen.update(found)
    lines = []
    for (source, _), occurrences in sorted(found.items(), key=lambda item: item[1][0][0]):
        where, text, hits = occurrences[0]
        more = f" (and {len(occurrences) - 1} more like it)" if len(occurrences) > 1 else ""
        attribute = "" if source == "text" else f" [{source}]"
        lines.append(f"{state}{where}{attribute}: «{text[:160]}» — {', '.join(hits)}{more}")
    return lines


# -- d. the keyboard ----------------------------------------------------------------------------------------

CONTROLS = """
window.__controls = () => {
  const selector = 'a[href], area[href], button, input, select, textarea, iframe, summary, [tabindex], ' +
                   '[contenteditable]:not([contenteditable="false"])';
  return Array.from(document.querySelectorAll(selector)).filter((element) => {
    if (element.matches("input[type=hidden], :disabled")) return false;
    // tabindex="-1" takes an element out of the Tab order: fine for a box made focusable for scripts, not for
    // a link, a button or a field, which stay on the list.
    const native = element.matches("a[href], area[href], button, input, select, textarea, iframe, summary");
    if (!native && element.tabIndex < 0) return false;
    if (element.tagName === "SUMMARY") {
      const details = element.parentElement;
      if (!details || details.tagName !== "DETAILS") return false;
      if (details.querySelector(":scope > summary") !== element) return false;
    }
    return element.checkVisibility({visibilityProperty: true, contentVisibilityAuto: true}) &&
           element.getClientRects().length > 0;
  });
};
window.__describe = (element) => {
  let label = element.tagName.toLowerCase();
  if (element.id) label += "#" + element.id;
  else if (element.classList.length) label += "." + Array.from(element.classList).slice(0, 2).join(".");
  for (const name of ["href", "name", "type"]) {
    if (element.hasAttribute(name)) label += `[${name}=${element.getAttribute(name)}]`;
  }
  const text = element.innerText || element.value || element.getAttribute("aria-label") || "";
  if (text.trim()) label += ` “${text.trim().replace(/\\s+/g, " ").slice(0, 50)}”`;
  const region = element.closest("section[id], header, nav, main > *");
  if (region && region !== element) {
    label += ` in ${region.id ? "#" + region.id : region.tagName.toLowerCase()}`;
  }
  return label;
};
window.__focusLog = [];
document.addEventListener("focusin", (event) => window.__focusLog.push(event.target), true);
window.__cycled = () => {
  const log = window.__focusLog;
  return log.length > 1 && log.indexOf(log[0], 1) > 0;
};
// A group of radio buttons is one stop of the Tab key (the arrows move within it).
window.__radioGroup = (element) => element.type === "radio" && element.name
  ? (element.form ? element.form.id : "") + "/" + element.name
  : null;
window.__unreachable = () => {
  const reached = new Set(window.__focusLog);
  const groups = new Set(window.__focusLog.map(window.__radioGroup).filter(Boolean));
  return window.__controls()
    .filter((element) => !reached.has(element) && !groups.has(window.__radioGroup(element)))
    .map(window.__describe);
};
"""


def unreachable_by_tab(page) -> list[str]:
    """Press Tab from the top of the page until the focus comes back to where it started; the visible
    controls it never reached."""
    page.evaluate(CONTROLS)
    page.evaluate("window.scrollTo(0, 0); if (document.activeElement) document.activeElement.blur()")
    count = page.evaluate("window.__controls().length")
    limit = 3 * count + 60
    presses = 0
    while presses < limit:
        for _ in range(20):
            page.keyboard.press("Tab")
        presses += 20
        if page.evaluate("window.__cycled()"):
            break
    else:
        last = page.evaluate("window.__focusLog.slice(-5).map(window.__describe)")
        return [f"the focus did not come back to the top after {presses} presses of Tab; last: {last}"]
    return [f"not reachable with Tab: {control}" for control in page.evaluate("window.__unreachable()")]


# -- e. the width ------------------------------------------------------------------------------------------

OVERFLOW = """
() => {
  const width = window.innerWidth;
  const problems = [];
  const describe = (element) => {
    let label = element.tagName.toLowerCase();
    if (element.id) label += "#" + element.id;
    else if (element.classList.length) label += "." + Array.from(element.classList).slice(0, 3).join(".");
    const region = element.closest("section[id], header, nav, main > *");
    if (region && region !== element) {
      label = (region.id ? "#" + region.id : region.tagName.toLowerCase()) + " › " + label;
    }
    return label;
  };
  const scrolls = (element) => /(auto|scroll|hidden|clip)/.test(getComputedStyle(element).overflowX);
  const scrollWidth = document.documentElement.scrollWidth;
  if (scrollWidth > width) {
    // The outermost elements that stick out to the right, outside any box of their own that scrolls or clips.
    const culprits = [];
    for (const element of document.body.querySelectorAll("*")) {
      const box = element.getBoundingClientRect();
      if (box.right <= width + 0.5 || !element.checkVisibility()) continue;
      let contained = false;
      for (let up = element.parentElement; up && up !== document.body; up = up.parentElement) {
        if (scrolls(up) || culprits.includes(up)) { contained = true; break; }
      }
      if (!contained) culprits.push(element);
    }
    const edges = culprits.slice(0, 12).map((element) =>
      `${describe(element)} (right edge at ${Math.round(element.getBoundingClientRect().right)} px)`);
    problems.push(
      `the page is ${scrollWidth} px wide on a ${width} px screen; sticking out: ${edges.join(", ")}`);
  }
  // A box that scrolls sideways must be reachable from the keyboard: focusable itself or holding a control.
  const focusable = 'a[href], button:not(:disabled), input:not([type=hidden]):not(:disabled), ' +
    'select:not(:disabled), textarea:not(:disabled), summary, [tabindex]:not([tabindex^="-"])';
  for (const element of document.body.querySelectorAll("*")) {
    if (!element.checkVisibility() || !/(auto|scroll)/.test(getComputedStyle(element).overflowX)) continue;
    if (element.scrollWidth <= element.clientWidth + 1) continue;
    const reachable = element.tabIndex >= 0 && element.hasAttribute("tabindex") ||
      Array.from(element.querySelectorAll(focusable)).some((control) => control.checkVisibility());
    if (!reachable) {
      problems.push(`${describe(element)} scrolls sideways (${element.scrollWidth} px in ` +
        `${element.clientWidth} px) and nothing in it takes the keyboard focus`);
    }
  }
  return problems;
}
"""


def too_wide(page) -> list[str]:
    return page.evaluate(OVERFLOW)


# -- the report --------------------------------------------------------------------------------------------


def report(problems: dict[str, list[str]], what: str) -> None:
    found = {check: lines for check, lines in problems.items() if lines}
    if found:
        count = sum(map(len, found.values()))
        message = [f"{what}: {count} problem{'s' if count > 1 else ''}"]
        for check, lines in found.items():
            message.append(f"{check}:")
            message.extend(f"  {line}" for line in lines)
        pytest.fail("\n".join(message), pytrace=False)


def open_details(page) -> None:
    """Open every collapsed part (payment forms, consent changes, revenue figures, emails): they are the
    page's words too, only one click away."""
    page.evaluate("document.querySelectorAll('details:not([open])').forEach((each) => each.open = true)")
    page.wait_for_timeout(200)
    settle(page)


def reader(open_page, server, email: str, width: int, language: str):
    """A signed-in page reading `language` at `width`, watched for errors and layout shifts from its next
    navigation on; with the proper nouns of the data and an empty set of what was reported already."""
    page = open_page(email)
    speak(page, language)
    page.set_viewport_size({"width": width, "height": HEIGHT})
    watch = Watch(page)
    page.add_init_script(LAYOUT_SHIFT_OBSERVER)
    return page, watch, proper_nouns(server), set()


# -- the tests ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("width", WIDTHS)
def test_the_customer_360_page(open_page, server, width, language):
    page, watch, nouns, seen = reader(open_page, server, "advisor@example.com", width, language)
    customer = customer_speaking(server, language)
    # A real network's latency: on loopback a section can arrive before the first paint, where nothing moves.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 150, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    page.goto(f"{server.base}/customers/{customer}")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live", timeout=10_000)
    bring_in_every_section(page)
    problems = {
        "a. layout shift": layout_shifts(page),
        "b. errors": watch.problems,  # the same list, which goes on filling until the report
        "c. untranslated": untranslated(page, language, nouns, seen),
        "d. keyboard": unreachable_by_tab(page),
        "e. width": too_wide(page) if width < 600 else [],
    }
    open_details(page)
    problems["c. untranslated"] += untranslated(page, language, nouns, seen, state="(opened) ")
    report(problems, f"customer #{customer} ({language}) at {width} px")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("width", WIDTHS)
def test_the_operations_stream(open_page, server, width, language):
    page, watch, nouns, seen = reader(open_page, server, "operations@example.com", width, language)
    page.goto(f"{server.base}/operations")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live", timeout=10_000)
    expect(page.locator("#activity-stream > li").first).to_be_visible()
    settle(page)
    report(
        {
            "a. layout shift": layout_shifts(page),
            "b. errors": watch.problems,
            "c. untranslated": untranslated(page, language, nouns, seen),
            "e. width": too_wide(page) if width < 600 else [],
        },
        f"/operations ({language}) at {width} px",
    )


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("width", WIDTHS)
def test_the_customer_search(open_page, server, width, language):
    page, watch, nouns, seen = reader(open_page, server, "advisor@example.com", width, language)
    page.goto(f"{server.base}/customers")
    expect(page.locator("#customer-rows > tr").first).to_be_visible()
    settle(page)
    problems = {
        "a. layout shift": layout_shifts(page),
        "b. errors": watch.problems,
        "c. untranslated": untranslated(page, language, nouns, seen, state="(all customers) "),
        "e. width": too_wide(page) if width < 600 else [],
    }
    # A search typed as an advisor types it (shifts right after typing are the advisor's own doing, not
    # counted): one that finds customers, then one that finds none.
    for query, state in ((customer_prefix(server), "matches"), ("zzqx", "no match")):
        page.fill("#q", "")
        page.keyboard.type(query, delay=60)
        page.wait_for_url(re.compile(rf"q={re.escape(quote_plus(query))}"))
        expect(page.locator(".result-count")).to_contain_text(query, timeout=5_000)
        settle(page)
        problems["c. untranslated"] += untranslated(page, language, nouns, seen, state=f"(search, {state}) ")
        if width < 600:
            problems["e. width"] += [f"(search, {state}) {line}" for line in too_wide(page)]
    # One letter, as a search starts: the results say what the search needs (no error, nothing in English).
    page.fill("#q", "")
    page.keyboard.type("t")
    expect(page.locator("#results .result-count")).not_to_contain_text("zzqx", timeout=5_000)
    settle(page)
    problems["c. untranslated"] += untranslated(page, language, nouns, seen, state="(search, one letter) ")
    problems["a. layout shift"] = layout_shifts(page)  # again, with what the searches moved
    report(problems, f"/customers ({language}) at {width} px")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("width", WIDTHS)
def test_the_other_pages(open_page, browser, server, width, language):
    """The privacy, staff and audit pages, the error page and the sign-in form: errors, words, width."""
    page, watch, nouns, seen = reader(open_page, server, "admin@example.com", width, language)
    customer = customer_speaking(server, language)
    problems: dict[str, list[str]] = {"b. errors": watch.problems, "c. untranslated": [], "e. width": []}
    for path in (f"/customers/{customer}/privacy", "/admin/users", "/admin/audit"):
        page.goto(f"{server.base}{path}")
        settle(page)
        problems["c. untranslated"] += untranslated(page, language, nouns, seen, state=f"({path}) ")
        if width < 600:
            problems["e. width"] += [f"({path}) {line}" for line in too_wide(page)]
    # A customer that does not exist: its 404 is the page's point, not an error of the page.
    missing = page.goto(f"{server.base}/customers/999999")
    assert missing.status == 404
    watch.problems[:] = [problem for problem in watch.problems if "/customers/999999" not in problem]
    problems["c. untranslated"] += untranslated(page, language, nouns, seen, state="(not found) ")
    # The sign-in form, signed out, in a browser that asks for this language.
    context = browser.new_context(
        viewport={"width": width, "height": HEIGHT}, locale="fr-CA" if language == "fr" else "en-CA"
    )
    try:
        signed_out = context.new_page()
        outside = Watch(signed_out)
        signed_out.goto(f"{server.base}/login")
        expect(signed_out.locator("html")).to_have_attribute("lang", language)
        problems["b. errors"] += outside.problems
        problems["c. untranslated"] += untranslated(signed_out, language, nouns, seen, state="(sign-in) ")
        if width < 600:
            problems["e. width"] += [f"(sign-in) {line}" for line in too_wide(signed_out)]
    finally:
        context.close()
    report(problems, f"the other pages ({language}) at {width} px")
