// The card verification page: camera scanning, photos decoded in the browser, the
// JSON verify API, and an offline check against cached trust data when the server
// cannot be reached.
//
// Without this script the page still works (templates/verify/index.html posts the form
// and the server decodes and renders the verdict); this script only adds to it. The
// words shown come from the page itself (#verify-strings, rendered by the server in
// the agent's language), and a verdict is drawn exactly as templates/verify/_verdict.html
// draws it. Nothing about a scanned card is stored: only public trust data (keys and
// revoked serials, as the signed documents) goes to localStorage, and those documents
// are checked against the roots pinned in the page before every use
// (trust-documents.js). A service worker (/verify-sw.js) keeps the page and its code so
// that it opens with no network.
//
// The flow is a queue's: the camera opens at once where it was allowed before; one
// large verdict; "Next card" clears it and arms the scanner again; a hardware scanner
// types the code into the text field and presses Enter, which checks at once.

import { verifyOffline } from "./card-offline.js";
import { verifiedTrust } from "./trust-documents.js";

const TRUST_STORAGE_KEY = "cardservice.verify.trust-data";
const TRUST_REFRESH_MS = 5 * 60 * 1000;
const API_TIMEOUT_MS = 10 * 1000;
const SCAN_INTERVAL_MS = 200;
const PREFIX = "LC1:";
// Babel's timedeltaformat steps (seconds per unit), so the JS and the server say the same.
const DURATION_UNITS = [
  ["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400],
  ["hour", 3600], ["minute", 60], ["second", 1],
];

const app = document.getElementById("verify-app");
if (app) start(app);

function start(root) {
  const strings = JSON.parse(document.getElementById("verify-strings").textContent);
  const labels = strings.labels;
  const locale = root.dataset.locale || document.documentElement.lang || "en";
  const verifyUrl = root.dataset.verifyUrl;
  const trustUrl = root.dataset.trustUrl;
  const maxAgeHours = Number(root.dataset.maxAgeHours) || 48;
  const pins = JSON.parse(document.getElementById("verify-pins").textContent);
  const form = document.getElementById("verify-form");
  const fileInput = document.getElementById("image");
  const textInput = document.getElementById("qr");
  const submitButton = form.querySelector("button[type=submit]");
  const verdictBox = document.getElementById("verdict");
  const nextButton = document.getElementById("next-card");
  const video = document.getElementById("camera");
  const startButton = document.getElementById("camera-start");
  const stopButton = document.getElementById("camera-stop");
  const frameCanvas = document.createElement("canvas");

  for (const el of root.querySelectorAll(".js-only")) {
    if (el !== nextButton) el.hidden = false;
  }
  registerWorker(root.dataset.workerUrl, root.dataset.workerScope);

  // The decoder (~1 MB of WebAssembly) is loaded in the background right away, so that
  // photos and the camera still work if the server goes away later.
  let readerPromise = null;
  function reader() {
    if (!readerPromise) {
      readerPromise = import("./qr-reader.js").then(async (mod) => {
        await mod.prepareReader();
        return mod;
      });
      readerPromise.catch(() => { readerPromise = null; });
    }
    return readerPromise;
  }
  // data-decoder tells (tests, and anyone looking) whether photos can be read here now.
  whenIdle(() => reader().then(
    () => { root.dataset.decoder = "ready"; },
    () => { root.dataset.decoder = "unavailable"; }));

  // ------------------------------------------------------------------ trust data cache

  function cachedTrust() {
    try {
      const value = JSON.parse(localStorage.getItem(TRUST_STORAGE_KEY));
      if (value && Number.isFinite(value.fetchedAt) && value.data &&
          Array.isArray(value.data.documents)) return value;
    } catch {
      // unreadable or blocked storage: as if nothing was cached
    }
    return null;
  }

  async function refreshTrust({ ifOlderThan = 0 } = {}) {
    const cached = cachedTrust();
    if (cached && Date.now() - cached.fetchedAt < ifOlderThan) return;
    try {
      const resp = await fetch(trustUrl, {
        credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" },
        signal: AbortSignal.timeout(API_TIMEOUT_MS),
      });
      if (!resp.ok) return;
      const data = await resp.json();
      if (!data || !Array.isArray(data.documents)) return;
      const fresh = { fetchedAt: Date.now(), data };
      // Kept only when it passes the same checks as at use: a broken answer never
      // replaces good data.
      const checked = await verifiedTrust(fresh, { pins, now: new Date(), maxAgeHours });
      if (checked.problems.length) return;
      localStorage.setItem(TRUST_STORAGE_KEY, JSON.stringify(fresh));
    } catch {
      // offline or storage full: keep what we have
    }
  }

  // Every page load is a moment the server answered: take fresh trust data then, and
  // every few minutes while the page stays open.
  refreshTrust();
  setInterval(() => {
    if (document.visibilityState === "visible") refreshTrust({ ifOlderThan: TRUST_REFRESH_MS });
  }, TRUST_REFRESH_MS);
  window.addEventListener("online", () => refreshTrust());

  // ------------------------------------------------------------------ rendering

  const dateFormat = new Intl.DateTimeFormat(locale, { dateStyle: "long", timeZone: "UTC" });

  function formatDay(isoDay) {
    const [y, m, d] = isoDay.split("-").map(Number);
    const date = new Date(Date.UTC(2000, m - 1, d));
    date.setUTCFullYear(y); // years below 100 are not taken as 19xx
    return dateFormat.format(date);
  }

  function formatInstant(iso) {
    return dateFormat.format(new Date(iso));
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

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    node.append(...children); // text is added as text, never parsed as HTML
    return node;
  }

  function show(node) {
    verdictBox.removeAttribute("aria-busy");
    verdictBox.replaceChildren(node);
    nextButton.hidden = false;
    verdictBox.focus();
    verdictBox.scrollIntoView({ block: "start" });
  }

  // A message that is not a verdict on the card: red when something is wrong (refused,
  // no data to check with), neutral when only the reading failed (try again).
  function showError(message, { neutral = false } = {}) {
    show(el("div", { class: `verdict ${neutral ? "verdict-unreadable" : "verdict-error"}`, role: "alert" },
      el("p", { class: "verdict-word" },
        ...(neutral ? [el("span", { "aria-hidden": "true" }, "?"), " "] : []), message)));
  }

  function showBusy() {
    verdictBox.setAttribute("aria-busy", "true");
    verdictBox.replaceChildren(el("p", { class: "verdict-busy" }, labels.checking));
  }

  // Mirrors templates/verify/_verdict.html: word, symbol and colour together, with how
  // fresh the data behind it is on top.
  function showVerdict(result, { offline = false, outdated = false, tampered = false } = {}) {
    const valid = result.valid === true && result.status === "valid";
    const kind = valid ? "valid" : result.status === "malformed" ? "unreadable" : "invalid";
    const box = el("div", {
      class: `verdict verdict-${kind}${offline ? " offline" : ""}`,
      role: "status",
      "data-status": result.status,
    });
    if (offline) box.dataset.offline = "true";
    const age = formatDuration(result.trust_data_age_seconds || 0);
    box.append(el("p", { class: "verdict-age", ...(offline ? { id: "offline-note" } : {}) }, offline
      ? labels.offline_note.replace("{age}", age)
      : result.trust_data_age_seconds ? labels.trust_age.replace("{n}", age) : labels.online_note));
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
      box.append(el("p", { class: "verdict-warning", "data-warning": code },
        "⚠ ", (strings.warnings || {})[code] || code));
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
        details.append(el("dt", {}, labels.issued_by), el("dd", {}, issuer));
      }
      if (result.card && result.card.expires_at) {
        details.append(el("dt", {}, labels.expires), el("dd", {}, formatInstant(result.card.expires_at)));
      }
      box.append(details, el("p", { class: "help" }, labels.compare));
    }
    show(box);
  }

  // ------------------------------------------------------------------ verification

  async function checkOffline(text) {
    const cached = cachedTrust();
    if (!cached) {
      showError(labels.offline_no_data);
      return;
    }
    const now = new Date();
    // Checked against the pinned roots every time: storage may have been edited.
    const checked = await verifiedTrust(cached, { pins, now, maxAgeHours });
    const result = await verifyOffline(text, {
      trust: checked.trust, fetchedAt: new Date(cached.fetchedAt), now,
    });
    showVerdict(result, {
      offline: true, outdated: checked.outdated, tampered: checked.problems.length > 0,
    });
  }

  async function verifyText(text) {
    showBusy();
    let resp;
    try {
      resp = await fetch(verifyUrl, {
        method: "POST",
        credentials: "same-origin",
        cache: "no-store",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ qr: text }),
        signal: AbortSignal.timeout(API_TIMEOUT_MS),
      });
    } catch {
      await checkOffline(text); // no answer at all: network down, server stopped, timeout
      return;
    }
    if (resp.status >= 500) {
      await checkOffline(text); // the server (or the proxy before it) cannot answer now
      return;
    }
    let body = null;
    try {
      body = await resp.json();
    } catch {
      // not JSON: handled below
    }
    if (resp.ok && body && typeof body.status === "string" && body.status in strings.titles) {
      showVerdict(body);
      refreshTrust({ ifOlderThan: TRUST_REFRESH_MS });
    } else if (resp.ok) {
      // A 200 that is not our answer (a captive portal, say): the server is not reachable.
      await checkOffline(text);
    } else if (resp.status === 429) {
      showError(labels.rate_limited);
    } else if (resp.status === 401 || resp.status === 403) {
      showError(labels.sign_in);
    } else {
      showError(labels.empty, { neutral: true });
    }
  }

  // By type, name or first bytes: a PDF is read by the server (the no-script path).
  async function isPdf(file) {
    if (file.type === "application/pdf" || /\.pdf$/i.test(file.name || "")) return true;
    const head = new Uint8Array(await file.slice(0, 1024).arrayBuffer());
    return new TextDecoder("latin1").decode(head).trimStart().startsWith("%PDF-");
  }

  function submitToServer() {
    // No decoder in this browser: the no-script path, the server decodes the photo.
    // HTMLFormElement.submit() sends the form without firing "submit" again.
    form.submit();
  }

  // A PDF is read by the server (the browser has no PDF renderer here). It is posted
  // like the no-script form, but with fetch: the page, and with it the offline check,
  // stays in place, and the server's rendered verdict is shown in it.
  async function checkPdf(file) {
    const data = new FormData();
    data.append("image", file);
    let resp;
    try {
      resp = await fetch(form.action, {
        method: "POST", body: data, credentials: "same-origin", cache: "no-store",
        signal: AbortSignal.timeout(3 * API_TIMEOUT_MS),
      });
    } catch {
      showError(labels.pdf_offline);
      return;
    }
    if (resp.status === 429) {
      showError(labels.rate_limited);
      return;
    }
    if (resp.status >= 500) {
      showError(labels.pdf_offline);
      return;
    }
    // Our own server's page, parsed inertly (DOMParser runs no scripts); only the
    // verdict region is taken from it.
    const page = new DOMParser().parseFromString(await resp.text(), "text/html");
    const theirs = page.getElementById("verdict");
    if (!theirs || !theirs.querySelector(".verdict")) {
      showError(resp.status === 401 || resp.status === 403 || resp.redirected
        ? labels.sign_in : labels.failed);
      return;
    }
    verdictBox.removeAttribute("aria-busy");
    verdictBox.replaceChildren(...Array.from(theirs.childNodes, (n) => document.importNode(n, true)));
    nextButton.hidden = false;
    verdictBox.focus();
  }

  async function checkFile(file) {
    if (await isPdf(file)) {
      try {
        await checkPdf(file);
      } finally {
        fileInput.value = "";
      }
      return;
    }
    let mod;
    try {
      mod = await reader();
    } catch {
      submitToServer(); // no decoder here: let the server decode the photo
      return;
    }
    let text;
    try {
      text = await mod.readQrFromFile(file);
    } catch (exc) {
      showError(exc instanceof mod.UnreadableImageError ? labels.unreadable : labels.no_code,
        { neutral: true });
      return;
    } finally {
      fileInput.value = ""; // the photo is not kept on the page once read
    }
    await verifyText(text);
  }

  let busy = false;
  async function guarded(task) {
    if (busy) return;
    busy = true;
    submitButton.disabled = true;
    try {
      await task();
    } catch {
      showError(labels.failed);
    } finally {
      busy = false;
      submitButton.disabled = false;
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = textInput.value.trim();
    const file = fileInput.files && fileInput.files[0];
    if (text) {
      guarded(() => verifyText(text));
    } else if (file) {
      guarded(() => {
        showBusy();
        return checkFile(file);
      });
    } else {
      showError(labels.empty, { neutral: true });
    }
  });

  // A photo just taken or chosen is checked at once, unless text was typed too.
  fileInput.addEventListener("change", () => {
    if (fileInput.files && fileInput.files.length && !textInput.value.trim()) form.requestSubmit();
  });

  // ------------------------------------------------------------------ camera

  let stream = null;
  let scanTimer = null;
  let cameraUsed = false;

  function cameraMessage(exc) {
    switch (exc && exc.name) {
      case "NotAllowedError":
      case "SecurityError":
        return labels.camera_denied;
      case "NotFoundError":
      case "OverconstrainedError":
        return labels.camera_absent;
      default:
        return labels.camera_failed;
    }
  }

  function stopCamera() {
    clearTimeout(scanTimer);
    scanTimer = null;
    if (stream) for (const track of stream.getTracks()) track.stop();
    stream = null;
    video.srcObject = null;
    video.hidden = true;
    stopButton.hidden = true;
    startButton.hidden = false;
  }

  function scanSoon(mod) {
    scanTimer = setTimeout(async () => {
      let text = null;
      try {
        text = await mod.readQrFromVideo(video, frameCanvas);
      } catch {
        // a frame that cannot be read: try the next one
      }
      if (!stream) return; // stopped meanwhile
      if (text && text.startsWith(PREFIX)) {
        stopCamera();
        await guarded(() => verifyText(text));
        nextButton.focus();
      } else {
        scanSoon(mod);
      }
    }, SCAN_INTERVAL_MS);
  }

  async function startCamera({ focusStop = true } = {}) {
    if (stream) return;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      // Browsers offer the camera only on https (or localhost).
      showError(window.isSecureContext ? labels.camera_absent : labels.camera_insecure);
      return;
    }
    let mod;
    try {
      mod = await reader();
    } catch {
      showError(labels.camera_failed);
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { facingMode: "environment", width: { ideal: 1280 }, height: { ideal: 720 } },
      });
    } catch (exc) {
      stream = null;
      showError(cameraMessage(exc));
      return;
    }
    video.srcObject = stream;
    video.hidden = false;
    startButton.hidden = true;
    stopButton.hidden = false;
    if (focusStop) stopButton.focus();
    cameraUsed = true;
    try {
      await video.play();
    } catch {
      // autoplay of a muted inline video is allowed; frames are read either way
    }
    scanSoon(mod);
  }

  startButton.addEventListener("click", () => {
    clearVerdict();
    startCamera();
  });

  function clearVerdict() {
    verdictBox.removeAttribute("aria-busy");
    verdictBox.replaceChildren();
    nextButton.hidden = true;
  }

  // The next person in the queue: clear, arm the scanner again (the camera if it was
  // in use), and put the cursor where a hardware scanner types.
  nextButton.addEventListener("click", () => {
    clearVerdict();
    textInput.value = "";
    fileInput.value = "";
    textInput.focus();
    if (cameraUsed) startCamera({ focusStop: false });
  });

  // Where the camera was allowed before, it opens at once (no prompt appears unasked).
  cameraAllowed().then((allowed) => {
    if (allowed && !verdictBox.querySelector(".verdict")) startCamera({ focusStop: false });
  });
  stopButton.addEventListener("click", () => {
    stopCamera();
    startButton.focus();
  });
  // The camera is not left running behind the agent's back.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") stopCamera();
  });
  window.addEventListener("pagehide", stopCamera);
}

async function cameraAllowed() {
  try {
    if (!navigator.permissions || !navigator.mediaDevices) return false;
    const status = await navigator.permissions.query({ name: "camera" });
    return status.state === "granted";
  } catch {
    return false; // a browser that cannot tell: the agent presses "Scan a card"
  }
}

function registerWorker(url, scope) {
  if (!("serviceWorker" in navigator) || !url) return;
  navigator.serviceWorker.register(url, { scope, type: "classic" }).catch(() => {
    // No worker (private mode, old browser): the page still works while online.
  });
}

function whenIdle(task) {
  if ("requestIdleCallback" in window) window.requestIdleCallback(task, { timeout: 2000 });
  else setTimeout(task, 200);
}
