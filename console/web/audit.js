// The audit log: every action in order, with the result of checking its hash chain, one
// promotion's part of it, and the export.
import { $, api, el, fill, formatInstant, header, shortHash, showError } from "./common.js";

let timeZone;

function detailText(d) {
  if (!d || typeof d !== "object") return String(d ?? "");
  const parts = [];
  for (const [k, v] of Object.entries(d)) {
    if (k === "terms" || (Array.isArray(v) && v.length === 0)) continue;
    if (typeof v === "string" && /^[0-9a-f]{64}$/.test(v)) parts.push(`${k} ${shortHash(v)}`);
    else if (k === "signature") parts.push(`${k} ${String(v).slice(0, 12)}…`);
    else parts.push(`${k} ${typeof v === "object" ? JSON.stringify(v) : v}`);
  }
  return parts.join(" · ");
}

async function load() {
  const promotion = new URLSearchParams(location.search).get("promotion") || "";
  $("filter-promotion").value = promotion;
  const q = promotion ? `?promotion=${encodeURIComponent(promotion)}` : "";
  $("export").href = `/api/audit?format=jsonl${promotion ? `&promotion=${encodeURIComponent(promotion)}` : ""}`;
  const data = await api("GET", `/audit${q}`);
  fill(
    $("chain"),
    data.intact
      ? el("span", { class: "ok-text", id: "chain-state" }, `The hash chain is intact (${data.entries.length} entr${data.entries.length === 1 ? "y" : "ies"} shown).`)
      : el("span", { class: "error-text", id: "chain-state" }, `The hash chain is broken at entry ${data.break?.seq}: ${data.break?.reason}.`),
  );
  fill(
    $("entries"),
    data.entries.length
      ? el(
          "table",
          { class: "list audit" },
          el("caption", { class: "visually-hidden" }, "Audit entries"),
          el(
            "thead",
            {},
            el("tr", {}, ["#", "When", "Who", "Action", "Promotion", "Detail", "Hash"].map((h) => el("th", { scope: "col" }, h))),
          ),
          el(
            "tbody",
            {},
            [...data.entries].reverse().map((e) =>
              el(
                "tr",
                { dataset: { seq: String(e.seq), action: e.action } },
                el("td", {}, String(e.seq)),
                el("td", {}, formatInstant(e.at, timeZone)),
                el("td", {}, e.actor),
                el("td", {}, e.action),
                el("td", {}, e.promotion ? el("a", { href: `/promotions/${encodeURIComponent(e.promotion)}` }, e.promotion) : ""),
                el("td", { class: "detail" }, detailText(e.detail)),
                el("td", {}, el("code", { title: e.hash }, shortHash(e.hash))),
              ),
            ),
          ),
        )
      : el("p", { class: "muted" }, "No entries."),
  );
}

async function main() {
  await header();
  timeZone = (await api("GET", "/context")).timeZone;
  $("filter").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const p = $("filter-promotion").value.trim();
    history.replaceState(null, "", p ? `/audit?promotion=${encodeURIComponent(p)}` : "/audit");
    load().catch(showError);
  });
  await load();
}

main().catch(showError);
