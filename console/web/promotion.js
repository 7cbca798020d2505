// One promotion: its terms in plain words, the review an approver needs (exposure, budget,
// projected cost and margin, overlaps, their own limit, the change against the approved
// terms), approvals (stale ones marked), comments and history, and the actions its state
// allows. Approving computes the review in this page (wasm), checks that its digest is the
// server's, shows the words being signed, and signs the digest with the person's own key,
// held in this browser.
import {
  $, api, ApiError, badge, busy, clearError, confirmInline, el, fill, formatInstant, hasRole,
  header, mayWrite, noSuchPromotion, promotionIdFromPath, reviewContext, reviewTerms, shortHash,
  showError, showStatus,
} from "./common.js";
import { APPROVAL, hasKey, hexToBytes, sign } from "./keys.js";
import {
  approversView, conflictsView, exposureView, lintView, mountSimulator, windowsView, wordsList,
} from "./review-panel.js";

const S = { id: null, me: null, context: null, detail: null, review: null, simulator: null };

const ACTION_WORDS = {
  created: "created the draft",
  edited: "edited the terms",
  submitted: "submitted for review",
  withdrawn: "withdrew the draft",
  commented: "commented",
  approved: "approved",
  approvalsComplete: "approvals complete: the terms are approved",
  paused: "paused",
  resumed: "resumed",
  published: "published",
  rolledBack: "rolled back",
};

async function load() {
  const [detail, context, list] = await Promise.all([
    api("GET", `/promotions/${encodeURIComponent(S.id)}`),
    reviewContext(),
    api("GET", "/promotions"),
  ]);
  S.detail = detail;
  S.context = context;
  // The list's entry: the state of the approved (or paused) terms and their tag, which pause
  // and resume name (the detail's tag is the draft's when a change is pending).
  S.summary = list.promotions.find((p) => p.id === S.id) || null;
  // The review as this page computes it (the same core as the server's, in wasm); the
  // server's own is the fallback when the evaluator cannot run here.
  let review = detail.review;
  let pageReview = null;
  try {
    const out = await reviewTerms(detail.terms);
    if (out.ok) {
      pageReview = out.value;
      review = pageReview;
    }
  } catch {
    pageReview = null;
  }
  S.review = review;
  S.pageReview = pageReview;
  render();
}

function render() {
  const d = S.detail;
  const c = S.context;
  const review = S.review;
  document.title = `${d.terms.name} · Promoseal console`;
  $("title").textContent = d.terms.name;
  fill($("state"), badge(d.state));
  fill(
    $("meta"),
    el("span", {}, "Id ", el("code", {}, d.id)),
    " · ",
    el("span", { title: d.tag }, `Version tag ${shortHash(d.tag)}`),
    " · ",
    el("span", { title: d.digest }, `Approval digest ${shortHash(d.digest)}`),
    d.publishedVersion ? ` · The shop's last release: version ${d.publishedVersion}` : " · The shop has no release yet",
  );
  const note = $("change-note");
  if (d.hasDraft && d.approvedTerms) {
    note.textContent = `A change to the approved terms is ${d.state === "review" ? "in review" : "in draft"}. The approved terms stay as they are (and live, if released) until the change is approved.`;
    note.hidden = false;
  } else {
    note.hidden = true;
  }
  renderActions();
  fill($("words"), wordsList(review));
  // Recurring windows, in the shop's time zone (the terms hold them in UTC).
  $("windows-section").hidden = !Array.isArray(d.terms.intervals);
  fill($("windows"), windowsView(d.terms.intervals, c.timeZone || "UTC"));
  $("terms-json").textContent = JSON.stringify(d.terms, null, 2);
  renderDiff();
  renderApprovals();
  renderHistory();
  renderYou();
  fill($("rv-approvers"), approversView(review, S.me));
  fill($("rv-exposure"), exposureView(review, c.currency));
  fill($("rv-lint"), lintView(review, c.currency));
  fill($("rv-conflicts"), conflictsView(review, c.timeZone));
  if (!S.simulator) S.simulator = mountSimulator($("rv-sim"), c);
  S.simulator.update(review.errors?.length ? null : S.pageReview, d.terms);
  $("comment-form").hidden = !mayWrite(S.me);
}

// ---------------------------------------------------------------------------------------------
// Actions

function neededRoles() {
  return (S.review.approvers || []).map((a) => a.role);
}

