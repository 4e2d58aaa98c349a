// The card verification page: camera scanning, photos decoded in the browser, the
// JSON verify API, and an offline check against cached trust data when the server
// cannot be reached.
//
// Without this script the page still works (templates/verify/index.html posts the form
// and the server decodes and renders the verdict); this script only adds to it. The
// words shown come from the page itself (#verify-strings, rendered by the server in
// the agent's language), and a verdict is drawn exactly as templates/verify/_verdict.html
// draws it. Nothing about a scanned card is stored: only public trust data (keys and
// revoked serials, as the signed documents) is kept, in IndexedDB (trust-store.js), and
// those documents are checked against the roots pinned in the page before every use
// (trust-documents.js). A service worker (/verify-sw.js) keeps the page and its code so
// that it opens with no network.
//
// The flow is a queue's, as fast as a till: the camera opens at once where it was
// allowed before and stays open from card to card (only the reading pauses while a
// verdict is shown); a frame is read as soon as it is shown and the previous one is
// done; one large verdict; "Next card" clears it and arms the scanner again; a hardware
// scanner types the code into the text field and presses Enter, which checks at once.
// The card is checked on the device (stored trust data) while the server is asked: when
// the server is slow, the device's verdict is shown at once, marked as awaiting the
// server, and the server's answer replaces it.

import { checkWithStoredTrust, raisedFloor, verifiedTrust } from "./trust-documents.js";
import { readStored, writeStored } from "./trust-store.js";
import { verdictView } from "./verdict-view.js";

