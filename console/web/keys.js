// Key custody: each person's Ed25519 key lives in this browser as a non-extractable WebCrypto
// CryptoKey, kept in IndexedDB (a structured clone of the CryptoKey: the secret bytes never
// reach JavaScript again, and no page script can read them out). A key comes either from a
// `promoseal keygen` key file (imported once, the file's text then dropped) or is created here
// (its public trust-root entry is shown for the root holder to add by rotation).
//
// Signatures are Ed25519 over `"promoseal/v1/" + kind + "\0" + digest` (32 bytes), sent as
// standard base64: kind `console-sign-in` over SHA-256 of a sign-in challenge's text, kind
// `approval` over a promotion's approval digest.

const DB_NAME = "promoseal-console";
const STORE = "keys";
/** The PKCS #8 prefix of an Ed25519 private key; the 32-byte seed follows. */
const PKCS8_PREFIX = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

export const SIGN_IN = "console-sign-in";
export const APPROVAL = "approval";

/** Why a key operation failed, in words for the page. */
export class KeyError extends Error {}

function openDb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: "keyId" });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new KeyError(`this browser's key store cannot be opened: ${req.error?.message}`));
  });
}

async function withStore(mode, f) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const store = tx.objectStore(STORE);
      let result;
      const req = f(store);
      if (req) req.onsuccess = () => (result = req.result);
      tx.oncomplete = () => resolve(result);
      tx.onerror = () => reject(new KeyError(`this browser's key store failed: ${tx.error?.message}`));
      tx.onabort = () => reject(new KeyError(`this browser's key store failed: ${tx.error?.message}`));
    });
  } finally {
    db.close();
  }
}

/** The keys this browser holds: `{keyId, source, addedAt, publicKey?, roles?}` (no key material). */
export async function listKeys() {
  const all = (await withStore("readonly", (s) => s.getAll())) || [];
  return all
    .map(({ keyId, source, addedAt, publicKey, roles }) => ({ keyId, source, addedAt, publicKey, roles }))
    .sort((a, b) => a.keyId.localeCompare(b.keyId));
}

export async function hasKey(keyId) {
  return !!(await withStore("readonly", (s) => s.get(keyId)));
}

export async function removeKey(keyId) {
  await withStore("readwrite", (s) => s.delete(keyId));
}

function checkKeyId(keyId) {
  if (typeof keyId !== "string" || !/^[^\x00-\x1f\x7f]{1,128}$/.test(keyId) || keyId.trim() !== keyId) {
    throw new KeyError("a key id is 1 to 128 characters, without spaces around it");
  }
}

/**
 * Enrolls a `promoseal keygen` key file's text (`{"keyId": "…", "seed": "<64 hex>"}`): the
 * seed is imported as a non-extractable key and its bytes overwritten. Returns the key id.
 */
export async function enrollKeyFile(text) {
  let file;
  try {
    file = JSON.parse(text);
  } catch {
    throw new KeyError("this is not a promoseal key file (not JSON)");
  }
  const keys = file && typeof file === "object" ? Object.keys(file).sort().join(",") : "";
  if (keys !== "keyId,seed") {
    throw new KeyError("this is not a promoseal key file: it has `keyId` and `seed` and nothing else (a `.pub.json` file holds no secret)");
  }
  checkKeyId(file.keyId);
  if (typeof file.seed !== "string" || !/^[0-9a-fA-F]{64}$/.test(file.seed)) {
    throw new KeyError("the key file's seed is not 64 hex digits");
  }
  const pkcs8 = new Uint8Array(48);
  pkcs8.set(PKCS8_PREFIX, 0);
  for (let i = 0; i < 32; i++) pkcs8[16 + i] = parseInt(file.seed.slice(2 * i, 2 * i + 2), 16);
  file.seed = "";
  let privateKey;
  try {
    privateKey = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, false, ["sign"]);
  } catch (e) {
    throw new KeyError(`this browser cannot hold an Ed25519 key: ${e.message}`);
  } finally {
    pkcs8.fill(0);
  }
  const entry = { keyId: file.keyId, privateKey, source: "file", addedAt: new Date().toISOString() };
  await withStore("readwrite", (s) => s.put(entry));
  return file.keyId;
}

/**
 * Creates a key in this browser (the private half non-extractable) and answers its trust-root
 * entry `{id, publicKey, roles}` for the root holder.
 */
export async function createKey(keyId, roles) {
  checkKeyId(keyId);
  if (!Array.isArray(roles) || roles.length === 0 || roles.some((r) => !/^[a-z][a-z0-9_-]*$/.test(r))) {
    throw new KeyError("give at least one role (lower-case words such as marketing, finance, release)");
  }
  if (await hasKey(keyId)) throw new KeyError(`this browser already holds a key \`${keyId}\`: remove it first`);
  let pair;
  try {
    pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
  } catch (e) {
    throw new KeyError(`this browser cannot create an Ed25519 key: ${e.message}`);
  }
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const publicKey = base64(raw);
  const entry = {
    keyId,
    privateKey: pair.privateKey,
    publicKey,
    roles,
    source: "browser",
    addedAt: new Date().toISOString(),
  };
  await withStore("readwrite", (s) => s.put(entry));
  return { id: keyId, publicKey, roles };
}

export function base64(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

export function hexToBytes(hex) {
  if (typeof hex !== "string" || !/^([0-9a-fA-F]{2})*$/.test(hex)) throw new KeyError("not hex");
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export async function sha256(text) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/** The message an Ed25519 key signs: `promoseal/v1/<kind>\0<digest>`. */
export function signingMessage(kind, digest) {
  if (!(digest instanceof Uint8Array) || digest.length !== 32) throw new KeyError("a digest is 32 bytes");
  const prefix = new TextEncoder().encode(`promoseal/v1/${kind}\0`);
  const m = new Uint8Array(prefix.length + 32);
  m.set(prefix, 0);
  m.set(digest, prefix.length);
  return m;
}

/** Signs `digest` in the domain `kind` with the key `keyId` this browser holds (base64). */
export async function sign(keyId, kind, digest) {
  const entry = await withStore("readonly", (s) => s.get(keyId));
  if (!entry) throw new KeyError(`this browser does not hold the key \`${keyId}\`: enroll it on the sign-in page`);
  const sig = await crypto.subtle.sign({ name: "Ed25519" }, entry.privateKey, signingMessage(kind, digest));
  return base64(new Uint8Array(sig));
}
