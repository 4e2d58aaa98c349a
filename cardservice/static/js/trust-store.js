// Where the verify page keeps its trust data on the device: IndexedDB.
//
// localStorage holds a few megabytes of strings per site, which a city with many partners
// and long revocation lists can outgrow (and then the page silently keeps old data);
// IndexedDB holds far more, stores the objects as they are and does not block the page
// while it writes. Two records: "data" (the signed documents as fetched, and when) and
// "floor" (the highest versions seen, trust-documents.js check (6)). Only public data is
// kept, and nothing read from here is believed before its signatures are checked.
// Data kept in localStorage by an earlier version of the page is moved here once.

const DB_NAME = "cardservice-verify";
const DB_VERSION = 1;
const STORE = "trust";
const LEGACY_KEYS = { data: "cardservice.verify.trust-data", floor: "cardservice.verify.trust-floor" };

let opened = null;

function database() {
  if (!opened) {
    opened = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = () => { request.result.createObjectStore(STORE); };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
      request.onblocked = () => reject(new Error("the trust store is held by an older page"));
    });
    opened.catch(() => { opened = null; }); // a later call tries again
  }
  return opened;
}

// One request in its own transaction; its result once the transaction has committed.
async function transact(mode, makeRequest) {
  const db = await database();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const request = makeRequest(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(request.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("aborted"));
  });
}

function takeLegacy(name) {
  try {
    const raw = localStorage.getItem(LEGACY_KEYS[name]);
    return raw === null ? null : JSON.parse(raw);
  } catch {
    return null; // unreadable or blocked: nothing to move
  }
}

/** The record `name` ("data" or "floor"), or null when there is none. */
export async function readStored(name) {
  const value = await transact("readonly", (store) => store.get(name));
  if (value !== undefined) return value;
  const legacy = takeLegacy(name);
  if (legacy !== null) {
    await writeStored(name, legacy);
    try {
      localStorage.removeItem(LEGACY_KEYS[name]);
    } catch {
      // blocked storage: the copy here is the one read from now on anyway
    }
  }
  return legacy;
}

/** Keep `value` (structured-cloneable) as the record `name`. */
export function writeStored(name, value) {
  return transact("readwrite", (store) => store.put(value, name));
}

/** Forget the record `name`. */
export function forgetStored(name) {
  return transact("readwrite", (store) => store.delete(name));
}
