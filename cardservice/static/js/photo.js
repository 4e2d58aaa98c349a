// Registration photo: preview the crop of a chosen file, or take the photo with the desk
// camera (getUserMedia -> canvas -> JPEG data URL in the hidden "photo_data" input).
// Without JavaScript the file input alone works; the server crops either the same way
// (the largest centred 3:4 box), which is what the preview frame shows.

const RATIO = 3 / 4; // width : height of the card photo
const MAX_W = 600;   // the server keeps at most 600 x 800 pixels

const $ = (id) => document.getElementById(id);

const fileInput = $("photo");
const dataInput = $("photo_data");
const preview = $("photo-preview");
const caption = $("photo-preview-caption");
const box = $("webcam");
const frame = box && box.querySelector(".camera-frame");
const video = $("webcam-video");
const zoom = $("webcam-zoom");
const zoomField = $("webcam-zoom-field");
const startBtn = $("webcam-start");
const takeBtn = $("webcam-take");
const stopBtn = $("webcam-stop");
const status = $("webcam-status");
const msg = (name) => (box && box.dataset[name]) || "";

let stream = null;
let objectUrl = null;

function showPreview(src, text) {
  if (!preview) return;
  if (objectUrl && src !== objectUrl) {
    URL.revokeObjectURL(objectUrl);
    objectUrl = null;
  }
  preview.src = src;
  preview.hidden = false;
  if (caption && text) {
    caption.textContent = text;
    caption.hidden = false;
  }
}

if (fileInput) {
  fileInput.addEventListener("change", () => {
    const file = fileInput.files && fileInput.files[0];
    if (!file) return;
    // A chosen file replaces an earlier webcam capture.
    if (dataInput) dataInput.value = "";
    objectUrl = URL.createObjectURL(file);
    showPreview(objectUrl, msg("msgFile"));
  });
}

function applyZoom() {
  if (video && zoom) video.style.transform = `scale(${zoom.value})`;
}

function stopCamera() {
  if (stream) stream.getTracks().forEach((t) => t.stop());
  stream = null;
  if (video) video.srcObject = null;
  if (frame) frame.hidden = true;
  if (zoomField) zoomField.hidden = true;
  takeBtn.hidden = true;
  stopBtn.hidden = true;
  startBtn.hidden = false;
}

async function startCamera() {
  status.textContent = msg("msgStarting");
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: "user", width: { ideal: 1920 }, height: { ideal: 1080 } },
      audio: false,
    });
  } catch (err) {
    stream = null;
    status.textContent = err && err.name === "NotAllowedError" ? msg("msgDenied") : msg("msgNoCamera");
    return;
  }
  video.srcObject = stream;
  await video.play().catch(() => {});
  frame.hidden = false;
  zoomField.hidden = false;
  startBtn.hidden = true;
  takeBtn.hidden = false;
  stopBtn.hidden = false;
  applyZoom();
  status.textContent = msg("msgReady");
  takeBtn.focus();
}

// The centred 3:4 box of the video, made smaller by the zoom: exactly what the frame shows
// (object-fit: cover, then scaled about the centre).
function cropBox(vw, vh, factor) {
  let w = vw;
  let h = vw / RATIO;
  if (h > vh) {
    h = vh;
    w = vh * RATIO;
  }
  w /= factor;
  h /= factor;
  return [(vw - w) / 2, (vh - h) / 2, w, h];
}

function takePhoto() {
  const vw = video.videoWidth;
  const vh = video.videoHeight;
  if (!vw || !vh) {
    status.textContent = msg("msgNoCamera");
    return;
  }
  const [sx, sy, sw, sh] = cropBox(vw, vh, Number(zoom ? zoom.value : 1));
  // No upscaling: a capture too small for the card is refused by the server, honestly.
  const outW = Math.round(Math.min(MAX_W, sw));
  const outH = Math.round(outW / RATIO);
  const canvas = document.createElement("canvas");
  canvas.width = outW;
  canvas.height = outH;
  canvas.getContext("2d").drawImage(video, sx, sy, sw, sh, 0, 0, outW, outH);
  const url = canvas.toDataURL("image/jpeg", 0.9);
  dataInput.value = url;
  // The capture replaces a file chosen earlier.
  if (fileInput) fileInput.value = "";
  showPreview(url, msg("msgTaken"));
  stopCamera();
  status.textContent = msg("msgTaken");
  startBtn.textContent = msg("msgRetake") || startBtn.textContent;
  startBtn.focus();
}

if (box && video && startBtn && takeBtn && stopBtn && dataInput
    && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
  box.hidden = false;
  startBtn.addEventListener("click", startCamera);
  takeBtn.addEventListener("click", takePhoto);
  stopBtn.addEventListener("click", () => {
    stopCamera();
    status.textContent = "";
  });
  if (zoom) zoom.addEventListener("input", applyZoom);
  // Never leave the camera on behind the clerk's back.
  window.addEventListener("pagehide", stopCamera);
  const form = box.closest("form");
  if (form) form.addEventListener("submit", stopCamera);
}
