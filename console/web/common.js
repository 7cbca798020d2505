// What every page of the console shares: the JSON API (CSRF token on writes, sign-in on 401,
// the error envelope shown as it is), the header with who is signed in, DOM helpers that never
// parse data as HTML, and the shop's time zone (dates typed in it become the UTC instants the
// terms hold).

/** An answer of the API that is not a success: its error envelope `{code, message, detail}`. */
export class ApiError extends Error {
  constructor(status, error) {
    super(error?.message || `the console answered ${status}`);
    this.status = status;
    this.code = error?.code || "httpError";
    this.detail = error?.detail;
  }
}

let sessionPromise = null;

/** The signed-in person `{keyId, roles, csrf}`, or null (no redirect). */
export function session() {
  if (!sessionPromise) {
    sessionPromise = fetch("/api/session", { headers: { accept: "application/json" } })
      // `{signedIn: false}` when no one is; a refusal's body is read too, so the request ends
      // (a body left unread keeps it open).
      .then(async (res) => (res.ok ? res.json().then((me) => (me.signedIn ? me : null)) : res.text().then(() => null)))
      .catch(() => null);
  }
  return sessionPromise;
}

/** Whether a role is the signed-in person's. */
export function hasRole(me, role) {
  return !!me && me.roles.includes(role);
}

/** Anyone but a viewer may write drafts and comments (the server's rule, checked there too). */
export function mayWrite(me) {
  return !!me && me.roles.some((r) => r !== "viewer");
}

export function signInUrl() {
  return `/sign-in?next=${encodeURIComponent(location.pathname + location.search)}`;
}

/**
 * One API call. `body` is sent as JSON, or with `bytes` as it is (a File, Blob or ArrayBuffer,
 * as `application/octet-stream`); writes carry the session's CSRF token. A 401 goes to the
 * sign-in page unless `noRedirect`. With `download`, a success is `{blob, filename}` (the name
 * from Content-Disposition) instead of JSON. Throws ApiError with the envelope's code, message
 * and detail.
 */
export async function api(method, path, body, { noRedirect = false, bytes = false, download = false } = {}) {
  const headers = { accept: download ? "text/csv, application/json;q=0.5" : "application/json" };
  if (body !== undefined) headers["content-type"] = bytes ? "application/octet-stream" : "application/json";
  if (method !== "GET" && method !== "HEAD") {
    const me = await session();
    if (me) headers["x-csrf-token"] = me.csrf;
  }
  let res;
  try {
    res = await fetch(`/api${path}`, {
      method,
      headers,
      body: body === undefined || bytes ? body : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch (e) {
    throw new ApiError(0, { code: "network", message: `the console cannot be reached: ${e.message}` });
  }
  if (res.status === 401) {
    // The session is gone: the next call asks again (a sign-in in another tab gives a new one,
    // with a new CSRF token).
    sessionPromise = null;
    if (!noRedirect) {
      location.assign(signInUrl());
      throw new ApiError(401, { code: "unauthorized", message: "sign in first" });
    }
  }
  if (res.status === 204) return null;
  if (download && res.ok) {
    const name = /filename="([^"]*)"/.exec(res.headers.get("content-disposition") || "")?.[1];
    return { blob: await res.blob(), filename: name || "download" };
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    throw new ApiError(res.status, data?.error ?? { code: "httpError", message: text || res.statusText });
  }
  return data;
}

// ---------------------------------------------------------------------------------------------
// DOM

/**
 * An element: `el("a", {href: "/x", class: "button"}, "text", child)`. Attributes are set as
 * attributes (a `dataset` object and boolean `hidden`/`disabled`/`checked` handled); children
 * are nodes or text (never HTML).
 */
/** The promotion id a page's address names (`/promotions/<id>` with `suffix` after it), or
 * null when the address names none or its escapes are malformed (`%FF`). */
export function promotionIdFromPath(suffix = "") {
  const m = new RegExp(`^/promotions/([^/]+)${suffix}$`).exec(location.pathname);
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return null;
  }
}

/** What a promotion page shows when its promotion does not exist: the way back. */
export function noSuchPromotion(into) {
  fill(into, el("p", {}, "There is no such promotion. ", el("a", { href: "/" }, "Back to the promotions")));
}

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "dataset") Object.assign(e.dataset, v);
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on") && typeof v === "function") e.addEventListener(k.slice(2), v);
    else if (k === "checked" || k === "selected" || k === "value") e[k] = v;
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  append(e, children);
  return e;
}

export function append(parent, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    parent.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return parent;
}