function renderActions() {
  const d = S.detail;
  const me = S.me;
  const box = $("actions");
  const buttons = [];
  const writer = mayWrite(me);
  const editHref = `/promotions/${encodeURIComponent(d.id)}/edit`;
  if (writer) buttons.push(el("a", { href: editHref, class: "button", id: "edit" }, d.hasDraft ? "Edit" : "Edit (starts a change)"));
  if (d.hasDraft && writer) {
    if (d.state === "draft") {
      buttons.push(el("button", { type: "button", class: "primary", id: "submit", onclick: (e) => submit(e.currentTarget) }, "Submit for review"));
    }
    buttons.push(
      el("button", { type: "button", id: "withdraw", onclick: (e) => withdraw(e.currentTarget) }, d.approvedTerms ? "Withdraw the change" : "Withdraw the draft"),
    );
  }
  if (d.state === "review" && d.hasDraft) {
    const mine = neededRoles().filter((r) => hasRole(me, r));
    if (mine.length) {
      buttons.push(el("button", { type: "button", class: "primary", id: "approve", onclick: (e) => startApproval(e.currentTarget) }, "Approve"));
    } else {
      buttons.push(
        el("p", { class: "hint", id: "approve-why" }, `Approval needs ${neededRoles().join(" and ") || "no role"}; you hold ${me.roles.join(", ")}.`),
      );
    }
  }
  const settled = S.summary && d.approvedTerms ? S.summary.state : null;
  if (hasRole(me, "release") && settled) {
    if (settled === "approved" || settled === "live") {
      buttons.push(el("button", { type: "button", id: "pause", onclick: (e) => pause(e.currentTarget, true) }, "Pause"));
    }
    if (settled === "paused") {
      buttons.push(el("button", { type: "button", id: "resume", onclick: (e) => pause(e.currentTarget, false) }, "Resume"));
    }
  }
  fill(box, buttons.length ? buttons : el("p", { class: "muted" }, "Nothing to do here with your roles."));
}

async function submit(button) {
  clearError();
  await busy(button, async () => {
    await api("POST", `/promotions/${encodeURIComponent(S.id)}/submit`, { base: S.detail.tag });
    await load();
    showStatus("Submitted for review: approvers can now sign it.");
  });
}

function withdraw(button) {
  clearError();
  const change = !!S.detail.approvedTerms;
  confirmInline(
    button,
    change ? "Withdraw this change? The approved terms stay." : "Withdraw this draft? The promotion is removed.",
    "Yes, withdraw it",
    async () => {
      await api("POST", `/promotions/${encodeURIComponent(S.id)}/withdraw`, { base: S.detail.tag });
      if (change) {
        await load();
        showStatus("The change was withdrawn.");
      } else {
        location.assign("/");
      }
    },
  );
}

function pause(button, paused) {
  clearError();
  const run = async () => {
    const base = S.summary.tag;
    const r = await api("POST", `/promotions/${encodeURIComponent(S.id)}/${paused ? "pause" : "resume"}`, { base });
    await load();
    showStatus(`${paused ? "Paused" : "Resumed"}: version ${r.version} published with ${r.promotions} promotion${r.promotions === 1 ? "" : "s"}${r.pushed.length ? `, pushed to ${r.pushed.join(" and ")}` : ""}${r.failed.length ? `; failed: ${r.failed.join("; ")}` : ""}.`);
  };
  if (paused) {
    confirmInline(button, "Pause it? A new version without it is published at once.", "Pause now", run);
  } else {
    busy(button, run);
  }
}

// ---------------------------------------------------------------------------------------------
// Approving

