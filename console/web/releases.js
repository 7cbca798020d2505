// Releases: the version published now, a Publish button for the release role, and the
// history of releases and of how long the edge took to serve each.
import { $, api, busy, clearError, confirmInline, el, fill, formatInstant, hasRole, header, showError, showStatus } from "./common.js";

let me = null;
let timeZone;
/** The version published now (0 before the first). */
let current = 0;

function releaseWords(r) {
  return [
    `Version ${r.version}: ${r.promotions} promotion${r.promotions === 1 ? "" : "s"}.`,
    r.pushed?.length ? ` Pushed to ${r.pushed.join(" and ")}.` : " Pushed nowhere (no ledger or edge configured).",
    r.failed?.length ? ` Failed: ${r.failed.join("; ")}.` : "",
  ].join("");
}

function entryView(e) {
  const d = e.detail || {};
  if (e.action === "servedAtEdge") {
    return el(
      "li",
      { dataset: { action: e.action, version: String(d.version) } },
      el("time", {}, formatInstant(e.at, timeZone)),
      " ",
      el("strong", {}, `Version ${d.version}`),
      ` served at the edge ${d.afterMs} ms after the push.`,
    );
  }
  return el(
    "li",
    { dataset: { action: e.action, version: String(d.version) } },
    el("time", {}, formatInstant(e.at, timeZone)),
    " ",
    el("strong", {}, `Version ${d.version}`),
    ` published by ${e.actor}${d.why && d.why !== "publish" ? ` (${d.why})` : ""}: ${d.promotions} promotion${d.promotions === 1 ? "" : "s"}`,
    d.pushed?.length ? `, pushed to ${d.pushed.join(" and ")}` : "",
    d.failed?.length ? el("span", { class: "error-text" }, `; failed: ${d.failed.join("; ")}`) : "",
    ".",
  );
}

async function load() {
  const data = await api("GET", "/releases");
  current = data.current?.version ?? 0;
  fill(
    $("current"),
    data.current
      ? el(
          "dl",
          { class: "facts" },
          el("dt", {}, "Version"),
          el("dd", { id: "current-version" }, String(data.current.version)),
          el("dt", {}, "Issued"),
          el("dd", {}, formatInstant(data.current.issuedAt, timeZone)),
          el("dt", {}, "Promotions"),
          el("dd", {}, String(data.current.promotions)),
        )
      : el("p", { class: "muted" }, "Nothing is published (or the last release has expired)."),
  );
  const box = $("publish-box");
  if (!data.canPublish) {
    fill(box, el("p", { class: "muted" }, "The console has no release key (--release-key): nothing can be published from here."));
  } else if (!hasRole(me, "release")) {
    fill(box, el("p", { class: "muted" }, "Publishing needs the release role."));
  } else {
    fill(box, el("button", { type: "button", class: "primary", id: "publish", onclick: (e) => publish(e.currentTarget) }, "Publish"));
  }
  $("rollback-section").hidden = !(data.canPublish && hasRole(me, "release"));
  const history = [...data.history].reverse();
  fill(
    $("history"),
    history.length ? el("ol", { class: "history", id: "release-history" }, history.map(entryView)) : el("p", { class: "muted" }, "No release from the console yet."),
  );
}

/** Publishing goes to every shopper at once: it says first what will change, then asks. */
async function publish(button) {
  clearError();
  let waiting;
  await busy(button, async () => {
    waiting = (await api("GET", "/promotions")).promotions.filter((p) => p.state === "approved");
  });
  const question = waiting.length
    ? `Publish version ${current + 1}? New or changed terms go live: ${waiting.map((p) => p.name).join(", ")}.`
    : `Publish version ${current + 1}? No approved change is waiting: the same terms are signed again as a new version.`;
  confirmInline(button, question, "Publish now", async () => {
    showStatus("Publishing…");
    const r = await api("POST", "/releases", {});
    await load();
    showStatus(`Published. ${releaseWords(r)}`);
    fill($("publish-result"), el("p", { class: r.failed.length ? "error-text" : "ok-text", id: "publish-outcome" }, releaseWords(r)));
    // The edge's serving time is logged a moment after the push: look again shortly.
    if (r.pushed.includes("edge")) setTimeout(() => load().catch(showError), 3000);
  });
}

/** A version that cannot be rolled back to is named at the field, which takes the focus. */
function versionError(message) {
  const field = $("rollback-version");
  field.setAttribute("aria-invalid", String(!!message));
  $("rollback-error").textContent = message || "";
  $("rollback-error").hidden = !message;
  if (message) field.focus();
  return !!message;
}

function rollback(ev) {
  ev.preventDefault();
  clearError();
  const text = $("rollback-version").value.trim();
  const version = Number(text);
  const wrong =
    !/^\d+$/.test(text) || version < 1
      ? "Give the number of an earlier version."
      : version >= current
        ? `Version ${version} is ${version === current ? "the current version" : "not released yet"}: give an earlier one.`
        : null;
  if (versionError(wrong)) return;
  confirmInline($("rollback"), `Publish the terms of version ${version} again as a new version?`, `Roll back to version ${version}`, async () => {
    showStatus(`Rolling back to version ${version}…`);
    const r = await api("POST", "/releases/rollback", { version });
    await load();
    showStatus(`Rolled back to the terms of version ${version}. ${releaseWords(r)}`);
    fill($("publish-result"), el("p", { class: r.failed.length ? "error-text" : "ok-text", id: "publish-outcome" }, releaseWords(r)));
  });
}

async function main() {
  me = await header();
  $("rollback-form").addEventListener("submit", rollback);
  timeZone = (await api("GET", "/context")).timeZone;
  await load();
}

main().catch(showError);
