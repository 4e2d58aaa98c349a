// Offline verification of a card's QR text, in the browser, against cached trust data.
//
// Used only when the server cannot be reached: the answer has the shape of
// POST /api/v1/verify (SPEC §6) and follows the same numbered checks as
// cardservice/credential.py, so an agent sees the same verdict either way:
//
//   (1) format -> malformed: prefix, Base45, zlib, the one COSE_Sign1 encoding a card
//       has, strict CBOR claims of the right types and ranges, holder name rules
//   (2) issuer known -> unknown_issuer; a suspended partner -> partner_suspended;
//       a partner whose trust data expired (trust_data_expires_at) -> trust_expired
//   (3) kid known -> unknown_key (the trust data lists only keys that chain to the
//       issuer's root: the server did check (4) before publishing them)
//   (5) Ed25519 signature over the COSE Sig_structure -> bad_signature
//   (6) card lifetime within the signing key's validity -> bad_signature
//   (7) now >= iat -> not_yet_valid   (8) now < exp -> expired   (9) not revoked -> revoked
//
// The holder is returned only once the signature checked out (checks 7-9 and valid).
// Nothing here stores or sends anything; time is passed in as `now`.

import { decode as cborDecode, Tokeniser } from "../vendor/cborg/lib/decode.js";
import { Type } from "../vendor/cborg/lib/token.js";

export const PREFIX = "LC1:";
export const HOLDER_CLAIM_KEY = -70001;

const MAX_QR_CHARS = 4096;
const MAX_COSE_BYTES = 4096; // also the cap on inflated bytes: no decompression bomb
const MAX_NAME_LENGTH = 100;
const MAX_TIMESTAMP = 253402300799; // 9999-12-31T23:59:59Z
const MIN_DAY = -719162; // 0001-01-01, the first day Python's date can hold
const MAX_DAY = 2932896; // 9999-12-31
// Gender codes on the wire (credential.GENDERS): 1 F, 2 M, 3 X; absent when none.
const GENDERS = [null, "F", "M", "X"];
const CLAIM_KEYS = [1, 4, 6, 7, HOLDER_CLAIM_KEY];
const CITY_ID = /^[A-Z]{2}[A-Z0-9]{3}$/;
// A serial is 11 Crockford Base32 digits (cardservice.serials); cti holds its 55-bit
// value as 7 big-endian bytes (credential._cti_to_serial, docs/card-format.md §3).
const SERIAL_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const SERIAL_LENGTH = 11;
const CTI_BYTES = 7;
// Same as credential._NAME_FORBIDDEN: controls, surrogates, line/paragraph separators
// and bidi embedding/override/isolate controls (they could make a name display as
// another). Lone surrogates cannot come out of the (fatal) decoders, so they are not
// listed. U+FFFD is refused too: it is what cborg's text decoding gives for bytes that
// are not UTF-8, which the server's CBOR decoder refuses as malformed.
const NAME_FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufffd]/u;
// Python's str.strip() white space, near enough for names: any Unicode white space.
const EDGE_SPACE = /^\s|\s$/u;

