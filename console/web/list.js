// The promotions: every one the project folder holds (approved, paused, drafts), with its
// state and any change in progress.
import { $, api, badge, el, fill, header, mayWrite, showError } from "./common.js";

let all = [];

function matches(p, filter) {
  if (!filter) return true;
  if (filter === "attention") return p.state === "draft" || p.state === "review" || !!p.change;
  if (filter === "review") return p.state === "review" || p.change === "review";
  return p.state === filter;
}

function render() {
  const filter = $("filter-state").value;
  const shown = all.filter((p) => matches(p, filter));
  if (!shown.length) {
    fill($("promotions"), el("p", { class: "muted" }, all.length ? "No promotion in this view." : "No promotions yet."));
    return;
  }
  fill(
    $("promotions"),
    el(
      "table",
      { class: "list", id: "promotion-table" },
      el("caption", { class: "visually-hidden" }, "Promotions"),
      el(
        "thead",
        {},
        el("tr", {}, el("th", { scope: "col" }, "Name"), el("th", { scope: "col" }, "Id"), el("th", { scope: "col" }, "State"), el("th", { scope: "col" }, "Change in progress")),
      ),
      el(
        "tbody",
        {},
        shown.map((p) =>
          el(
            "tr",
            { dataset: { id: p.id, state: p.state } },
            el("td", {}, el("a", { href: `/promotions/${encodeURIComponent(p.id)}` }, p.name)),
            el("td", {}, el("code", {}, p.id)),
            el("td", {}, badge(p.state)),
            el("td", {}, p.change ? badge(p.change) : el("span", { class: "muted" }, "—")),
          ),
        ),
      ),
    ),
  );
}

async function main() {
  const me = await header();
  if (!mayWrite(me)) $("new-promotion").hidden = true;
  $("filter-state").addEventListener("change", render);
  const data = await api("GET", "/promotions");
  all = data.promotions;
  render();
}

main().catch(showError);
