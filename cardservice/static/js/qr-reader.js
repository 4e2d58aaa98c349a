// Reading a card's QR code from a photo or a camera frame, in the browser.
//
// The decoder is zxing-cpp compiled to WebAssembly (vendored zxing-wasm, the reader-only
// build): the same decoder the server uses for uploads, so a photo that reads on one
// reads on the other. Its .wasm is fetched from our own /static/ (never from a CDN:
// the page must work offline, and CSP allows only 'self').

import { prepareZXingModule, readBarcodes } from "../vendor/zxing-wasm/es/reader/index.js";

const WASM_URL = new URL("../vendor/zxing-wasm/reader/zxing_reader.wasm", import.meta.url).href;
const OVERRIDES = {
  locateFile: (path, prefix) => (path.endsWith(".wasm") ? WASM_URL : prefix + path),
};
const READ_OPTIONS = {
  formats: ["QRCode"],
  tryHarder: true,
  tryRotate: true,
  tryInvert: true,
  tryDownscale: true,
  maxNumberOfSymbols: 1,
};
// Photos are decoded at this size first (fast, and enough for a card that fills a good
// part of the picture), then at full size up to the larger one.
const SIDES = [2048, 4096];

/** Raised when a picture holds no readable QR code. */
export class QrNotFoundError extends Error {}
/** Raised when a file is not a picture the browser can open. */
export class UnreadableImageError extends Error {}

let ready = null;

/** Fetch and compile the decoder now (once), so that it works later without a network. */
export function prepareReader() {
  if (!ready) {
    ready = prepareZXingModule({ overrides: OVERRIDES, fireImmediately: true }).catch((exc) => {
      ready = null; // let a later call try again
      throw exc;
    });
  }
  return ready;
}

/** The text of the first QR code in `imageData`, or null. */
export async function readQrFromImageData(imageData) {
  await prepareReader();
  const results = await readBarcodes(imageData, READ_OPTIONS);
  const hit = results.find((r) => r.isValid && r.text);
  return hit ? hit.text : null;
}

function pixels(source, width, height, maxSide, canvas) {
  const scale = Math.min(1, maxSide / Math.max(width, height));
  canvas.width = Math.max(1, Math.round(width * scale));
  canvas.height = Math.max(1, Math.round(height * scale));
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  // White under the picture: transparent pixels of a PNG would otherwise read as black.
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(source, 0, 0, canvas.width, canvas.height);
  return ctx.getImageData(0, 0, canvas.width, canvas.height);
}

/** The text of the QR code in a photo or scan (any format the browser can open). */
export async function readQrFromFile(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    throw new UnreadableImageError("not a picture this browser can open");
  }
  const canvas = document.createElement("canvas");
  try {
    for (const side of SIDES) {
      const text = await readQrFromImageData(pixels(bitmap, bitmap.width, bitmap.height, side, canvas));
      if (text) return text;
      if (Math.max(bitmap.width, bitmap.height) <= side) break;
    }
  } finally {
    bitmap.close();
    canvas.width = canvas.height = 0; // free the pixels now, not at the next GC
  }
  throw new QrNotFoundError("no readable QR code in the picture");
}

/** The text of a QR code in the current frame of a playing `video`, or null. */
export async function readQrFromVideo(video, canvas) {
  if (video.readyState < HTMLMediaElement.HAVE_CURRENT_DATA || !video.videoWidth) return null;
  return readQrFromImageData(pixels(video, video.videoWidth, video.videoHeight, 1280, canvas));
}
