// Your approvals: every promotion in review that needs one of your roles and that your key has
// not approved as it reads now. Each is reviewed in this page (the evaluator's wasm): its plain
// words and approval digest, which must be the server's, and whether your limits cover it. The
// ones ticked are approved with one signature, over the Merkle root of their digests
// (`approvalRoot`, the core's definition, docs/signing.md §4), by your key held in this browser.
import {
  $, api, ApiError, busy, clearError, el, evaluator, fill, header, reviewTerms, shortHash, showError,
  showStatus,
} from "./common.js";
import { APPROVAL, hasKey, hexToBytes, sign } from "./keys.js";
import { wordsList } from "./review-panel.js";

const S = { me: null, items: [] };

const REFUSALS = {
  beyondLimit: "your key's authorization limits do not cover these terms",
  notAnApprover: "your key holds none of the roles these terms need",
  badSignature: "the signature does not verify with the key the trust root lists for you",
  notTheseTerms: "the signature is over other terms",
  unknownKey: "the trust root does not list your key",
  keyExpired: "your key has expired in the trust root",
};

/** What a promotion's review says of this key: the roles it would count for, and if covered. */
function mine(review) {
  const keys = (review.approvers || []).flatMap((a) =>
    a.keys.filter((k) => k.keyId === S.me.keyId).map((k) => ({ ...k, role: a.role })),
  );
  return { roles: keys.map((k) => k.role), covers: keys.some((k) => k.covers) };
}

async function load() {
  const list = await api("GET", "/promotions");
  const inReview = list.promotions.filter((p) => p.state === "review" || p.change === "review");
  const items = [];
  for (const p of inReview) {
    const detail = await api("GET", `/promotions/${encodeURIComponent(p.id)}`);
    if (detail.state !== "review" && detail.change !== "review") continue;
    const out = await reviewTerms(detail.terms);
    if (!out.ok) {
      items.push({ id: p.id, detail, error: `this page cannot review the terms: ${out.error.message}` });
      continue;
    }
    const review = out.value;
    const who = mine(review);
    if (!who.roles.length) continue;
    const already = (detail.approvals || []).some((a) => a.keyId === S.me.keyId && a.current);
    if (already) continue;
    const error =
      review.digest !== detail.digest
        ? `the approval digest this page computes (${review.digest || "none"}) is not the server's (${detail.digest}): reload`
        : !who.covers
          ? "beyond your authorization limit: an approver with a higher limit must approve"
          : null;
    items.push({ id: p.id, detail, review, roles: who.roles, error });
  }
  S.items = items;
  render();
}

function render() {
  const rows = S.items.map((it) =>
    el(
      "li",
      { class: "batch-item", dataset: { id: it.id } },
      el(
        "label",
        {},
        el("input", { type: "checkbox", name: "approve", value: it.id, checked: !it.error, disabled: !!it.error, onchange: count }),
        " ",
        el("strong", {}, it.detail.terms.name),
        " ",
        el("a", { href: `/promotions/${encodeURIComponent(it.id)}` }, el("code", {}, it.id)),
      ),
      it.review ? wordsList(it.review) : null,
      it.review
        ? el("p", { class: "digest" }, `As ${it.roles.join(" and ")}. Approval digest `, el("code", { title: it.review.digest }, shortHash(it.review.digest)))
        : null,
      it.error ? el("p", { class: "error-text" }, it.error) : null,
    ),
  );
  fill(
    $("queue"),
    rows.length
      ? el("ul", { class: "batch", id: "batch-list" }, rows)
      : el("p", { class: "muted", id: "queue-empty" }, "Nothing is waiting for your approval."),
  );
  $("batch-actions").hidden = !rows.length;
  count();
}

function chosen() {
  const ids = [...document.querySelectorAll('input[name="approve"]:checked')].map((i) => i.value);
  return S.items.filter((it) => ids.includes(it.id) && !it.error);
}

function count() {
  const n = chosen().length;
  const button = $("sign-batch");
  button.disabled = n === 0;
  button.textContent = n === 1 ? "Sign and approve 1 promotion" : `Sign and approve ${n} promotions with one signature`;
}

async function signBatch(button) {
  clearError();
  await busy(button, async () => {
    const items = chosen();
    if (!items.length) return;
    if (!(await hasKey(S.me.keyId))) {
      throw new Error(`this browser does not hold your key ${S.me.keyId}: enroll it on the sign-in page first`);
    }
    const wasm = await evaluator();
    const root = wasm.approvalRoot(items.map((it) => it.review.digest));
    if (!root.ok) throw new Error(root.error.message);
    const signature = await sign(S.me.keyId, APPROVAL, hexToBytes(root.value));
    try {
      const r = await api("POST", "/approvals", {
        items: items.map((it) => ({ id: it.id, base: it.detail.tag, digest: it.review.digest })),
        signature,
      });
      const name = (id) => S.items.find((it) => it.id === id)?.detail.terms.name || id;
      fill(
        $("done"),
        el(
          "ul",
          { id: "done-list" },
          r.results.map((x) =>
            el(
              "li",
              { dataset: { id: x.id, state: x.state } },
              el("a", { href: `/promotions/${encodeURIComponent(x.id)}` }, name(x.id)),
              x.covered
                ? `: approved as ${x.countsFor.join(" and ")}; the approvals are complete.`
                : `: approved as ${x.countsFor.join(" and ")}; still waiting for ${x.waitingFor}.`,
            ),
          ),
        ),
      );
      $("done-section").hidden = false;
      showStatus(`${r.results.length} approved with one signature.`);
      await load();
    } catch (e) {
      if (e instanceof ApiError && e.code === "approvalRefused") {
        const why = REFUSALS[e.detail?.reason];
        // The signature is the batch's: a bad one is not about the promotion the server met first.
        const whose = e.detail?.reason === "badSignature" ? "for the batch" : `for ${e.detail?.promotion}`;
        showError(e, el("p", { class: "refusal", dataset: { reason: e.detail?.reason, promotion: e.detail?.promotion } }, why ? `Nothing was approved: ${whose}, ${why}.` : "Nothing was approved."));
        return;
      }
      if (e instanceof ApiError && e.code === "staleEdit") {
        // The server's message names the promotion that changed.
        showError(e, el("button", { type: "button", onclick: () => location.reload() }, "Reload"));
        return;
      }
      throw e;
    }
  });
}

S.me = await header();
$("sign-batch").addEventListener("click", (e) => signBatch(e.currentTarget));
try {
  await load();
} catch (e) {
  showError(e);
}