// Fixed for LC1: (credential.NAME_ENCODINGS, docs/card-format.md §4): id byte -> WHATWG
// encoding label. Ids are never reused.
const NAME_ENCODINGS = {
  1: "windows-1252", 2: "windows-1250", 3: "windows-1251", 4: "windows-1253",
  5: "windows-1254", 6: "windows-1255", 7: "windows-1256", 8: "windows-1257",
  9: "windows-1258", 10: "windows-874", 11: "iso-8859-16", 12: "utf-16be",
  13: "viscii",
};
// VISCII (RFC 1456, id 13) is not in the WHATWG Encoding Standard, so TextDecoder cannot
// read it: its table is carried here, as in cardservice/viscii.py (the tests hold the two
// to each other). Byte -> character: ASCII, except six capitals in place of C0 controls,
// and the other 128 Vietnamese letters at 0x80-0xFF, sixteen a line.
const VISCII_LOW = { 0x02: "Ẳ", 0x05: "Ẵ", 0x06: "Ẫ", 0x14: "Ỷ", 0x19: "Ỹ", 0x1e: "Ỵ" };
const VISCII_HIGH =
  "ẠẮẰẶẤẦẨẬẼẸẾỀỂỄỆỐ" + // 0x80-0x8F
  "ỒỔỖỘỢỚỜỞỊỎỌỈỦŨỤỲ" + // 0x90-0x9F
  "Õắằặấầẩậẽẹếềểễệố" + // 0xA0-0xAF
  "ồổỗỠƠộờởịỰỨỪỬơớƯ" + // 0xB0-0xBF
  "ÀÁÂÃẢĂẳẵÈÉÊẺÌÍĨỳ" + // 0xC0-0xCF
  "ĐứÒÓÔạỷừửÙÚỹỵÝỡư" + // 0xD0-0xDF
  "àáâãảăữẫèéêẻìíĩỉ" + // 0xE0-0xEF
  "đựòóôõỏọụùúũủýợỮ"; // 0xF0-0xFF
const VISCII = Array.from({ length: 256 },
  (_, b) => (b < 0x80 ? VISCII_LOW[b] ?? String.fromCharCode(b) : VISCII_HIGH[b - 0x80]));

/** VISCII bytes as text; every byte has a character (controls are refused later). */
function visciiDecode(bytes) {
  let text = "";
  for (const b of bytes) text += VISCII[b];
  return text;
}

// tag 18, array(4), bstr(13) holding map(2) {1: -8 (EdDSA), 4: bstr(8) <kid>}
const COSE_HEAD = [0xd2, 0x84, 0x4d, 0xa2, 0x01, 0x27, 0x04, 0x48];
const COSE_MIN_LENGTH = 8 + 8 + 1 + 1 + 66; // head, kid, {}, empty payload, signature
const CBOR_STRICT = {
  strict: true, useMaps: true, rejectDuplicateMapKeys: true, allowIndefinite: false,
  allowUndefined: false, allowInfinity: false, allowNaN: false, allowBigInt: false,
};
// No claim is ever a floating-point number, and JavaScript cannot tell 1.0 from 1 once
// decoded: float tokens are refused here, as the server refuses a float where it wants
// an integer (a gender code, a date of birth, iat, exp).
class NoFloatTokeniser extends Tokeniser {
  next() {
    const token = super.next();
    if (token.type === Type.float) throw new Error("a floating-point number in the claims");
    return token;
  }
}
const B45_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/** A check that failed; `status` is the SPEC §6 status, `claims` set only for (7)-(9). */
export class CardCheckError extends Error {
  constructor(status, message, claims = null) {
    super(message);
    this.name = "CardCheckError";
    this.status = status;
    this.claims = claims;
  }
}

class MalformedError extends Error {}

/** Strict Base45 (RFC 9285): the one valid string for each byte string. */
export function base45Decode(text) {
  const out = [];
  const value = (ch) => {
    const v = B45_ALPHABET.indexOf(ch);
    if (v < 0) throw new MalformedError("not Base45");
    return v;
  };
  if (text.length % 3 === 1) throw new MalformedError("Base45 length");
  for (let i = 0; i < text.length; i += 3) {
    if (i + 2 < text.length) {
      const n = value(text[i]) + 45 * value(text[i + 1]) + 2025 * value(text[i + 2]);
      if (n > 0xffff) throw new MalformedError("Base45 triple out of range");
      out.push(n >> 8, n & 0xff);
    } else {
      const n = value(text[i]) + 45 * value(text[i + 1]);
      if (n > 0xff) throw new MalformedError("Base45 pair out of range");
      out.push(n);
    }
  }
  return Uint8Array.from(out);
}

