// Reading a card's QR code from a photo or a camera frame, in the browser.
//
// The decoder is zxing-cpp compiled to WebAssembly (vendored zxing-wasm, the reader-only
// build): the same decoder the server uses for uploads, so a photo that reads on one
// reads on the other. Where its .wasm comes from is the caller's to say: the verify
// page fetches it from our own /static/ (never from a CDN: the page must work offline,
// and CSP allows only 'self'); the offline kit hands over the bytes written into the
// file, since a module loaded from a data: URL has no address to resolve a path against.
//
// Camera frames and photos are read differently. A frame must be read in a few
// milliseconds, and the next one comes anyway: it is read at a reduced size with the
// fast options first, then at full size with the thorough ones. A photo is read once,
// with everything the decoder can try.

import { prepareZXingModule, readBarcodes } from "../vendor/zxing-wasm/es/reader/index.js";

const WASM_PATH = "../vendor/zxing-wasm/reader/zxing_reader.wasm";
const BASE_OPTIONS = { formats: ["QRCode"], maxNumberOfSymbols: 1 };
// Photos: every way the decoder has (rotated, inverted, downscaled, harder).
const PHOTO_OPTIONS = {
  ...BASE_OPTIONS, tryHarder: true, tryRotate: true, tryInvert: true, tryDownscale: true,
};
// Camera frames, first pass: a card held to the camera reads at ~3 pixels a module.
const FRAME_FAST_OPTIONS = {
  ...BASE_OPTIONS, tryHarder: false, tryRotate: false, tryInvert: false, tryDownscale: false,
};
// Camera frames, second pass: a card further away. Printed cards are never inverted,
// and QR detection does not depend on rotation, so those retries are left to photos.
const FRAME_FULL_OPTIONS = {
  ...BASE_OPTIONS, tryHarder: true, tryRotate: false, tryInvert: false, tryDownscale: true,
};
// Photos are decoded at this size first (fast, and enough for a card that fills a good
// part of the picture), then at full size up to the larger one.
const PHOTO_SIDES = [2048, 4096];
const FRAME_FAST_SIDE = 640;
const FRAME_FULL_SIDE = 1280;

/** Raised when a picture holds no readable QR code. */
export class QrNotFoundError extends Error {}
/** Raised when a file is not a picture the browser can open. */
export class UnreadableImageError extends Error {}

let ready = null;

/**
 * Load and compile the decoder now (once), so that it works later without a network.
 * `wasmBinary` (an ArrayBuffer) is the decoder itself; without it, the .wasm next to
 * this module is fetched. The first call decides; later calls share its result.
 */
export function prepareReader({ wasmBinary = null } = {}) {
  if (!ready) {
    // Resolved only here: at import time, a module with a data: URL could not.
    const overrides = wasmBinary
      ? { wasmBinary }
      : { locateFile: (path, prefix) => (path.endsWith(".wasm")
        ? new URL(WASM_PATH, import.meta.url).href : prefix + path) };
    ready = prepareZXingModule({ overrides, fireImmediately: true }).catch((exc) => {
      ready = null; // let a later call try again
      throw exc;
    });
  }
  return ready;
}

async function read(imageData, options) {
  await prepareReader();
  const results = await readBarcodes(imageData, options);
  const hit = results.find((r) => r.isValid && r.text);
  return hit ? hit.text : null;
}

/** The text of the first QR code in `imageData` (read as a photo is), or null. */
export function readQrFromImageData(imageData) {
  return read(imageData, PHOTO_OPTIONS);
}

function pixels(source, width, height, maxSide, canvas) {
  const scale = Math.min(1, maxSide / Math.max(width, height));
  const w = Math.max(1, Math.round(width * scale));
  const h = Math.max(1, Math.round(height * scale));
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  // White under the picture: transparent pixels of a PNG would otherwise read as black.
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, w, h);
  ctx.drawImage(source, 0, 0, w, h);
  return ctx.getImageData(0, 0, w, h);
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
    for (const side of PHOTO_SIDES) {
      const text = await read(pixels(bitmap, bitmap.width, bitmap.height, side, canvas),
        PHOTO_OPTIONS);
      if (text) return text;
      if (Math.max(bitmap.width, bitmap.height) <= side) break;
    }
  } finally {
    bitmap.close();
    canvas.width = canvas.height = 0; // free the pixels now, not at the next GC
  }
  throw new QrNotFoundError("no readable QR code in the picture");
}

/**
 * The text of a QR code in a camera frame (`source`: a video, canvas or bitmap of
 * `width` x `height` pixels), or null: at a reduced size first, then (when the frame is
 * larger) at full size. `canvas` is reused from frame to frame.
 */
export async function readQrFromFrame(source, width, height, canvas) {
  const fast = await read(pixels(source, width, height, FRAME_FAST_SIDE, canvas),
    FRAME_FAST_OPTIONS);
  if (fast || Math.max(width, height) <= FRAME_FAST_SIDE) return fast;
  return read(pixels(source, width, height, FRAME_FULL_SIDE, canvas), FRAME_FULL_OPTIONS);
}

/** The text of a QR code in the current frame of a playing `video`, or null. */
export function readQrFromVideo(video, canvas) {
  if (video.readyState < HTMLMediaElement.HAVE_CURRENT_DATA || !video.videoWidth) {
    return Promise.resolve(null);
  }
  return readQrFromFrame(video, video.videoWidth, video.videoHeight, canvas);
}