/** Replaces an element's children. */
export function fill(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

export function $(id) {
  return document.getElementById(id);
}

// ---------------------------------------------------------------------------------------------
// Messages

/** Shows an error (an ApiError shows its code and message, and any detail's list of errors). */
export function showError(err, extra = []) {
  const box = $("alert");
  if (!box) return;
  const title = err?.title || (err instanceof ApiError ? errorTitle(err) : "Something went wrong");
  const lines = [];
  if (err instanceof ApiError && Array.isArray(err.detail?.errors) && err.detail.errors.length > 1) {
    for (const e of err.detail.errors) lines.push(`${e.path}: ${e.message}`);
  }
  fill(
    box,
    el("p", { class: "alert-title" }, title),
    el("p", {}, err?.message || String(err)),
    lines.length ? el("ul", {}, lines.map((l) => el("li", {}, l))) : null,
    err instanceof ApiError && err.code && err.status ? el("p", { class: "alert-code" }, `code: ${err.code} (HTTP ${err.status})`) : null,
    extra,
  );
  box.hidden = false;
  box.scrollIntoView({ block: "nearest" });
}

function errorTitle(err) {
  switch (err.code) {
    case "staleEdit":
      return "Someone else changed this promotion";
    case "alreadyExists":
      return "That id is taken";
    case "invalidPromotion":
      return "The promotion cannot be saved";
    case "approvalRefused":
      return "Approval refused";
    case "forbidden":
      return "Not allowed";
    case "invalidState":
      return "Not possible in this state";
    case "tooManyAttempts":
      return "Too many attempts";
    case "network":
      return "The console cannot be reached";
    default:
      return err.status >= 500 ? "The console failed" : "Request refused";
  }
}

/** A mistake in a form, before anything is sent: focus goes to the field. */
export function formError(message, field, title = "Check the form") {
  const e = new Error(message);
  e.title = title;
  if (field) $(field).focus();
  return e;
}

export function clearError() {
  const box = $("alert");
  if (box) {
    box.hidden = true;
    box.replaceChildren();
  }
}

/** A short success or progress message (announced politely). */
export function showStatus(text) {
  const box = $("status");
  if (box) box.textContent = text || "";
}

/** Runs an async action from a button: disabled while it runs, errors shown. */
export async function busy(button, action) {
  const was = button.disabled;
  const focused = document.activeElement === button;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await action();
  } catch (e) {
    showError(e);
    return undefined;
  } finally {
    button.disabled = was;
    button.removeAttribute("aria-busy");
    // Disabling the button (or drawing the page again) dropped a keyboard user's focus to the
    // top of the page: it goes back to the button, or, when the button is gone, to what the
    // page said (the alert, else the status line), unless the action moved it on purpose.
    if (focused && (!document.activeElement || document.activeElement === document.body)) {
      const said = [$("alert"), $("status")].find((x) => x && !x.hidden && x.textContent.trim());
      const to = button.isConnected && !button.disabled ? button : said;
      if (to && to !== button && !to.hasAttribute("tabindex")) to.setAttribute("tabindex", "-1");
      to?.focus();
    }
  }
}

/**
 * A confirmation in the page (no `confirm()` dialog): after `button`, a question with a button
 * that runs `action` and one that cancels.
 */
export function confirmInline(button, question, confirmLabel, action) {
  const old = button.parentElement.querySelector(".confirm");
  if (old) old.remove();
  const box = el("div", { class: "confirm", role: "group", "aria-label": question });
  const yes = el("button", { type: "button", class: "danger" }, confirmLabel);
  const no = el("button", { type: "button", class: "quiet" }, "Cancel");
  yes.addEventListener("click", async () => {
    await busy(yes, action);
    box.remove();
  });
  no.addEventListener("click", () => {
    box.remove();
    button.focus();
  });
  append(box, [el("span", {}, question), " ", yes, " ", no]);
  button.after(box);
  yes.focus();
}

// ---------------------------------------------------------------------------------------------
// Header

/**
 * Fills `<header id="top">`: the console's name, the pages, who is signed in and sign-out.
 * Goes to the sign-in page when nobody is signed in (unless `optional`).
 */
export async function header({ optional = false } = {}) {
  const me = await session();
  if (!me && !optional) {
    location.assign(signInUrl());
    return new Promise(() => {});
  }
  const top = $("top");
  if (!top) return me;
  const here = location.pathname;
  const link = (href, text, current) =>
    el("a", { href, "aria-current": current ? "page" : undefined }, text);
  const nav = el(
    "nav",
    { "aria-label": "Console" },
    el(
      "ul",
      {},
      el("li", {}, link("/", "Promotions", here === "/" || here.startsWith("/promotions"))),
      el("li", {}, link("/approvals", "Your approvals", here === "/approvals")),
      el("li", {}, link("/releases", "Releases", here === "/releases")),
      el("li", {}, link("/codes", "Codes", here === "/codes")),
      el("li", {}, link("/audit", "Audit log", here === "/audit")),
    ),
  );
  const who = me
    ? el(
        "div",
        { class: "who" },
        el("span", { id: "signed-in-as" }, "Signed in as ", el("strong", {}, me.keyId)),
        el("span", { class: "roles" }, me.roles.join(", ")),
        el("button", { type: "button", class: "link-button", id: "sign-out", onclick: signOut }, "Sign out"),
      )
    : el("div", { class: "who" }, el("a", { href: "/sign-in" }, "Sign in"));
  fill(top, el("a", { href: "/", class: "brand" }, "Promoseal console"), me ? nav : null, who);
  return me;
}

