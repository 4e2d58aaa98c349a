// The trust data the verify page keeps, checked in the browser before it is used.
//
// The page stores the signed documents the server gave it (each recognised city's trust
// bundle and revocation list, COSE, docs/trust.md). Storage on the device can be edited
// by anyone holding the device, so nothing stored is believed as such: every time the
// page needs keys, it checks the documents against the roots pinned in the page itself
// (#verify-pins, rendered by the server: SHA-256 of each city's root certificate), as a
// partner city does (trust.TrustedState):
//
//   (1) the bundle's root certificate has the pinned fingerprint, and the city id matches
//   (2) the bundle is signed by that root (COSE_Sign1, or COSE_Sign after a root
//       rotation: the current root's signature), with the bundle's content type
//   (3) each signing certificate's kid is SHA-256(DER)[:8]; its Ed25519 key is read from
//       the certificate; its validity is the bundle's (signed) not_before/not_after
//   (4) the revocation list is signed by the same root, with its own content type, and
//       names the same city; a list that fails or is missing revokes nothing but marks
//       the data out of date
//   (5) freshness: the bundle's expires_at (then trust_expired), the list's next_update
//       and issue time against the city's limit (revocations_max_age_hours)
//   (6) no rollback: the bundle's version and the list's sequence are not lower than the
//       highest this device has seen and kept (`floor`), and a list seen once is not
//       missing: an older list would bring revoked cards back
//
// A city whose documents fail (1)-(3) or (6) is left out: its cards read unknown_issuer,
// never valid. The result has the shape card-offline.js checks cards against.

import { decode as cborDecode } from "../vendor/cborg/lib/decode.js";
import { verifyOffline } from "./card-offline.js";

const BUNDLE_TYPE = "application/citycard-trust-bundle+cbor";
const REVOCATIONS_TYPE = "application/citycard-revocations+cbor";
const CBOR_STRICT = {
  strict: true, rejectDuplicateMapKeys: true, allowIndefinite: false, allowUndefined: false,
  allowInfinity: false, allowNaN: false, allowBigInt: false,
};
const ED25519_OID = [0x06, 0x03, 0x2b, 0x65, 0x70];

/** A stored document that did not pass its check. */
export class TrustDocumentError extends Error {}

export function base64UrlDecode(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

function base64UrlEncode(bytes) {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

function iso(seconds) {
  return new Date(seconds * 1000).toISOString().replace(/\.000Z$/, "Z");
}

function cbor(bytes, extra = {}) {
  try {
    return cborDecode(bytes, { ...CBOR_STRICT, ...extra });
  } catch (exc) {
    throw new TrustDocumentError(`not strict CBOR: ${exc.message}`);
  }
}

function byteHead(major, length) {
  const m = major << 5;
  if (length < 24) return [m | length];
  if (length < 0x100) return [m | 24, length];
  if (length < 0x10000) return [m | 25, length >> 8, length & 0xff];
  return [m | 26, (length >>> 24) & 0xff, (length >> 16) & 0xff, (length >> 8) & 0xff, length & 0xff];
}

function bstr(bytes) {
  return [...byteHead(2, bytes.length), ...bytes];
}

function tstr(text) {
  const bytes = new TextEncoder().encode(text);
  return [...byteHead(3, bytes.length), ...bytes];
}

/** The COSE Sig_structure a signature covers (RFC 9052 §4.4). */
function sigStructure(context, bodyProtected, signProtected, payload) {
  const parts = signProtected === null
    ? [0x84, ...tstr(context), ...bstr(bodyProtected), 0x40]
    : [0x85, ...tstr(context), ...bstr(bodyProtected), ...bstr(signProtected), 0x40];
  return Uint8Array.from([...parts, ...bstr(payload)]);
}

/** A COSE_Sign1 (tag 18) or COSE_Sign (tag 98): its parts, nothing checked yet. */
function readCose(bytes) {
  const tagged = (tag) => (decode) => ({ tag, value: decode() });
  const doc = cbor(bytes, { useMaps: true, tags: Object.assign([], { 18: tagged(18), 98: tagged(98) }) });
  if (!doc || (doc.tag !== 18 && doc.tag !== 98) || !Array.isArray(doc.value) ||
      doc.value.length !== 4) {
    throw new TrustDocumentError("not a COSE_Sign1 or COSE_Sign");
  }
  const [bodyProtected, , payload, last] = doc.value;
  if (!(bodyProtected instanceof Uint8Array) || !(payload instanceof Uint8Array)) {
    throw new TrustDocumentError("COSE headers or payload of the wrong type");
  }
  const header = (raw) => (raw.length ? cbor(raw, { useMaps: true }) : new Map());
  const signatures = [];
  if (doc.tag === 18) {
    if (!(last instanceof Uint8Array)) throw new TrustDocumentError("COSE_Sign1 signature");
    signatures.push({ protected: null, header: header(bodyProtected), signature: last });
  } else {
    if (!Array.isArray(last) || !last.length) throw new TrustDocumentError("COSE_Sign signatures");
    for (const s of last) {
      if (!Array.isArray(s) || s.length !== 3 || !(s[0] instanceof Uint8Array) ||
          !(s[2] instanceof Uint8Array)) {
        throw new TrustDocumentError("a COSE_Signature of the wrong form");
      }
      signatures.push({ protected: s[0], header: header(s[0]), signature: s[2] });
    }
  }
  return { tag: doc.tag, bodyProtected, body: header(bodyProtected), payload, signatures };
}

// ---- just enough DER to find a certificate's Ed25519 key

function derItem(bytes, at) {
  const tag = bytes[at];
  let length = bytes[at + 1];
  let start = at + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n < 1 || n > 3) throw new TrustDocumentError("DER length");
    length = 0;
    for (let i = 0; i < n; i++) length = (length << 8) | bytes[start + i];
    start += n;
  }
  if (start + length > bytes.length) throw new TrustDocumentError("DER item past the end");
  return { tag, start, end: start + length };
}

