// The verify page's service worker (served by cardservice/web/verify.py, scope /verify).
//
// It keeps the page and everything it needs so that an agent who opens /verify with no
// network (after a reload, or a phone restart) still gets the working verify page:
//   - at install: the page (the offline shell), its CSS, scripts, the QR decoder and
//     the city's look, in a cache named after a hash of all of them;
//   - the page itself: network first, the cached copy when the network fails;
//   - the other kept files: from the cache at once, refreshed in the background;
//   - anything else (the verify API, the trust data, a posted form): the network only.
// Only the empty GET /verify page is kept, never a verdict (POST answers are not
// cached), and no trust data: the page keeps that itself and checks its signatures.

const VERSION = {{ version | tojson }};
const CACHE = `cardservice-verify-${VERSION}`;
const PAGE = {{ page | tojson }};
const ASSETS = {{ assets | tojson }};
const OPTIONAL = {{ optional | tojson }};
const KEPT = new Set([...ASSETS, ...OPTIONAL].map((path) => new URL(path, self.location).href));

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(ASSETS);
    // The emblem is welcome but not worth failing the install for.
    await Promise.all(OPTIONAL.map((path) => cache.add(path).catch(() => {})));
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("cardservice-verify-") && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

function isPage(url) {
  return url.pathname === PAGE;
}

async function pageFirstFromNetwork(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    // Only a plain page is kept (not a sign-in redirect, not an error page).
    if (response.ok && !response.redirected && response.type === "basic") {
      await cache.put(PAGE, response.clone());
    }
    return response;
  } catch (exc) {
    const kept = await cache.match(PAGE);
    if (kept) return kept;
    throw exc;
  }
}

async function keptFirst(event, request) {
  const cache = await caches.open(CACHE);
  const kept = await cache.match(request, { ignoreSearch: false });
  const refresh = fetch(request).then(async (response) => {
    if (response.ok && response.type === "basic") await cache.put(request, response.clone());
    return response;
  });
  if (kept) {
    event.waitUntil(refresh.catch(() => {})); // revalidate in the background
    return kept;
  }
  return refresh;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (isPage(url) && url.search === "") {
    event.respondWith(pageFirstFromNetwork(request));
  } else if (KEPT.has(url.href)) {
    event.respondWith(keptFirst(event, request));
  }
});