async function inflate(data) {
  // DecompressionStream("deflate") is zlib (RFC 1950): header, deflate data, Adler-32.
  // It errors on a truncated stream or on bytes after its end; the size is capped here.
  const reader = new Blob([data]).stream().pipeThrough(new DecompressionStream("deflate"))
    .getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    let step;
    try {
      step = await reader.read();
    } catch {
      throw new MalformedError("not a complete zlib stream");
    }
    if (step.done) break;
    size += step.value.length;
    if (size > MAX_COSE_BYTES) {
      await reader.cancel().catch(() => {});
      throw new MalformedError("zlib stream too large");
    }
    chunks.push(step.value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  if (out.length <= data.length) {
    // The encoder compresses only when that is strictly shorter.
    throw new MalformedError("zlib used where it does not shorten the card");
  }
  return out;
}

function bstrHead(length) {
  if (length < 24) return [0x40 | length];
  if (length < 0x100) return [0x58, length];
  return [0x59, length >> 8, length & 0xff];
}

function startsWith(data, prefix, at = 0) {
  return prefix.every((b, i) => data[at + i] === b);
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function isInt(v) {
  return typeof v === "number" && Number.isSafeInteger(v);
}

function decodeName(name) {
  if (name instanceof Uint8Array) {
    // Compact form: an encoding id byte, then the name in that encoding, then NFC.
    // fatal: bytes the encoding does not define (or an odd UTF-16 length, or a lone
    // surrogate) are an error, as they are for Python's codecs on the server.
    const label = name.length ? NAME_ENCODINGS[name[0]] : undefined;
    if (!label) throw new MalformedError("unknown name encoding");
    try {
      name = label === "viscii" ? visciiDecode(name.subarray(1))
        : new TextDecoder(label, { fatal: true, ignoreBOM: true }).decode(name.subarray(1));
    } catch {
      throw new MalformedError("holder name bytes are not in their encoding");
    }
    name = name.normalize("NFC");
  } else if (typeof name !== "string") {
    throw new MalformedError("holder name of the wrong type");
  }
  const length = [...name].length; // code points, as Python counts
  if (length < 1 || length > MAX_NAME_LENGTH || EDGE_SPACE.test(name) ||
      NAME_FORBIDDEN.test(name)) {
    throw new MalformedError("holder name of the wrong form");
  }
  return name;
}

function decodeSerial(cti) {
  // Exactly 7 bytes and below 32**11 (top bit clear), so each serial has one cti.
  if (!(cti instanceof Uint8Array) || cti.length !== CTI_BYTES || cti[0] & 0x80) {
    throw new MalformedError("cti is not a serial's 7-byte value");
  }
  let value = 0n;
  for (const b of cti) value = (value << 8n) | BigInt(b);
  const digits = [];
  for (let i = 0; i < SERIAL_LENGTH; i++) {
    digits.push(SERIAL_ALPHABET[Number(value & 31n)]);
    value >>= 5n;
  }
  return digits.reverse().join(""); // left-padded with '0' by construction
}

function isoSeconds(seconds) {
  return new Date(seconds * 1000).toISOString().replace(/\.000Z$/, "Z");
}

function isoDay(days) {
  return new Date(days * 86400000).toISOString().slice(0, 10);
}

/**
 * Check (1): decode and type-check everything, mirroring credential._parse.
 * The COSE_Sign1 envelope has exactly one valid encoding, so it is matched byte for byte.
 */
export async function parseCard(qr) {
  if (typeof qr !== "string") throw new MalformedError("a card is text");
  if (qr.length > MAX_QR_CHARS) throw new MalformedError("too long to be a card");
  if (!qr.startsWith(PREFIX)) throw new MalformedError(`does not start with ${PREFIX}`);
  let data = base45Decode(qr.slice(PREFIX.length));
  if (data[0] === 0x78) data = await inflate(data);
  if (data.length < COSE_MIN_LENGTH || data.length > MAX_COSE_BYTES ||
      !startsWith(data, COSE_HEAD)) {
    throw new MalformedError("not a COSE_Sign1 card with {alg: EdDSA, kid: 8 bytes}");
  }
  if (data[16] !== 0xa0) throw new MalformedError("unprotected header is not empty");
  const first = data[17];
  const headLength = first >= 0x40 && first < 0x58 ? 1 : first === 0x58 ? 2 : first === 0x59 ? 3 : 0;
  const payload = data.subarray(17 + headLength, data.length - 66);
  if (!headLength || !startsWith(data, bstrHead(payload.length), 17) ||
      data[data.length - 66] !== 0x58 || data[data.length - 65] !== 0x40) {
    throw new MalformedError("not a COSE_Sign1 card in shortest CBOR form");
  }
  let raw;
  try {
    // Throws on bytes after the claims too.
    raw = cborDecode(payload,
      { ...CBOR_STRICT, tokenizer: new NoFloatTokeniser(payload, CBOR_STRICT) });
  } catch (exc) {
    throw new MalformedError(`claims are not strict CBOR: ${exc.message}`);
  }
  if (!(raw instanceof Map) || raw.size !== CLAIM_KEYS.length ||
      !CLAIM_KEYS.every((k) => raw.has(k))) {
    throw new MalformedError(`claims are not exactly iss, exp, iat, cti and ${HOLDER_CLAIM_KEY}`);
  }
  const iss = raw.get(1);
  const exp = raw.get(4);
  const iat = raw.get(6);
  const cti = raw.get(7);
  const entry = raw.get(HOLDER_CLAIM_KEY);
  if (!(typeof iss === "string" && CITY_ID.test(iss) && isInt(exp) && isInt(iat) &&
        iat >= 0 && iat < exp && exp <= MAX_TIMESTAMP && cti instanceof Uint8Array &&
        Array.isArray(entry) && entry.length >= 2 && entry.length <= 3 &&
        isInt(entry[1]) && entry[1] >= MIN_DAY && entry[1] <= MAX_DAY &&
        (entry.length === 2 || (isInt(entry[2]) && entry[2] >= 1 && entry[2] <= 3)))) {
    throw new MalformedError("claims of the wrong type or range");
  }
  const serial = decodeSerial(cti);
  const holder = { name: decodeName(entry[0]), date_of_birth: isoDay(entry[1]) };
  if (entry.length === 3) holder.gender = GENDERS[entry[2]];
  return {
    protected: data.subarray(3, 16),
    payload,
    signature: data.subarray(data.length - 64),
    kid: data.subarray(8, 16),
    iat,
    exp,
    claims: {
      issuer: iss, serial, issued_at: isoSeconds(iat), expires_at: isoSeconds(exp), holder,
    },
  };
}

function base64UrlDecode(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The COSE Sig_structure ["Signature1", protected, h'', payload], CBOR-encoded. */
export function sigStructure(protectedBytes, payload) {
  return concat([
    Uint8Array.from([0x84, 0x6a]), // array(4), text(10)
    new TextEncoder().encode("Signature1"),
    Uint8Array.from(bstrHead(protectedBytes.length)), protectedBytes,
    Uint8Array.from([0x40]), // external_aad: empty
    Uint8Array.from(bstrHead(payload.length)), payload,
  ]);
}

async function signatureMatches(key, card) {
  let publicKey;
  try {
    publicKey = await crypto.subtle.importKey(
      "raw", base64UrlDecode(key.public_key), { name: "Ed25519" }, false, ["verify"]);
  } catch {
    return false; // a key we cannot use vouches for nothing
  }
  return crypto.subtle.verify({ name: "Ed25519" }, publicKey, card.signature,
    sigStructure(card.protected, card.payload));
}

/**
 * Check a card's QR text at `now` against `trust` (the JSON of /verify/trust-data.json).
 * Returns the card and the issuer that signed it, or throws a CardCheckError.
 */
export async function checkCard(qr, { trust, now }) {
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new TypeError("now must be a Date");
  const at = Math.floor(now.getTime() / 1000);

  // (1): format
  let card;
  try {
    card = await parseCard(qr);
  } catch (exc) {
    // Decoders of untrusted bytes fail in many ways; each is the same answer here.
    throw new CardCheckError("malformed", exc instanceof Error ? exc.message : "not a card");
  }
  const claims = card.claims;

  // (2): issuer known, and not suspended
  const issuer = (trust.issuers || []).find((i) => i.id === claims.issuer);
  if (!issuer) throw new CardCheckError("unknown_issuer", `cards of ${claims.issuer} are not recognised here`);
  if (issuer.suspended) throw new CardCheckError("partner_suspended", `${issuer.name}'s cards are not recognised at the moment`);
  if (issuer.trust_data_expires_at && at >= Date.parse(issuer.trust_data_expires_at) / 1000) {
    throw new CardCheckError("trust_expired", `${issuer.name}'s trust data expired at ${issuer.trust_data_expires_at}`);
  }

  // (3): kid known (the server published only keys that chain to the issuer's root: (4))
  const kid = hex(card.kid);
  const candidates = (issuer.keys || []).filter((k) => k.kid === kid);
  if (!candidates.length) throw new CardCheckError("unknown_key", `${claims.issuer} has no signing key ${kid}`);

  // (5): signature over the COSE Sig_structure
  let signer = null;
  for (const key of candidates) {
    if (await signatureMatches(key, card)) {
      signer = key;
      break;
    }
  }
  if (!signer) throw new CardCheckError("bad_signature", "the signature does not match the card");

  // (6): the card's lifetime lies within the signing key's validity
  const from = Date.parse(signer.not_before) / 1000;
  const until = Date.parse(signer.not_after) / 1000;
  if (!(from <= card.iat && card.exp <= until)) {
    throw new CardCheckError("bad_signature", "the card was signed outside its signing key's validity");
  }

  // (7): not before the issue time
  if (at < card.iat) throw new CardCheckError("not_yet_valid", `valid from ${claims.issued_at}`, claims);

  // (8): expiry — exp is the first instant at which the card is no longer valid
  if (at >= card.exp) throw new CardCheckError("expired", `expired at ${claims.expires_at}`, claims);

  // (9): revocation, as of the trust data
  if ((issuer.revoked || []).includes(claims.serial)) {
    throw new CardCheckError("revoked", "the issuer has revoked this card", claims);
  }
  return { claims, issuer };
}

/**
 * The SPEC §6 verify result for `qr`, worked out offline.
 * `trust` must come from checked documents (trust-documents.js verifiedTrust).
 * `fetchedAt` is when `trust` was fetched; the age adds the issuer's own data age
 * (a partner's keys and revocations are as old as this city's last sync with it).
 */
export async function verifyOffline(qr, { trust, fetchedAt, now }) {
  const sinceFetch = Math.max(0, Math.floor((now.getTime() - fetchedAt.getTime()) / 1000));
  let status = "valid";
  let claims = null;
  try {
    claims = (await checkCard(qr, { trust, now })).claims;
  } catch (exc) {
    if (!(exc instanceof CardCheckError)) throw exc;
    status = exc.status;
    claims = exc.claims;
  }
  const result = { valid: status === "valid", status, trust_data_age_seconds: sinceFetch };
  if (claims) {
    const issuer = trust.issuers.find((i) => i.id === claims.issuer);
    result.issuer = { id: issuer.id, name: issuer.name, own: Boolean(issuer.own) };
    if (typeof issuer.alliance === "string") result.issuer.alliance = issuer.alliance;
    result.card = { serial: claims.serial, issued_at: claims.issued_at, expires_at: claims.expires_at };
    result.holder = { ...claims.holder };
    result.trust_data_age_seconds = sinceFetch + (issuer.trust_data_age_seconds || 0);
    // As the server says it (docs/trust.md, freshness): the card is genuine, the agent
    // is told that a cancellation since may not be known here.
    if (status === "valid" && issuer.revocations_stale) result.warnings = ["revocations_stale"];
  }
  return result;
}

/** Whether `value` looks like the trust data the server publishes (for the cache). */
export function isTrustData(value) {
  return Boolean(value) && typeof value === "object" && Array.isArray(value.issuers) &&
    value.issuers.every((i) => i && typeof i.id === "string" && typeof i.name === "string" &&
      Array.isArray(i.keys) && Array.isArray(i.revoked) &&
      i.keys.every((k) => k && typeof k.kid === "string" && typeof k.public_key === "string" &&
        typeof k.not_before === "string" && typeof k.not_after === "string"));
}