function derChildren(bytes, item) {
  const out = [];
  for (let at = item.start; at < item.end;) {
    const child = derItem(bytes, at);
    out.push(child);
    at = child.end;
  }
  return out;
}

/** The raw Ed25519 public key in a certificate's subjectPublicKeyInfo. */
export function ed25519KeyOf(der) {
  const cert = derItem(der, 0);
  if (cert.tag !== 0x30 || cert.end !== der.length) throw new TrustDocumentError("not a certificate");
  const tbs = derChildren(der, cert)[0];
  const fields = derChildren(der, tbs);
  // [0] version?, serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
  const spki = fields[fields[0].tag === 0xa0 ? 6 : 5];
  const [alg, key] = spki ? derChildren(der, spki) : [];
  const oid = alg && derChildren(der, alg)[0];
  if (!oid || !ED25519_OID.every((b, i) => der[oid.start - 2 + i] === b) ||
      oid.end - oid.start !== 3 || key.tag !== 0x03 || key.end - key.start !== 33 ||
      der[key.start] !== 0) {
    throw new TrustDocumentError("the certificate's key is not Ed25519");
  }
  return der.slice(key.start + 1, key.end);
}

async function verifyWith(rawKey, signature, data) {
  const key = await crypto.subtle.importKey("raw", rawKey, { name: "Ed25519" }, false, ["verify"]);
  return crypto.subtle.verify({ name: "Ed25519" }, key, signature, data);
}

/** Check (2)/(4): a signature by `rootDer` over `cose`, and its content type. */
async function checkSigned(cose, rootDer, contentType) {
  if (cose.body.get(3) !== contentType) throw new TrustDocumentError(`not a ${contentType}`);
  const kid = (await sha256(rootDer)).slice(0, 8);
  const rootKey = ed25519KeyOf(rootDer);
  for (const s of cose.signatures) {
    const k = s.header.get(4);
    if (s.header.get(1) !== -8 || !(k instanceof Uint8Array) || hex(k) !== hex(kid)) continue;
    const data = cose.tag === 18
      ? sigStructure("Signature1", cose.bodyProtected, null, cose.payload)
      : sigStructure("Signature", cose.bodyProtected, s.protected, cose.payload);
    if (await verifyWith(rootKey, s.signature, data)) return;
    throw new TrustDocumentError("the root's signature does not match");
  }
  throw new TrustDocumentError("not signed by the pinned root");
}

