// The offline verification kit's page (cardservice/verifykit.py, templates/verify/kit.html).
//
// One HTML file opened from disk: the trust data is written into it (#kit-data: the
// signed documents as each city published them, and the roots pinned by fingerprint),
// and it is checked here exactly as the verify page checks its stored data, by the same
// code (trust-documents.js, before every card, since anyone may edit a file); a verdict
// is drawn by the verify page's renderer (verdict-view.js) and a photo read by its
// reader (qr-reader.js), handed the WebAssembly written into the file (#kit-wasm,
// Base64) rather than fetching it. Nothing is stored or sent.

import { QrNotFoundError, UnreadableImageError, prepareReader, readQrFromFile } from "./qr-reader.js";
import { checkWithStoredTrust, verifiedTrust } from "./trust-documents.js";
import { verdictView, warningLine } from "./verdict-view.js";

const PREFIX = "LC1:";

const json = (id) => JSON.parse(document.getElementById(id).textContent);
const kit = json("kit-data");
const words = { ...json("kit-strings"), labels: json("kit-labels") };
const labels = words.labels;
const locale = document.documentElement.lang || "en";
const fetchedAt = Date.parse(kit.generated_at);
const stored = { fetchedAt, data: { documents: kit.documents } };
const trustOptions = (now) => ({ pins: kit.pins, now, maxAgeHours: kit.max_age_hours });

const app = document.getElementById("kit-app");
const form = document.getElementById("kit-form");
const textInput = document.getElementById("qr");
const fileInput = document.getElementById("image");
const nextButton = document.getElementById("next-card");
const warnings = document.getElementById("kit-warnings");
const view = verdictView({ box: document.getElementById("verdict"), nextButton, words, locale });

/** How old the file's data is now, and what its check found, above the form. */
function showTrustState(checked, now) {
  document.getElementById("kit-age-now").textContent = labels.kit_age.replace(
    "{age}", view.formatDuration(Math.floor((now - fetchedAt) / 1000)));
  const notes = [];
  if (checked.outdated) notes.push(warningLine("outdated", labels.outdated));
  if (checked.problems.length) notes.push(warningLine("tampered", labels.tampered));
  warnings.replaceChildren(...notes);
  app.dataset.outdated = String(checked.outdated);
  app.dataset.problems = checked.problems.join(" ");
}

async function check(text) {
  view.showBusy();
  try {
    const now = new Date();
    const { result, checked } = await checkWithStoredTrust(text, stored, trustOptions(now));
    showTrustState(checked, now);
    view.showVerdict(result, {
      age: document.getElementById("kit-age").textContent, source: "device",
      outdated: checked.outdated, tampered: checked.problems.length > 0,
    });
  } catch {
    view.showMessage(labels.failed);
  }
}

// The decoder, compiled once from the bytes written into the file (~1 MB of Base64).
let decoder = null;
function kitReader() {
  if (!decoder) {
    const b64 = document.getElementById("kit-wasm").textContent.trim();
    const wasmBinary = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer;
    decoder = prepareReader({ wasmBinary });
    decoder.catch(() => { decoder = null; }); // a later photo tries again
  }
  return decoder;
}

async function checkPhoto(file) {
  let text;
  try {
    await kitReader();
    text = await readQrFromFile(file);
  } catch (exc) {
    view.showMessage(exc instanceof UnreadableImageError ? labels.unreadable
      : exc instanceof QrNotFoundError ? labels.no_code : labels.failed);
    return;
  }
  await check(text);
}

// ---- the form: Enter (a hardware scanner) or the button checks; "Next card" rearms

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = textInput.value.trim();
  if (text) {
    await check(text);
  } else if (fileInput && fileInput.files.length) {
    await checkPhoto(fileInput.files[0]);
  } else {
    view.showMessage(labels.empty);
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
  view.clear();
  form.reset();
  textInput.focus();
});

const now = new Date();
verifiedTrust(stored, trustOptions(now)).then((checked) => {
  showTrustState(checked, now);
  app.dataset.ready = "true";
}, () => { app.dataset.ready = "failed"; });
if (fileInput) {
  kitReader().then(
    () => { app.dataset.decoder = "ready"; }, () => { app.dataset.decoder = "unavailable"; });
}
