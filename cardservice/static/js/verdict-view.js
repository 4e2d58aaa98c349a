// Drawing a verdict, as templates/verify/_verdict.html draws it: word, symbol and colour
// together, never colour alone, with how fresh the data behind it is on top.
//
// Shared by the verify page (verify.js) and the offline kit (kit.js), so that a card
// reads the same on both. The words come from the page (`words`: titles, reasons and
// warnings by status, and labels), rendered by the server in the agent's language; text
// is always added as text, never parsed as HTML.

// Babel's timedeltaformat steps (seconds per unit), so the JS and the server say the same.
const DURATION_UNITS = [
  ["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400],
  ["hour", 3600], ["minute", 60], ["second", 1],
];

/** An element with attributes and children (strings become text nodes). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

/** A warning line (⚠ and words), tagged with its code for tests and styles. */
export function warningLine(code, text) {
  return el("p", { class: "verdict-warning", "data-warning": code }, "⚠ ", text);
}

/**
 * The verdict area of a page: `box` (the aria-live region), `nextButton` ("Next card",
 * shown with every verdict), `words` and `locale` for the text.
 */
export function verdictView({ box, nextButton, words, locale }) {
  const labels = words.labels;
  const dateFormat = new Intl.DateTimeFormat(locale, { dateStyle: "long", timeZone: "UTC" });

  function formatDay(isoDay) {
    const [y, m, d] = isoDay.split("-").map(Number);
    const date = new Date(Date.UTC(2000, m - 1, d));
    date.setUTCFullYear(y); // years below 100 are not taken as 19xx
    return dateFormat.format(date);
  }

  function formatDuration(seconds) {
    for (const [unit, size] of DURATION_UNITS) {
      const value = Math.abs(seconds) / size;
      if (value >= 0.85 || unit === "second") {
        return new Intl.NumberFormat(locale, { style: "unit", unit, unitDisplay: "long" })
          .format(value >= 0.85 ? Math.max(1, Math.round(value)) : 0);
      }
    }
    return String(seconds);
  }

  function show(node, { focus = true } = {}) {
    box.removeAttribute("aria-busy");
    box.replaceChildren(node);
    nextButton.hidden = false;
    if (focus) {
      box.focus();
      box.scrollIntoView({ block: "start" });
    }
  }

  /** Nothing shown, "Next card" hidden. */
  function clear() {
    box.removeAttribute("aria-busy");
    box.replaceChildren();
    nextButton.hidden = true;
  }

  function showBusy() {
    box.setAttribute("aria-busy", "true");
    box.replaceChildren(el("p", { class: "verdict-busy" }, labels.checking));
  }

  // A message that is not a verdict on the card: neutral when only the reading failed
  // (try again), red when something is wrong (refused, no data to check with).
  function showMessage(message, { neutral = true } = {}) {
    show(el("div", { class: `verdict ${neutral ? "verdict-unreadable" : "verdict-error"}`, role: "alert" },
      el("p", { class: "verdict-word" },
        ...(neutral ? [el("span", { "aria-hidden": "true" }, "?"), " "] : []), message)));
  }

  /**
   * A verdict on a card: `result` has the shape of POST /api/v1/verify (SPEC §6).
   * `age` is the first line (how fresh the data is), `ageId` its element id; `offline`
   * marks a check made on this device because the server could not answer, `pending` one
   * made on this device while the server's answer is awaited (`source` says which:
   * "server" or "device"); `outdated` and `tampered` add their warnings.
   */
  function showVerdict(result, {
    age, ageId = null, source = "server", offline = false, pending = false,
    outdated = false, tampered = false, focus = true,
  }) {
    const valid = result.valid === true && result.status === "valid";
    const kind = valid ? "valid" : result.status === "malformed" ? "unreadable" : "invalid";
    const verdict = el("div", {
      class: `verdict verdict-${kind}${offline || pending ? " offline" : ""}`,
      role: "status",
      "data-status": result.status,
      "data-source": source,
    });
    if (offline) verdict.dataset.offline = "true";
    if (pending) verdict.dataset.pending = "true";
    verdict.append(el("p", { class: "verdict-age", ...(ageId ? { id: ageId } : {}) }, age));
    if (outdated) {
      verdict.dataset.outdated = "true";
      verdict.append(warningLine("outdated", labels.outdated));
    }
    if (tampered) verdict.append(warningLine("tampered", labels.tampered));
    verdict.append(el("p", { class: "verdict-word" },
      el("span", { "aria-hidden": "true" }, valid ? "✔" : kind === "unreadable" ? "?" : "✘"), " ",
      words.titles[result.status] || result.status));
    verdict.append(el("p", { class: "verdict-reason" }, words.reasons[result.status] || ""));
    for (const code of Array.isArray(result.warnings) ? result.warnings : []) {
      verdict.append(warningLine(code, (words.warnings || {})[code] || code));
    }
    if (result.holder && result.holder.name) {
      const details = el("dl", { class: "verdict-details" },
        el("dt", {}, labels.name), el("dd", { class: "holder-name" }, result.holder.name),
        el("dt", {}, labels.date_of_birth), el("dd", {}, formatDay(result.holder.date_of_birth)));
      if (result.issuer) {
        const issuer = result.issuer.own ? result.issuer.name
          : typeof result.issuer.alliance === "string"
            ? `${result.issuer.name} (${labels.alliance_member.replace("{alliance}", result.issuer.alliance)})`
            : `${result.issuer.name} (${labels.partner_city})`;
        details.append(el("dt", {}, labels.issued_by), el("dd", { class: "issuer" }, issuer));
      }
      if (result.card && result.card.expires_at) {
        details.append(el("dt", {}, labels.expires),
          el("dd", {}, dateFormat.format(new Date(result.card.expires_at))));
      }
      verdict.append(details, el("p", { class: "help" }, labels.compare));
    }
    show(verdict, { focus });
  }

  return { show, clear, showBusy, showMessage, showVerdict, formatDuration };
}