async function signOut(ev) {
  const button = ev.currentTarget;
  await busy(button, async () => {
    await api("DELETE", "/session", undefined, { noRedirect: true });
    sessionPromise = null;
    location.assign("/sign-in");
  });
}

// ---------------------------------------------------------------------------------------------
// Formatting

export const STATE_LABELS = {
  draft: "Draft",
  review: "In review",
  approved: "Approved",
  live: "Live",
  paused: "Paused",
  ended: "Ended",
};

/** A state badge: `<span class="badge badge-live">Live</span>`. */
export function badge(state) {
  return el("span", { class: `badge badge-${state}`, dataset: { state } }, STATE_LABELS[state] || state);
}

/** Unix seconds or an RFC 3339 instant, in the shop's time zone (or the browser's). */
export function formatInstant(value, timeZone) {
  if (value === undefined || value === null || value === "") return "";
  const ms = typeof value === "number" ? value * 1000 : Date.parse(value);
  if (Number.isNaN(ms)) return String(value);
  try {
    return new Intl.DateTimeFormat(undefined, {
      weekday: "short",
      year: "numeric",
      month: "short",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
      timeZone: timeZone || undefined,
      timeZoneName: "short",
    }).format(new Date(ms));
  } catch {
    return new Date(ms).toISOString();
  }
}

export function shortHash(hex) {
  return hex ? `${hex.slice(0, 12)}…` : "";
}

// ---------------------------------------------------------------------------------------------
// The shop's time zone

const partsFormats = new Map();

function zoneParts(ms, timeZone) {
  let f = partsFormats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    partsFormats.set(timeZone, f);
  }
  const p = {};
  for (const { type, value } of f.formatToParts(new Date(ms))) p[type] = value;
  return {
    year: Number(p.year),
    month: Number(p.month),
    day: Number(p.day),
    hour: Number(p.hour) % 24,
    minute: Number(p.minute),
    second: Number(p.second),
  };
}

/**
 * A wall-clock date (`YYYY-MM-DD`) and time (`HH:MM[:SS]`) in `timeZone` as an RFC 3339 UTC
 * instant (`2026-11-24T05:00:00Z`), or null when the date is not one. In a daylight-saving gap
 * the time moves forward by the gap, as clocks do.
 */
export function zonedToInstant(date, time, timeZone) {
  const d = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date || "");
  const t = /^(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(time || "00:00");
  if (!d || !t) return null;
  const wall = Date.UTC(+d[1], +d[2] - 1, +d[3], +t[1], +t[2], +(t[3] || 0));
  if (Number.isNaN(wall)) return null;
  let guess = wall;
  for (let i = 0; i < 3; i++) {
    const p = zoneParts(guess, timeZone);
    const seen = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
    const next = wall - (seen - guess);
    if (next === guess) break;
    guess = next;
  }
  return new Date(guess).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** An instant as the wall-clock `{date, time, seconds}` of `timeZone`. */
export function instantToZoned(instant, timeZone) {
  const ms = Date.parse(instant);
  if (Number.isNaN(ms)) return null;
  const p = zoneParts(ms, timeZone);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return {
    date: `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)}`,
    time: `${pad(p.hour)}:${pad(p.minute)}${p.second ? `:${pad(p.second)}` : ""}`,
    midnight: p.hour === 0 && p.minute === 0 && p.second === 0,
  };
}

/** The day after a `YYYY-MM-DD` date (calendar arithmetic, no time zone involved). */
export function nextDay(date) {
  const d = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date || "");
  if (!d) return null;
  return new Date(Date.UTC(+d[1], +d[2] - 1, +d[3] + 1)).toISOString().slice(0, 10);
}

export function previousDay(date) {
  const d = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date || "");
  if (!d) return null;
  return new Date(Date.UTC(+d[1], +d[2] - 1, +d[3] - 1)).toISOString().slice(0, 10);
}

// ---------------------------------------------------------------------------------------------
// The evaluator (wasm), loaded once per page

let wasmPromise = null;

/** The console's build of the evaluator: `{review, Engine}`. */
export function evaluator() {
  if (!wasmPromise) {
    wasmPromise = import("/wasm/promoseal_evaluator.js").then(async (m) => {
      await m.default();
      return m;
    });
  }
  return wasmPromise;
}

let contextPromise = null;

/** What a review needs besides the draft (`GET /api/context`). */
export function reviewContext() {
  if (!contextPromise) contextPromise = api("GET", "/context");
  return contextPromise;
}

/**
 * The core's review of terms, in the page: `{ok: true, value: Review}` or `{ok: false, error}`.
 */
export async function reviewTerms(terms) {
  const [wasm, context] = await Promise.all([evaluator(), reviewContext()]);
  return wasm.review({ ...context, draft: terms });
}

/** Money with its currency: `12.50 USD`. */
export function money(amount, currency) {
  return amount === undefined || amount === null ? "" : `${amount} ${currency || ""}`.trim();
}
