// The offline verification kit's page (cardservice/verifykit.py, templates/verify/kit.html).
//
// One HTML file opened from disk: the trust data is written into it (#kit-data: the
// signed documents as each city published them, and the roots pinned by fingerprint),
// and it is checked here exactly as the verify page checks its stored data
// (trust-documents.js), before every card, since anyone may edit a file. Cards are
// checked by card-offline.js, the verify page's offline check. A photo is read by the
// same zxing-wasm decoder as the verify page, its WebAssembly taken from the file
// (#kit-wasm, Base64) rather than fetched. Nothing is stored or sent.

import { verifyOffline } from "./card-offline.js";
import { verifiedTrust } from "./trust-documents.js";
import { prepareZXingModule, readBarcodes } from "../vendor/zxing-wasm/es/reader/index.js";

const PREFIX = "LC1:";
// As qr-reader.js reads photos on the verify page.
const READ_OPTIONS = {
  formats: ["QRCode"], tryHarder: true, tryRotate: true, tryInvert: true, tryDownscale: true,
  maxNumberOfSymbols: 1,
};
const SIDES = [2048, 4096];
const DURATION_UNITS = [
  ["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400],
  ["hour", 3600], ["minute", 60], ["second", 1],
];

const json = (id) => JSON.parse(document.getElementById(id).textContent);
const kit = json("kit-data");
const strings = json("kit-strings");
const labels = json("kit-labels");
const locale = document.documentElement.lang || "en";
const fetchedAt = Date.parse(kit.generated_at);
const stored = { fetchedAt, data: { documents: kit.documents } };

const app = document.getElementById("kit-app");
const form = document.getElementById("kit-form");
const textInput = document.getElementById("qr");
const fileInput = document.getElementById("image");
const verdictBox = document.getElementById("verdict");
const nextButton = document.getElementById("next-card");
const warnings = document.getElementById("kit-warnings");

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  node.append(...children); // text, never parsed as HTML
  return node;
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

const dateFormat = new Intl.DateTimeFormat(locale, { dateStyle: "long", timeZone: "UTC" });

function formatDay(isoDay) {
  const [y, m, d] = isoDay.split("-").map(Number);
  const date = new Date(Date.UTC(2000, m - 1, d));
  date.setUTCFullYear(y);
  return dateFormat.format(date);
}

/** The trust data, checked against the pinned roots now (the file may have been edited). */
async function checkedTrust() {
  const now = new Date();
  const checked = await verifiedTrust(stored, {
    pins: kit.pins, now, maxAgeHours: kit.max_age_hours,
  });
  document.getElementById("kit-age-now").textContent =
    labels.kit_age.replace("{age}", formatDuration(Math.floor((now - fetchedAt) / 1000)));
  const notes = [];
  if (checked.outdated) {
    notes.push(el("p", { class: "verdict-warning", "data-warning": "outdated" }, "⚠ ", labels.outdated));
  }
  if (checked.problems.length) {
    notes.push(el("p", { class: "verdict-warning", "data-warning": "tampered" }, "⚠ ", labels.tampered));
  }
  warnings.replaceChildren(...notes);
  app.dataset.outdated = String(checked.outdated);
  app.dataset.problems = checked.problems.join(" ");
  return { checked, now };
}

function show(node) {
  verdictBox.removeAttribute("aria-busy");
  verdictBox.replaceChildren(node);
  nextButton.hidden = false;
  verdictBox.focus();
  verdictBox.scrollIntoView({ block: "start" });
}

function showMessage(message) {
  show(el("div", { class: "verdict verdict-unreadable", role: "alert" },
    el("p", { class: "verdict-word" }, el("span", { "aria-hidden": "true" }, "?"), " ", message)));
}

// As the verify page draws a verdict (templates/verify/_verdict.html, verify.js).
function showVerdict(result, { outdated, tampered }) {
  const valid = result.valid === true && result.status === "valid";
  const kind = valid ? "valid" : result.status === "malformed" ? "unreadable" : "invalid";
  const box = el("div", { class: `verdict verdict-${kind}`, role: "status", "data-status": result.status });
  box.append(el("p", { class: "verdict-age" }, document.getElementById("kit-age").textContent));
  if (outdated) {
    box.dataset.outdated = "true";
    box.append(el("p", { class: "verdict-warning", "data-warning": "outdated" }, "⚠ ", labels.outdated));
  }
  if (tampered) {
    box.append(el("p", { class: "verdict-warning", "data-warning": "tampered" }, "⚠ ", labels.tampered));
  }
  box.append(el("p", { class: "verdict-word" },
    el("span", { "aria-hidden": "true" }, valid ? "✔" : kind === "unreadable" ? "?" : "✘"), " ",
    strings.titles[result.status] || result.status));
  box.append(el("p", { class: "verdict-reason" }, strings.reasons[result.status] || ""));
  for (const code of Array.isArray(result.warnings) ? result.warnings : []) {
    box.append(el("p", { class: "verdict-warning", "data-warning": code }, "⚠ ", strings.warnings[code] || code));
  }
  if (result.holder && result.holder.name) {
    const details = el("dl", { class: "verdict-details" },
      el("dt", {}, labels.name), el("dd", { class: "holder-name" }, result.holder.name),
      el("dt", {}, labels.date_of_birth), el("dd", {}, formatDay(result.holder.date_of_birth)));
    if (result.issuer) {
      details.append(el("dt", {}, labels.issued_by), el("dd", {},
        result.issuer.own ? result.issuer.name
          : typeof result.issuer.alliance === "string"
            ? `${result.issuer.name} (${labels.alliance_member.replace("{alliance}", result.issuer.alliance)})`
            : `${result.issuer.name} (${labels.partner_city})`));
    }
    if (result.card && result.card.expires_at) {
      details.append(el("dt", {}, labels.expires),
        el("dd", {}, dateFormat.format(new Date(result.card.expires_at))));
    }
    box.append(details, el("p", { class: "help" }, labels.compare));
  }
  show(box);
}

async function check(text) {
  verdictBox.setAttribute("aria-busy", "true");
  verdictBox.replaceChildren(el("p", { class: "verdict-busy" }, labels.checking));
  try {
    const { checked, now } = await checkedTrust();
    const result = await verifyOffline(text, { trust: checked.trust, fetchedAt: new Date(fetchedAt), now });
    showVerdict(result, { outdated: checked.outdated, tampered: checked.problems.length > 0 });
  } catch {
    showMessage(labels.failed);
  }
}

// ---- photos: zxing-wasm with the WebAssembly written into this file

let reader = null;
function prepareReader() {
  if (!reader) {
    const b64 = document.getElementById("kit-wasm").textContent.trim();
    const wasmBinary = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer;
    reader = prepareZXingModule({ overrides: { wasmBinary }, fireImmediately: true });
  }
  return reader;
}

async function readPhoto(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    return { error: labels.unreadable };
  }
  await prepareReader();
  const canvas = document.createElement("canvas");
  try {
    for (const side of SIDES) {
      const scale = Math.min(1, side / Math.max(bitmap.width, bitmap.height));
      canvas.width = Math.max(1, Math.round(bitmap.width * scale));
      canvas.height = Math.max(1, Math.round(bitmap.height * scale));
      const ctx = canvas.getContext("2d", { willReadFrequently: true });
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      const results = await readBarcodes(ctx.getImageData(0, 0, canvas.width, canvas.height), READ_OPTIONS);
      const hit = results.find((r) => r.isValid && r.text);
      if (hit) return { text: hit.text };
      if (Math.max(bitmap.width, bitmap.height) <= side) break;
    }
  } finally {
    bitmap.close();
    canvas.width = canvas.height = 0;
  }
  return { error: labels.no_code };
}

// ---- the form: Enter (a hardware scanner) or the button checks; "Next card" rearms

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = textInput.value.trim();
  if (text) {
    await check(text);
  } else if (fileInput && fileInput.files.length) {
    const read = await readPhoto(fileInput.files[0]);
    if (read.text) await check(read.text);
    else showMessage(read.error);
  } else {
    showMessage(labels.empty);
  }
});

if (fileInput) {
  fileInput.addEventListener("change", () => {
    if (fileInput.files.length) form.requestSubmit();
  });
}

textInput.addEventListener("paste", () => {
  // A pasted code checks at once.
  setTimeout(() => { if (textInput.value.trim().startsWith(PREFIX)) form.requestSubmit(); }, 0);
});

nextButton.addEventListener("click", () => {
  verdictBox.replaceChildren();
  nextButton.hidden = true;
  form.reset();
  textInput.focus();
});

checkedTrust().then(() => { app.dataset.ready = "true"; }, () => { app.dataset.ready = "failed"; });
if (fileInput) prepareReader().then(() => { app.dataset.decoder = "ready"; }, () => { app.dataset.decoder = "unavailable"; });