/** Checks (1)-(3): the city's keys from its stored bundle, or a TrustDocumentError. */
async function readBundle(pin, bundleB64) {
  const cose = readCose(base64UrlDecode(bundleB64));
  const body = cbor(cose.payload);
  if (!(body.root instanceof Uint8Array)) throw new TrustDocumentError("bundle without a root");
  // (1): the pinned root, the pinned city
  if (hex(await sha256(body.root)) !== pin.root_sha256) {
    throw new TrustDocumentError("the bundle's root is not the pinned one");
  }
  if (body.city_id !== pin.id) throw new TrustDocumentError("the bundle names another city");
  // (2): signed by that root
  await checkSigned(cose, body.root, BUNDLE_TYPE);
  // (3): the signing keys
  const keys = [];
  for (const info of Array.isArray(body.signing_certificates) ? body.signing_certificates : []) {
    const kid = hex((await sha256(info.certificate)).slice(0, 8));
    if (!(info.kid instanceof Uint8Array) || hex(info.kid) !== kid ||
        !Number.isSafeInteger(info.not_before) || !Number.isSafeInteger(info.not_after)) {
      throw new TrustDocumentError("a signing certificate of the wrong form");
    }
    keys.push({ kid, public_key: base64UrlEncode(ed25519KeyOf(info.certificate)),
                not_before: iso(info.not_before), not_after: iso(info.not_after) });
  }
  if (!Number.isSafeInteger(body.issued_at) || !Number.isSafeInteger(body.expires_at) ||
      !Number.isSafeInteger(body.version)) {
    throw new TrustDocumentError("bundle times or version of the wrong form");
  }
  return {
    root: body.root, keys, version: body.version, issuedAt: body.issued_at,
    expiresAt: body.expires_at,
  };
}

/** Check (4): the revoked serials, or a TrustDocumentError. */
async function readRevocations(pin, rootDer, listB64) {
  const cose = readCose(base64UrlDecode(listB64));
  await checkSigned(cose, rootDer, REVOCATIONS_TYPE); // before the entries are decoded
  const body = cbor(cose.payload);
  if (body.city_id !== pin.id || !Array.isArray(body.revoked) ||
      !Number.isSafeInteger(body.issued_at) || !Number.isSafeInteger(body.next_update) ||
      !Number.isSafeInteger(body.sequence)) {
    throw new TrustDocumentError("a revocation list of the wrong form");
  }
  const revoked = body.revoked.map((entry) => {
    if (!Array.isArray(entry) || typeof entry[0] !== "string") {
      throw new TrustDocumentError("a revocation entry of the wrong form");
    }
    return entry[0];
  });
  return { revoked, sequence: body.sequence, issuedAt: body.issued_at, nextUpdate: body.next_update };
}

// What a document's check found, by the exact text checked (and the pin and root it was
// checked against): checking is a pure function of those, so a document checked once
// need not be checked again at every card. Edited storage is other text, checked anew.
const checkedDocuments = new Map();
const MAX_CHECKED_DOCUMENTS = 64;

function once(key, check) {
  let found = checkedDocuments.get(key);
  if (!found) {
    if (checkedDocuments.size >= MAX_CHECKED_DOCUMENTS) checkedDocuments.clear();
    found = check();
    found.catch(() => {}); // a refusal is kept too; each caller sees it when awaiting
    checkedDocuments.set(key, found);
  }
  return found;
}

function frozen(value) {
  // Byte arrays cannot be frozen; they are only read (hashed, compared).
  if (value && typeof value === "object" && !ArrayBuffer.isView(value) && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) frozen(inner);
  }
  return value;
}

function checkedBundle(pin, bundleB64) {
  return once(`bundle\n${pin.id}\n${pin.root_sha256}\n${bundleB64}`,
    () => readBundle(pin, bundleB64).then(frozen));
}

function checkedRevocations(pin, rootDer, listB64) {
  return once(`revocations\n${pin.id}\n${hex(rootDer)}\n${listB64}`,
    () => readRevocations(pin, rootDer, listB64).then(frozen));
}