async function startApproval(button) {
  clearError();
  await busy(button, async () => {
    const d = S.detail;
    const out = await reviewTerms(d.terms);
    if (!out.ok) throw new Error(`the evaluator in this page could not review the terms: ${out.error.message}`);
    const review = out.value;
    if (!review.digest || review.digest !== d.digest) {
      throw new Error(
        `the approval digest this page computes (${review.digest || "none"}) is not the server's (${d.digest}): do not approve; reload the page`,
      );
    }
    if (!(await hasKey(S.me.keyId))) {
      throw new Error(`this browser does not hold your key ${S.me.keyId}: enroll it on the sign-in page first`);
    }
    const myKeys = review.approvers.flatMap((a) => a.keys.filter((k) => k.keyId === S.me.keyId).map((k) => ({ ...k, role: a.role })));
    const beyond = myKeys.length > 0 && myKeys.every((k) => !k.covers);
    const panel = $("approve-panel");
    fill(
      $("approve-body"),
      el("p", {}, "You sign exactly these terms, as ", el("strong", {}, S.me.keyId), ", with your key held in this browser:"),
      wordsList(review),
      el("p", { class: "digest" }, "Approval digest: ", el("code", { id: "approve-digest" }, review.digest)),
      beyond
        ? el("p", { class: "error-text" }, "Your key's authorization limits do not cover these terms: the console will refuse this approval.")
        : null,
      el(
        "div",
        { class: "actions" },
        el("button", { type: "button", class: "primary", id: "sign-approval", onclick: (e) => signApproval(e.currentTarget, review.digest) }, "Sign and approve"),
        el("button", { type: "button", class: "quiet", onclick: () => ((panel.hidden = true), $("approve")?.focus()) }, "Cancel"),
      ),
    );
    panel.hidden = false;
    panel.scrollIntoView({ block: "nearest" });
    $("sign-approval").focus();
  });
}

const REFUSALS = {
  beyondLimit: "Your key's authorization limits do not cover these terms: an approver with a higher limit must approve.",
  notAnApprover: "Your key holds none of the roles these terms need.",
  badSignature: "The signature does not verify with the key the trust root lists for you: the key in this browser is not that key.",
  unknownKey: "The trust root does not list your key.",
  keyExpired: "Your key has expired in the trust root.",
};

