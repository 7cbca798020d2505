// The code inventory: the project's code sets with their counts and the promotions they unlock;
// for the promotions and release roles, looking one code up (its set, status and redemptions),
// generating a campaign (its codes come back as a CSV download and are never stored; an export
// derives them again from the code secret),
// importing a list from a CSV or spreadsheet, exporting a set, and deactivating or reactivating
// codes or a whole set from the next published version.
import { $, ApiError, api, busy, clearError, confirmInline, el, fill, formError, formatInstant, hasRole, header, money, reviewContext, showError, showStatus } from "./common.js";

/** The largest upload the console takes (its `MAX_UPLOAD`), in bytes. */
const MAX_UPLOAD = 10 * 1024 * 1024;

let me = null;
let sets = [];
let canHandleCodes = false;
let timeZone;
/** Generated sets whose codes this page holds and has not yet been asked to save. */
const undownloaded = new Set();

const keeper = () => hasRole(me, "promotions") || hasRole(me, "release");
const plural = (n, one, many = `${one}s`) => `${n.toLocaleString()} ${n === 1 ? one : many}`;
const setPath = (set) => `/codes/${encodeURIComponent(set)}`;

/** An error of the form, shown like the API's, with the field to fix focused. */
/** Saves a downloaded file: an object URL on a link with a download attribute, clicked. */
function save(blob, filename) {
  const url = URL.createObjectURL(blob);
  el("a", { href: url, download: filename }).click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function stateBadge(active) {
  return active
    ? el("span", { class: "badge badge-live", dataset: { state: "active" } }, "Active")
    : el("span", { class: "badge badge-stale", dataset: { state: "deactivated" } }, "Deactivated");
}

function promotionLinks(ids) {
  if (!ids?.length) return el("span", { class: "muted" }, "—");
  return ids.flatMap((id, i) => [i ? ", " : "", el("a", { href: `/promotions/${encodeURIComponent(id)}` }, id)]);
}

// ---------------------------------------------------------------------------------------------
// The sets

async function load() {
  const data = await api("GET", "/codes");
  sets = data.sets;
  canHandleCodes = data.canHandleCodes;
  const tools = keeper() && canHandleCodes;
  $("role-note").hidden = keeper();
  $("secret-note").hidden = canHandleCodes;
  $("tools").hidden = !tools;
  renderSets(tools);
  // The forms' choices of set.
  fill($("listed-sets"), sets.filter((s) => s.kind === "listed").map((s) => el("option", { value: s.id })));
  const chosen = $("active-set").value;
  fill(
    $("active-set"),
    sets.length ? null : el("option", { value: "" }, "No code set yet"),
    sets.map((s) => el("option", { value: s.id, selected: s.id === chosen }, s.id)),
  );
}

function renderSets(tools) {
  if (!sets.length) {
    fill($("sets"), el("p", { class: "muted", id: "no-sets" }, "No code sets yet."));
    return;
  }
  const head = ["Set", "Kind", "State", "Codes", "Deactivated", "Used", "Unlocks", "Summary"];
  fill(
    $("sets"),
    el(
      "table",
      { class: "list", id: "code-sets" },
      el("caption", { class: "visually-hidden" }, "Code sets"),
      el(
        "thead",
        {},
        el("tr", {}, head.map((h) => el("th", { scope: "col" }, h)), tools ? el("th", { scope: "col" }, el("span", { class: "visually-hidden" }, "Export")) : null),
      ),
      el(
        "tbody",
        {},
        sets.map((s) =>
          el(
            "tr",
            { dataset: { set: s.id, kind: s.kind } },
            el("th", { scope: "row" }, el("code", {}, s.id)),
            el("td", {}, s.kind === "generated" ? "Generated campaign" : "Listed codes"),
            el("td", { class: "state" }, stateBadge(s.active)),
            el("td", { class: "codes" }, s.codes.toLocaleString()),
            el("td", { class: "deactivated" }, s.deactivated.toLocaleString()),
            // Orders the ledger committed with a promotion of this set; a dash without a ledger.
            el("td", { class: "used" }, s.used == null ? "—" : s.used.toLocaleString()),
            el("td", {}, promotionLinks(s.promotions)),
            el("td", { class: "summary" }, s.summary),
            tools
              ? el(
                  "td",
                  {},
                  el(
                    "button",
                    { type: "button", id: `export-${s.id}`, class: "export", "aria-label": `Export ${s.id} as CSV`, onclick: (e) => exportSet(e.currentTarget, s.id) },
                    "Export",
                  ),
                )
              : null,
          ),
        ),
      ),
    ),
  );
}

async function exportSet(button, set) {
  clearError();
  await busy(button, async () => {
    const { blob, filename } = await api("GET", `${setPath(set)}/export`, undefined, { download: true });
    save(blob, filename);
    showStatus(`Exported ${set} as ${filename}.`);
  });
}

// ---------------------------------------------------------------------------------------------
// Look up one code

/** Whether the published version accepts the code now (the status above is the project's). */
function acceptedWords(accepted, usedUp) {
  if (accepted == null) return "No version is published.";
  if (accepted && usedUp) return "The published version knows it, but its uses are taken (below).";
  return accepted ? "Yes, by the published version." : "No, not by the published version.";
}

function redemptionsView(r) {
  if (r === null || r === undefined) {
    return el("p", { class: "muted" }, "Not known here: the console has no ledger (--ledger-url), or no version is published.");
  }
  if (!Array.isArray(r)) {
    return el("p", { class: "error-text" }, `The ledger cannot answer now: ${r.unavailable ?? "no answer"}.`);
  }
  if (!r.length) return el("p", { id: "lookup-no-redemptions" }, "None: the ledger has no redemption of this code.");
  return el(
    "table",
    { class: "list", id: "lookup-redemptions" },
    el("caption", { class: "visually-hidden" }, "Redemptions of this code"),
    el(
      "thead",
      {},
      el("tr", {}, ["Order", "State", "Promotion", "Discount", "At"].map((h) => el("th", { scope: "col" }, h))),
    ),
    el(
      "tbody",
      {},
      r.map((x) =>
        el(
          "tr",
          { dataset: { state: x.state } },
          el("td", {}, el("code", {}, x.orderId)),
          el("td", {}, x.state),
          el("td", {}, promotionLinks([x.promotionId])),
          el("td", {}, money(x.amount, x.currency)),
          el("td", {}, formatInstant(x.createdAt, timeZone)),
        ),
      ),
    ),
  );
}

async function lookup(ev) {
  ev.preventDefault();
  clearError();
  const code = $("lookup-code").value.trim();
  if (!code) {
    showError(formError("type the code to look up", "lookup-code"));
    return;
  }
  await busy($("lookup"), async () => {
    fill($("lookup-result"), el("p", { class: "muted" }, "Looking up…"));
    let r;
    try {
      r = await api("POST", "/codes/lookup", { code });
    } catch (e) {
      fill($("lookup-result"));
      throw e;
    }
    if (!r.found) {
      fill($("lookup-result"), el("p", { id: "lookup-outcome", dataset: { found: "false" } }, "No code set holds ", el("code", {}, code), "."));
      return;
    }
    fill(
      $("lookup-result"),
      el(
        "dl",
        { class: "facts", id: "lookup-outcome", dataset: { found: "true", set: r.set, status: r.status, usedUp: String(!!r.usedUp) } },
        el("dt", {}, "Code"),
        el("dd", {}, el("code", {}, code.trim().toUpperCase())),
        el("dt", {}, "Set"),
        el("dd", { id: "lookup-set" }, el("code", {}, r.set)),
        el("dt", {}, "Status"),
        el("dd", { id: "lookup-status" }, stateBadge(r.status === "active")),
        r.sets.length > 1
          ? [
              el("dt", {}, "Also in"),
              el(
                "dd",
                { id: "lookup-also" },
                r.sets
                  .filter((x) => x.set !== r.set)
                  .map((x) => `${x.set} (${x.status}${x.promotions.length ? `, unlocks ${x.promotions.join(", ")}` : ""})`)
                  .join("; "),
                ": a code belongs to one set; deactivate it in the sets it should leave",
              ),
            ]
          : null,
        el("dt", {}, "Accepted now"),
        el("dd", { id: "lookup-accepted" }, acceptedWords(r.acceptedNow, r.usedUp)),
        r.usedUp
          ? [el("dt", {}, "Uses"), el("dd", { id: "lookup-used-up" }, "Used up: the ledger refuses it (each promotion it unlocks allows no more uses of this code).")]
          : null,
        el("dt", {}, "Unlocks"),
        el("dd", {}, promotionLinks(r.promotions)),
        el("dt", {}, "Redemptions"),
        el("dd", { id: "lookup-ledger" }, redemptionsView(r.redemptions)),
      ),
      el("p", { class: "hint" }, "The status is the project's: a deactivation or reactivation takes effect in the next published version."),
    );
  });
}

// ---------------------------------------------------------------------------------------------
// Generate a campaign

function whole(field, what) {
  const text = $(field).value.trim().replace(/[,_\s]/g, "");
  if (!/^\d+$/.test(text)) throw formError(`${what}: a whole number`, field);
  return Number(text);
}

async function generate(ev) {
  ev.preventDefault();
  clearError();
  let req;
  try {
    const set = $("gen-set").value.trim();
    if (!set) throw formError("give the new set an id", "gen-set");
    req = {
      set,
      prefix: $("gen-prefix").value.trim(),
      suffix: $("gen-suffix").value.trim(),
      count: whole("gen-count", "how many codes"),
      length: whole("gen-length", "random characters"),
    };
  } catch (e) {
    showError(e);
    return;
  }
  await busy($("generate"), async () => {
    showStatus(`Generating ${plural(req.count, "code")} for ${req.set}…`);
    let file;
    try {
      file = await api("POST", "/codes/generate", req, { download: true });
    } catch (e) {
      showStatus("");
      throw e;
    }
    const filename = `${req.set}.csv`;
    const url = URL.createObjectURL(file.blob);
    undownloaded.add(req.set);
    const link = el(
      "a",
      { href: url, download: filename, class: "button primary", id: `download-${req.set}` },
      `Download ${filename}`,
    );
    link.addEventListener("click", () => {
      undownloaded.delete(req.set);
      fill(saved, "Saved. Keep the file safe: it holds every code of the campaign.");
    });
    const saved = el("p", { class: "hint", role: "status" });
    $("generate-result").prepend(
      el(
        "div",
        { class: "notice generated", dataset: { set: req.set } },
        el("p", {}, el("strong", {}, `${plural(req.count, "code")} generated for ${req.set}.`)),
        el(
          "p",
          {},
          el("strong", {}, "Download them now: the codes are never stored."),
          " The console keeps only the campaign's parameters. Whoever keeps the code inventory can " +
            "derive the codes again with Export (it is logged): treat that file like this one.",
        ),
        el("p", { class: "actions" }, link),
        saved,
      ),
    );
    $("generate-form").reset();
    $("gen-length").value = "10";
    link.focus();
    await load().catch(showError);
    showStatus(`Generated ${plural(req.count, "code")} for ${req.set}: download ${filename} now.`);
  });
}

// ---------------------------------------------------------------------------------------------
// Import a list

/** The title an import's refusal shows under. */
function importTitle(e) {
  if (!(e instanceof ApiError)) return undefined;
  if (e.status === 413) return "The file is too large";
  if (e.status === 400 && /unsupported file type/.test(e.message)) return "Not a file type the console reads";
  if (e.status === 422 && /no codes found/.test(e.message)) return "No codes in the file";
  if (e.status === 422) return "The file cannot be read";
  if (e.status === 409) return "This set takes no imports";
  return undefined;
}

function megabytes(n) {
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

async function importFile(ev) {
  ev.preventDefault();
  clearError();
  const set = $("import-set").value.trim();
  const file = $("import-file").files[0];
  const column = $("import-column").value.trim();
  let refusal = null;
  if (!set) refusal = formError("give the set an id: a new one, or a listed set", "import-set");
  else if (!file) refusal = formError("choose the file to import", "import-file");
  else if (file.size > MAX_UPLOAD) {
    refusal = formError(
      `\`${file.name}\` is ${megabytes(file.size)}: the console takes files up to 10 MB (split it, or import it with \`promoseal codes import\`)`,
      "import-file",
      "The file is too large",
    );
  }
  if (refusal) {
    fill($("import-result"), el("p", { class: "error-text", id: "import-outcome" }, `Nothing was imported: ${refusal.message}.`));
    showError(refusal);
    return;
  }
  await busy($("import"), async () => {
    fill($("import-result"), el("p", { class: "muted" }, `Importing ${file.name}…`));
    const query = new URLSearchParams({ filename: file.name });
    if (column) query.set("column", column);
    let r;
    try {
      r = await api("POST", `${setPath(set)}/import?${query}`, file, { bytes: true });
    } catch (e) {
      e.title = importTitle(e);
      fill($("import-result"), el("p", { class: "error-text", id: "import-outcome" }, `Nothing was imported: ${e.message}.`));
      throw e;
    }
    await load().catch(showError);
    const elsewhere = (r.inOtherSets || []).reduce((n, [, k]) => n + k, 0);
    const already = r.read - r.added - elsewhere;
    fill(
      $("import-result"),
      el("p", { class: "ok-text", id: "import-outcome" }, el("strong", {}, `Imported ${file.name} into ${set}.`)),
      el(
        "dl",
        { class: "facts", id: "import-counts" },
        el("dt", {}, "Codes read"),
        el("dd", { id: "import-read" }, r.read.toLocaleString()),
        el("dt", {}, "Added"),
        el("dd", { id: "import-added" }, r.added.toLocaleString()),
        el("dt", {}, "Already in the set"),
        el("dd", { id: "import-already" }, already.toLocaleString()),
        el("dt", {}, "Left out: in another set"),
        el(
          "dd",
          { id: "import-elsewhere" },
          elsewhere
            ? `${elsewhere.toLocaleString()} (${r.inOtherSets.map(([set, k]) => `${set}: ${k.toLocaleString()}`).join(", ")}): a code belongs to one set`
            : "0",
        ),
        el("dt", {}, "Duplicates in the file"),
        el("dd", { id: "import-duplicates" }, r.duplicates.toLocaleString()),
        el("dt", {}, "Rows skipped"),
        el("dd", { id: "import-skipped-total" }, r.skippedTotal.toLocaleString()),
      ),
      r.skipped.length
        ? [
            el("h3", {}, "Skipped rows"),
            el(
              "ul",
              { class: "words", id: "import-skipped" },
              r.skipped.map(([row, why]) => el("li", {}, `Row ${row}: ${why}`)),
              r.skippedTotal > r.skipped.length ? el("li", { class: "muted" }, `and ${plural(r.skippedTotal - r.skipped.length, "more row")}`) : null,
            ),
          ]
        : null,
      el("p", { class: "muted" }, r.summary),
    );
    showStatus(`Imported ${file.name}: ${plural(r.added, "code")} added to ${set}.`);
    $("import-file").value = "";
  });
}

// ---------------------------------------------------------------------------------------------
// Deactivate or reactivate

function changeActive(on, button) {
  clearError();
  const set = $("active-set").value;
  const wholeSet = $("active-whole").checked;
  const codes = wholeSet ? [] : $("active-codes").value.split(/\r?\n/).map((c) => c.trim()).filter(Boolean);
  if (!set) {
    showError(formError("there is no code set to change", "active-set"));
    return;
  }
  if (!wholeSet && !codes.length) {
    showError(formError("give the codes, one per line, or tick “The whole set”", "active-codes"));
    return;
  }
  const what = wholeSet ? `the whole set ${set}` : `${plural(codes.length, "code")} of ${set}`;
  const verb = on ? "Reactivate" : "Deactivate";
  confirmInline(
    button,
    `${verb} ${what}? It takes effect in the next published version.`,
    `${verb} ${what}`,
    async () => {
      const r = await api("POST", `${setPath(set)}/${on ? "reactivate" : "deactivate"}`, wholeSet ? { wholeSet: true } : { codes });
      await load().catch(showError);
      const done =
        r.changed === 0
          ? `Nothing changed: ${wholeSet ? `the set ${set} is` : codes.length === 1 ? "the code is" : "the codes are"} already ${on ? "active" : "deactivated"}.`
          : `${on ? "Reactivated" : "Deactivated"} ${wholeSet ? what : `${plural(r.changed, "code")} of ${set}`}: this takes effect ${r.effective}.`;
      fill($("active-result"), el("p", { class: "ok-text", id: "active-outcome" }, done), el("p", { class: "muted" }, r.summary));
      showStatus(done);
    },
  );
}

// ---------------------------------------------------------------------------------------------

async function main() {
  me = await header();
  $("lookup-form").addEventListener("submit", lookup);
  $("generate-form").addEventListener("submit", generate);
  $("import-form").addEventListener("submit", importFile);
  $("deactivate").addEventListener("click", (e) => changeActive(false, e.currentTarget));
  $("reactivate").addEventListener("click", (e) => changeActive(true, e.currentTarget));
  $("active-whole").addEventListener("change", (e) => {
    $("active-codes").disabled = e.currentTarget.checked;
  });
  addEventListener("beforeunload", (e) => {
    if (undownloaded.size) e.preventDefault();
  });
  // Redemption times in the shop's time zone; the browser's if the context cannot be had.
  reviewContext().then((c) => (timeZone = c.timeZone), () => {});
  await load();
}

main().catch(showError);