const TRUST_REFRESH_MS = 5 * 60 * 1000;
const API_TIMEOUT_MS = 10 * 1000;
// How long the server's answer is awaited before the device's own verdict is shown.
const SERVER_GRACE_MS = 100;
// A camera left on with no "Next card" for this long is released.
const CAMERA_IDLE_MS = 2 * 60 * 1000;
const PREFIX = "LC1:";

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

  async function cachedTrust() {
    try {
      const value = await readStored("data");
      if (value && Number.isFinite(value.fetchedAt) && value.data &&
          Array.isArray(value.data.documents)) return value;
    } catch {
      // unreadable or blocked storage: as if nothing was cached
    }
    return null;
  }

  // The highest bundle version and revocation list sequence seen, by city: older
  // documents are refused from then on (rollback), whether fetched or put back.
  async function trustFloor() {
    try {
      const value = await readStored("floor");
      if (value && typeof value === "object" && !Array.isArray(value)) return value;
    } catch {
      // unreadable or blocked storage: nothing seen yet
    }
    return {};
  }

  // data-trust-refresh says how the last refresh went ("stored", "refused", "failed").
  async function refreshTrust({ ifOlderThan = 0 } = {}) {
    const cached = await cachedTrust();
    if (cached && Date.now() - cached.fetchedAt < ifOlderThan) return;
    try {
      const resp = await fetch(trustUrl, {
        credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" },
        signal: AbortSignal.timeout(API_TIMEOUT_MS),
      });
      if (!resp.ok) throw new Error(`status ${resp.status}`);
      const data = await resp.json();
      if (!data || !Array.isArray(data.documents)) throw new Error("not trust data");
      const fresh = { fetchedAt: Date.now(), data };
      // Kept only when it passes the same checks as at use, against the highest versions
      // seen: a broken or older answer never replaces good data.
      const floor = await trustFloor();
      const checked = await verifiedTrust(fresh, { pins, now: new Date(), maxAgeHours, floor });
      if (checked.problems.length) {
        root.dataset.trustRefresh = "refused";
        return;
      }
      await writeStored("data", fresh);
      // Read again: a refresh running alongside may have raised it meanwhile.
      await writeStored("floor", raisedFloor(await trustFloor(), checked.seen));
      root.dataset.trustRefresh = "stored";
    } catch {
      root.dataset.trustRefresh = "failed"; // offline or storage full: keep what we have
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

  const view = verdictView({ box: verdictBox, nextButton, words: strings, locale });

  function showError(message, { neutral = false } = {}) {
    view.showMessage(message, { neutral });
  }

  function showServerVerdict(result, { focus = true } = {}) {
    const seconds = result.trust_data_age_seconds;
    view.showVerdict(result, {
      age: seconds ? labels.trust_age.replace("{n}", view.formatDuration(seconds)) : labels.online_note,
      source: "server", focus,
    });
  }

  // A verdict of this device's own check: `offline` when the server could not answer,
  // `pending` while its answer is still awaited.
  function showDeviceVerdict({ result, checked }, { offline = false, pending = false, focus = true }) {
    const age = view.formatDuration(result.trust_data_age_seconds || 0);
    view.showVerdict(result, {
      age: (offline ? labels.offline_note : labels.device_note).replace("{age}", age),
      ageId: offline ? "offline-note" : null,
      source: "device", offline, pending, focus,
      outdated: checked.outdated, tampered: checked.problems.length > 0,
    });
  }

  // ------------------------------------------------------------------ verification

  // The check on screen; a later check or "Next card" supersedes it (its late answers
  // are dropped, its request aborted).
  let checkTicket = 0;
  let checkAbort = null;

  function cancelCheck() {
    checkTicket += 1;
    if (checkAbort) checkAbort.abort();
    checkAbort = null;
  }

  // The card checked with the stored trust data (checked against the pinned roots every
  // time: storage may have been edited); null when there is none.
  async function deviceCheck(text) {
    try {
      const cached = await cachedTrust();
      if (!cached) return null;
      return await checkWithStoredTrust(text, cached,
        { pins, now: new Date(), maxAgeHours, floor: await trustFloor() });
    } catch {
      return null;
    }
  }

  // The server's answer: {kind: "answer", body}, {kind: "unreachable"} (no answer, a
  // 5xx, or a 200 that is not ours, as from a captive portal), or {kind: "refused", ...}.
  async function askServer(text, signal) {
    let resp;
    try {
      resp = await fetch(verifyUrl, {
        method: "POST",
        credentials: "same-origin",
        cache: "no-store",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ qr: text }),
        signal,
      });
    } catch {
      return { kind: "unreachable" };
    }
    if (resp.status >= 500) return { kind: "unreachable" };
    let body = null;
    try {
      body = await resp.json();
    } catch {
      // not JSON: handled below
    }
    if (resp.ok && body && typeof body.status === "string" && body.status in strings.titles) {
      return { kind: "answer", body };
    }
    if (resp.ok) return { kind: "unreachable" };
    if (resp.status === 429) return { kind: "refused", message: labels.rate_limited };
    if (resp.status === 401 || resp.status === 403) return { kind: "refused", message: labels.sign_in };
    return { kind: "refused", message: labels.empty, neutral: true };
  }

  function withTimeout(signal) {
    const timeout = AbortSignal.timeout(API_TIMEOUT_MS);
    return AbortSignal.any ? AbortSignal.any([signal, timeout]) : timeout;
  }

  async function verifyText(text) {
    cancelCheck();
    const ticket = checkTicket;
    const controller = new AbortController();
    checkAbort = controller;
    const current = () => ticket === checkTicket;
    view.showBusy();
    const device = deviceCheck(text);
    const server = askServer(text, withTimeout(controller.signal));
    let outcome = await Promise.race([
      server, new Promise((resolve) => { setTimeout(() => resolve(null), SERVER_GRACE_MS); }),
    ]);
    if (!current()) return;
    let shown = false;
    if (!outcome) {
      // The server is slow: the device's verdict now, the server's when it comes.
      const own = await device;
      if (!current()) return;
      if (own) {
        showDeviceVerdict(own, { pending: true });
        shown = true;
      }
      outcome = await server;
      if (!current()) return;
    }
    if (outcome.kind === "answer") {
      showServerVerdict(outcome.body, { focus: !shown });
      refreshTrust({ ifOlderThan: TRUST_REFRESH_MS });
    } else if (outcome.kind === "unreachable") {
      const own = await device;
      if (!current()) return;
      if (own) showDeviceVerdict(own, { offline: true, focus: !shown });
      else showError(labels.offline_no_data);
    } else {
      showError(outcome.message, { neutral: Boolean(outcome.neutral) });
    }
    if (checkAbort === controller) checkAbort = null;
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
  // Runs `task` unless a check is already running; whether it ran.
  async function guarded(task) {
    if (busy) return false;
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
    return true;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = textInput.value.trim();
    const file = fileInput.files && fileInput.files[0];
    if (text) {
      guarded(() => verifyText(text));
    } else if (file) {
      guarded(() => {
        view.showBusy();
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

  // The stream stays open from card to card: opening a camera takes long (and on some
  // phones asks again). Only the reading stops while a verdict is shown; the camera is
  // released by "Stop the camera", when the page is hidden, or after CAMERA_IDLE_MS
  // without "Next card".
  let stream = null;
  let scanning = false; // frames are being read
  let decoding = false; // a frame is being read now
  let framesShown = 0; // frames the video has shown (this stream)
  let frameRead = -1; // the last of them that was read
  let idleTimer = null;
  let cameraUsed = false;
  let decoder = null;

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

  function setScanner(state) {
    root.dataset.scanner = state; // "scanning", "paused" or "off": for tests and styles
  }

  function stopCamera() {
    scanning = false;
    clearTimeout(idleTimer);
    if (stream) for (const track of stream.getTracks()) track.stop();
    stream = null;
    video.srcObject = null;
    video.hidden = true;
    stopButton.hidden = true;
    startButton.hidden = false;
    setScanner("off");
  }

  function pauseScanner() {
    scanning = false;
    setScanner("paused");
    clearTimeout(idleTimer);
    idleTimer = setTimeout(stopCamera, CAMERA_IDLE_MS);
  }

  function armScanner() {
    clearTimeout(idleTimer);
    scanning = true;
    setScanner("scanning");
    readFrames();
  }

  // Reads the newest frame when there is one not read yet and no read is running; on a
  // card's code, pauses and checks it.
  async function readFrames() {
    if (!scanning || decoding || frameRead === framesShown || !decoder) return;
    decoding = true;
    frameRead = framesShown;
    let text = null;
    try {
      text = await decoder.readQrFromVideo(video, frameCanvas);
    } catch {
      // a frame that cannot be read: the next one will be
    } finally {
      decoding = false;
    }
    if (!scanning) return;
    if (text && text.startsWith(PREFIX) && !busy) {
      pauseScanner();
      await guarded(() => verifyText(text));
      if (!scanning && verdictBox.querySelector(".verdict")) nextButton.focus();
      return;
    }
    readFrames(); // frames shown meanwhile are not waited for
  }

  // Counts the frames the camera shows, each as soon as it is shown
  // (requestVideoFrameCallback), or at every repaint where that is missing.
  function followFrames(session) {
    if ("requestVideoFrameCallback" in video) {
      const onFrame = (_now, meta) => {
        if (stream !== session) return;
        framesShown = meta.presentedFrames;
        readFrames();
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    } else {
      const onPaint = () => {
        if (stream !== session) return;
        framesShown += 1;
        readFrames();
        requestAnimationFrame(onPaint);
      };
      requestAnimationFrame(onPaint);
    }
  }

  async function startCamera({ focusStop = true } = {}) {
    if (stream) {
      armScanner();
      return;
    }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      // Browsers offer the camera only on https (or localhost).
      showError(window.isSecureContext ? labels.camera_absent : labels.camera_insecure);
      return;
    }
    try {
      decoder = await reader();
    } catch {
      showError(labels.camera_failed);
      return;
    }
    let opened;
    try {
      opened = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { facingMode: "environment", width: { ideal: 1280 }, height: { ideal: 720 } },
      });
    } catch (exc) {
      showError(cameraMessage(exc));
      return;
    }
    if (stream) { // started twice meanwhile: keep the first
      for (const track of opened.getTracks()) track.stop();
      return;
    }
    stream = opened;
    framesShown = 0;
    frameRead = -1;
    video.srcObject = stream;
    video.hidden = false;
    startButton.hidden = true;
    stopButton.hidden = false;
    if (focusStop) stopButton.focus();
    cameraUsed = true;
    followFrames(stream);
    try {
      await video.play();
    } catch {
      // autoplay of a muted inline video is allowed; frames are read either way
    }
    armScanner();
  }

  startButton.addEventListener("click", () => {
    cancelCheck();
    view.clear();
    startCamera();
  });

  // The next person in the queue: clear, arm the scanner again (the camera if it was
  // in use), and put the cursor where a hardware scanner types.
  nextButton.addEventListener("click", () => {
    cancelCheck();
    view.clear();
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
