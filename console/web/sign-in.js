// Sign-in: the keys this browser holds, each a button. Signing in asks the console for a
// one-use challenge, signs SHA-256 of its text in the domain `console-sign-in` with the key
// (in this browser), and sends the signature; the console checks it against the trust root.
import { $, api, ApiError, busy, clearError, confirmInline, el, fill, session, showError, showStatus } from "./common.js";
import { createKey, enrollKeyFile, KeyError, listKeys, removeKey, sha256, sign, SIGN_IN } from "./keys.js";

/** Where to go after signing in: a page of this console, never another site. A browser reads
 * `/\\host` and `/<tab>/host` as `//host`, so the URL is resolved the way the browser will
 * and kept only when it stays on this origin. */
function next() {
  const n = new URLSearchParams(location.search).get("next");
  if (!n || !n.startsWith("/")) return "/";
  let u;
  try {
    u = new URL(n, location.origin);
  } catch {
    return "/";
  }
  if (u.origin !== location.origin || u.pathname.startsWith("/sign-in")) return "/";
  return u.pathname + u.search + u.hash;
}

async function showHeld() {
  let keys;
  try {
    keys = await listKeys();
  } catch (e) {
    fill($("held"), el("p", { class: "error-text" }, e.message));
    return;
  }
  if (keys.length === 0) {
    fill($("held"), el("p", { class: "muted", id: "no-keys" }, "This browser holds no key yet: enroll a key file or create a key below."));
    return;
  }
  fill(
    $("held"),
    el(
      "ul",
      { class: "key-list", "aria-label": "Keys in this browser" },
      keys.map((k) =>
        el(
          "li",
          { class: "key-item", dataset: { keyId: k.keyId } },
          el(
            "div",
            { class: "key-name" },
            el("strong", {}, k.keyId),
            el("span", { class: "muted" }, k.source === "file" ? " · enrolled from a key file" : " · created in this browser"),
            k.roles ? el("span", { class: "muted" }, ` · ${k.roles.join(", ")}`) : null,
          ),
          el(
            "div",
            { class: "key-actions" },
            el("button", { type: "button", class: "primary", onclick: (ev) => signIn(ev.currentTarget, k.keyId) }, `Sign in as ${k.keyId}`),
            el("button", { type: "button", class: "quiet", "aria-label": `Remove key ${k.keyId}`, onclick: (ev) => remove(ev.currentTarget, k.keyId) }, "Remove"),
          ),
        ),
      ),
    ),
  );
}

async function signIn(button, keyId) {
  clearError();
  showStatus(`Signing in as ${keyId}…`);
  await busy(button, async () => {
    try {
      const challenge = await api("POST", "/session/challenge", { keyId }, { noRedirect: true });
      const signature = await sign(keyId, SIGN_IN, await sha256(challenge.text));
      await api("POST", "/session", { challengeId: challenge.id, signature }, { noRedirect: true });
      showStatus(`Signed in as ${keyId}.`);
      location.assign(next());
    } catch (e) {
      showStatus("");
      if (e instanceof ApiError && e.status === 401) {
        const refused = new Error(
          `The console refused the sign-in as ${keyId}: the trust root does not list this key for a person (machine keys such as edge and shop cannot sign in), or the key in this browser is not the one it lists.`,
        );
        refused.title = "Sign-in refused";
        showError(refused);
        return;
      }
      throw e;
    }
  });
}

function remove(button, keyId) {
  confirmInline(button, `Remove ${keyId} from this browser? Without its key file it is gone for good.`, `Remove ${keyId}`, async () => {
    await removeKey(keyId);
    showStatus(`Removed ${keyId} from this browser.`);
    await showHeld();
  });
}

async function enroll(ev) {
  ev.preventDefault();
  clearError();
  const fileInput = $("key-file");
  const textInput = $("key-text");
  await busy($("enroll"), async () => {
    let text = textInput.value.trim();
    if (!text && fileInput.files.length) text = await fileInput.files[0].text();
    if (!text) throw new KeyError("choose a key file or paste its contents");
    // Whatever happens, the secret leaves the form.
    textInput.value = "";
    fileInput.value = "";
    const keyId = await enrollKeyFile(text);
    text = "";
    showStatus(`Enrolled ${keyId}: this browser now holds it. Sign in with it above.`);
    await showHeld();
    // The next step is signing in with it: the keyboard goes there.
    document.querySelector(`#held li[data-key-id="${CSS.escape(keyId)}"] button.primary`)?.focus();
  });
}

async function create(ev) {
  ev.preventDefault();
  clearError();
  await busy($("create"), async () => {
    const roles = $("new-key-roles").value.split(",").map((r) => r.trim()).filter(Boolean);
    const entry = await createKey($("new-key-id").value.trim(), roles);
    $("created-entry").textContent = JSON.stringify(entry, null, 2);
    $("created").hidden = false;
    showStatus(`Created ${entry.id}. Give its trust-root entry to the root holder.`);
    await showHeld();
  });
}

async function main() {
  $("enroll-form").addEventListener("submit", enroll);
  $("create-form").addEventListener("submit", create);
  $("copy-entry").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText($("created-entry").textContent);
      showStatus("Entry copied.");
    } catch {
      showStatus("Select the entry and copy it.");
    }
  });
  if (!globalThis.crypto?.subtle || !globalThis.indexedDB) {
    showError(new Error("This browser lacks WebCrypto or IndexedDB: the console needs both to keep your key."));
  }
  const me = await session();
  if (me) {
    fill(
      $("already"),
      el(
        "p",
        { class: "notice" },
        "You are signed in as ",
        el("strong", {}, me.keyId),
        ". ",
        el("a", { href: next() }, "Continue"),
        " or sign in with another key below.",
      ),
    );
    $("already").hidden = false;
  }
  await showHeld();
}

main().catch(showError);