async function signApproval(button, digest) {
  clearError();
  await busy(button, async () => {
    try {
      const signature = await sign(S.me.keyId, APPROVAL, hexToBytes(digest));
      const r = await api("POST", `/promotions/${encodeURIComponent(S.id)}/approvals`, {
        base: S.detail.tag,
        digest,
        signature,
      });
      $("approve-panel").hidden = true;
      await load();
      showStatus(
        r.covered
          ? `Approved as ${r.countsFor.join(" and ")}. The approvals are complete: the promotion is approved and goes out with the next release.`
          : `Approved as ${r.countsFor.join(" and ")}. Still waiting for ${r.waitingFor}.`,
      );
    } catch (e) {
      if (e instanceof ApiError && e.code === "approvalRefused") {
        showError(e, el("p", { class: "refusal", dataset: { reason: e.detail?.reason } }, REFUSALS[e.detail?.reason] || ""));
        return;
      }
      if (e instanceof ApiError && e.code === "staleEdit") {
        showError(e, el("button", { type: "button", onclick: () => location.reload() }, "Reload"));
        return;
      }
      throw e;
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Panels

function renderYou() {
  const me = S.me;
  const review = S.review;
  const key = (S.context.root?.keys || []).find((k) => k.id === me.keyId);
  const l = key?.limits;
  const limits = [];
  if (l?.maxPercent) limits.push(`at most ${l.maxPercent} % off`);
  for (const [c, v] of Object.entries(l?.maxAmount || {})) limits.push(`at most ${v} ${c} as a fixed amount`);
  for (const [c, v] of Object.entries(l?.maxBudget || {})) limits.push(`a budget of at most ${v} ${c}`);
  const mine = (review.approvers || []).flatMap((a) => a.keys.filter((k) => k.keyId === me.keyId).map((k) => ({ ...k, role: a.role })));
  let verdict;
  if (!mine.length) {
    verdict = el("p", { class: "muted", id: "your-verdict" }, "These terms need no approval from your key.");
  } else if (mine.some((k) => k.covers)) {
    verdict = el("p", { class: "ok-text", id: "your-verdict" }, `Within your limit: your approval counts for ${mine.filter((k) => k.covers).map((k) => k.role).join(" and ")}.`);
  } else {
    verdict = el("p", { class: "error-text", id: "your-verdict" }, "Beyond your limit: your approval would be refused.");
  }
  fill(
    $("you"),
    el("p", {}, `${me.keyId} (${me.roles.join(", ")}): `, l ? limits.join(", ") || "no limits" : "no limits", "."),
    verdict,
    S.detail.state === "review" ? null : el("p", { class: "hint" }, `Approvals are given in review; this promotion is ${S.detail.state}.`),
  );
}

function renderApprovals() {
  const d = S.detail;
  const list = d.approvals || [];
  const byRole = (S.review.approvers || []).map((a) => {
    const done = list.filter((x) => x.current && a.keys.some((k) => k.keyId === x.keyId));
    return el(
      "li",
      { dataset: { role: a.role } },
      el("strong", {}, a.role),
      done.length ? `: approved by ${done.map((x) => x.keyId).join(", ")}` : ": waiting",
    );
  });
  fill(
    $("approvals"),
    byRole.length ? el("ul", { class: "role-status" }, byRole) : null,
    list.length
      ? el(
          "ul",
          { class: "approval-list" },
          list.map((a) =>
            el(
              "li",
              { class: a.current ? "current" : "stale", dataset: { keyId: a.keyId, current: String(a.current) } },
              el("strong", {}, a.keyId),
              ` approved ${formatInstant(a.approvedAt, S.context.timeZone)} `,
              a.current
                ? el("span", { class: "badge badge-current" }, "current")
                : el("span", { class: "badge badge-stale" }, "stale: it approved other terms"),
              el("span", { class: "muted", title: a.digest }, ` digest ${shortHash(a.digest)}`),
            ),
          ),
        )
      : el("p", { class: "muted" }, "No approvals yet."),
  );
}

function flatten(value, path = "", out = new Map()) {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, path ? `${path}.${k}` : k, out);
  } else {
    out.set(path, JSON.stringify(value));
  }
  return out;
}

function renderDiff() {
  const d = S.detail;
  const section = $("diff-section");
  if (!d.hasDraft || !d.approvedTerms) {
    section.hidden = true;
    return;
  }
  const before = flatten(d.approvedTerms);
  const after = flatten(d.terms);
  const keys = [...new Set([...before.keys(), ...after.keys()])].sort();
  const rows = keys
    .filter((k) => before.get(k) !== after.get(k))
    .map((k) =>
      el(
        "tr",
        {},
        el("th", { scope: "row" }, el("code", {}, k)),
        el("td", { class: "old" }, before.has(k) ? before.get(k) : "—"),
        el("td", { class: "new" }, after.has(k) ? after.get(k) : "—"),
      ),
    );
  fill(
    $("diff"),
    rows.length
      ? el(
          "table",
          { class: "diff" },
          el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Field"), el("th", { scope: "col" }, "Approved"), el("th", { scope: "col" }, "Proposed"))),
          el("tbody", {}, rows),
        )
      : el("p", { class: "muted" }, "The proposed terms are the approved terms."),
  );
  section.hidden = false;
}

function historyDetail(e) {
  const x = e.detail || {};
  switch (e.action) {
    case "commented":
      return el("blockquote", { class: "comment" }, x.text);
    case "approved":
      return el("span", { class: "muted" }, ` as ${(x.roles || []).join(", ") || "?"} · digest ${shortHash(x.digest)}`);
    case "rolledBack":
      return el(
        "span",
        { class: "muted" },
        ` to version ${x.to}: ${x.outcome === "paused" ? "paused (that version did not carry it)" : "its terms and approvals are that version's"}`,
      );
    case "created":
    case "edited":
    case "submitted":
      return el("span", { class: "muted" }, ` · tag ${shortHash(x.tag)}`);
    default:
      return null;
  }
}

function renderHistory() {
  const entries = [...(S.detail.history || [])].reverse();
  fill(
    $("history"),
    entries.length
      ? el(
          "ol",
          { class: "history", reversed: true },
          entries.map((e) =>
            el(
              "li",
              { dataset: { action: e.action } },
              el("time", {}, formatInstant(e.at, S.context.timeZone)),
              " ",
              el("strong", {}, e.actor),
              ` ${ACTION_WORDS[e.action] || e.action}`,
              historyDetail(e),
            ),
          ),
        )
      : el("p", { class: "muted" }, "Nothing yet."),
  );
}

async function comment(ev) {
  ev.preventDefault();
  clearError();
  const text = $("comment-text").value.trim();
  if (!text) {
    showError(new Error("write a comment first"));
    return;
  }
  await busy($("add-comment"), async () => {
    await api("POST", `/promotions/${encodeURIComponent(S.id)}/comments`, { text });
    $("comment-text").value = "";
    await load();
    showStatus("Comment added.");
  });
}

async function main() {
  S.me = await header();
  S.id = promotionIdFromPath();
  if (S.id === null) {
    noSuchPromotion($("words"));
    return;
  }
  $("comment-form").addEventListener("submit", comment);
  await load();
}

main().catch((e) => {
  if (e instanceof ApiError && e.status === 404) noSuchPromotion($("words"));
  showError(e);
});