/**
 * The trust data card-offline.js checks cards against, built only from documents that
 * pass their checks against `pins`. `stored` is what the page kept: {fetchedAt (ms),
 * data: {documents: [{id, bundle, revocations}]}}. `maxAgeHours` is the city's limit.
 * `floor` is the highest {version, sequence} seen by city id (rollbackFloor).
 * Returns {trust, problems: [city ids whose documents failed], outdated: bool,
 * seen: {id: {version, sequence}} of the documents used}.
 */
export async function verifiedTrust(stored, { pins, now, maxAgeHours, floor = {} }) {
  const at = Math.floor(now.getTime() / 1000);
  const fetchedAt = Math.floor(stored.fetchedAt / 1000);
  const maxAge = maxAgeHours * 3600;
  const documents = new Map();
  for (const d of (stored.data && Array.isArray(stored.data.documents)) ? stored.data.documents : []) {
    if (d && typeof d.id === "string" && !documents.has(d.id)) documents.set(d.id, d);
  }
  const issuers = [];
  const problems = [];
  const seen = {};
  let outdated = at - fetchedAt >= maxAge;
  for (const pin of pins) {
    const doc = documents.get(pin.id);
    const held = Object.hasOwn(floor, pin.id) ? floor[pin.id] : {};
    if (!doc || typeof doc.bundle !== "string") {
      // Fetched before it was pinned; but documents seen once do not go missing.
      if (Number.isSafeInteger(held.version)) problems.push(pin.id);
      continue;
    }
    let bundle;
    let list = null;
    try {
      bundle = await checkedBundle(pin, doc.bundle);
      if (typeof doc.revocations === "string") {
        list = await checkedRevocations(pin, bundle.root, doc.revocations);
      }
      // (6): not older than what this device has seen
      if (bundle.version < (held.version ?? 0) ||
          (list ? list.sequence : -1) < (held.sequence ?? -1)) {
        throw new TrustDocumentError("older than the documents seen before");
      }
    } catch {
      problems.push(pin.id); // left out: its cards read unknown_issuer
      continue;
    }
    seen[pin.id] = { version: bundle.version, ...(list ? { sequence: list.sequence } : {}) };
    // (5): freshness, from the signed times
    const stale = list === null || at >= list.nextUpdate || at - list.issuedAt >= maxAge;
    if (pin.own && stale) outdated = true;
    const oldest = Math.min(bundle.issuedAt, list ? list.issuedAt : bundle.issuedAt);
    issuers.push({
      id: pin.id, name: pin.name, own: Boolean(pin.own), suspended: Boolean(pin.suspended),
      // The alliance through which the server recognises this city (a name to show only).
      alliance: typeof pin.alliance === "string" ? pin.alliance : null,
      keys: bundle.keys, revoked: list ? list.revoked : [],
      // Own data is as old as its fetch; a partner's as its documents (as the server says).
      trust_data_age_seconds: pin.own ? 0 : Math.max(0, fetchedAt - oldest),
      trust_data_expires_at: iso(bundle.expiresAt),
      revocations_stale: !pin.own && stale,
    });
  }
  return { trust: { issuers }, problems, outdated, seen };
}

/** The highest of two floors ({id: {version, sequence}}), city by city. */
export function raisedFloor(floor, seen) {
  const out = { ...floor };
  for (const [id, got] of Object.entries(seen)) {
    const held = Object.hasOwn(out, id) ? out[id] : {};
    const version = Math.max(held.version ?? 0, got.version ?? 0);
    const sequence = Math.max(held.sequence ?? -1, got.sequence ?? -1);
    out[id] = { version, ...(sequence >= 0 ? { sequence } : {}) };
  }
  return out;
}

/**
 * A card's code checked with stored trust data: the documents first, against `pins`
 * (every time: storage may have been edited since), then the card (card-offline.js).
 * Returns {result (the shape of POST /api/v1/verify), checked (as verifiedTrust)}.
 */
export async function checkWithStoredTrust(text, stored, { pins, now, maxAgeHours, floor = {} }) {
  const checked = await verifiedTrust(stored, { pins, now, maxAgeHours, floor });
  const result = await verifyOffline(text, {
    trust: checked.trust, fetchedAt: new Date(stored.fetchedAt), now,
  });
  return { result, checked };
}
