// The promotion editor: one form for a promotion's terms (docs/json-reference.md's fields),
// from a template or blank, or the working terms of a saved promotion. On every change the
// form's terms go to the core's review (wasm, in this page): its errors are shown next to their
// fields, and the side panel shows the plain words, who must approve, exposure, lint, overlaps
// and a cart simulator. Save is possible only when the review finds nothing wrong; the server
// runs the same review again before it keeps anything. A recurring window (weekdays and times
// in the shop's time zone) becomes the terms' UTC `intervals` through the core's `windows`
// (wasm, the expansion `promoseal windows` runs).
import {
  $, api, ApiError, clearError, el, evaluator, fill, formatInstant, header, instantToZoned,
  mayWrite, nextDay, noSuchPromotion, previousDay, promotionIdFromPath, reviewContext,
  reviewTerms, showError, showStatus, zonedToInstant,
} from "./common.js";
import { TEMPLATES, template } from "./templates.js";
import {
  approversView, conflictsView, exposureView, lintView, mountSimulator, windowsView, wordsList,
} from "./review-panel.js";

const S = {
  mode: "new",
  id: null,
  tag: null,
  /** The terms the form started from: fields the form does not show are kept from them. */
  base: {},
  context: null,
  me: null,
  idTouched: false,
  review: null,
  terms: null,
  serverErrors: [],
  seq: 0,
  saving: false,
  /** The person changed the form since it loaded or was saved: leaving asks first. */
  unsaved: false,
  simulator: null,
  /** The evaluator (wasm): `windows` expands the recurring window as the terms are built. */
  wasm: null,
  /** The loaded terms' `intervals`, kept as they are until replaced or removed (or null). */
  keptIntervals: null,
  /** The recurring window as the last terms were built: `{mode, intervals, errors}`. */
  window: { mode: "none", intervals: undefined, errors: [] },
};

/** The weekdays of a recurring window, as `windows` reads them. */
const DAYS = [
  ["mon", "Mon"], ["tue", "Tue"], ["wed", "Wed"], ["thu", "Thu"], ["fri", "Fri"], ["sat", "Sat"], ["sun", "Sun"],
];

// ---------------------------------------------------------------------------------------------
// Fields

/** Simple fields: `{input, path, kind, reward?}`; reward fields are active for their type only. */
const FIELDS = [];
const tierRows = [];
const volumeRows = [];
const bonusRows = [];

function describe(input, id, hint) {
  const ids = [];
  const nodes = [];
  if (hint) {
    ids.push(`${id}-hint`);
    nodes.push(el("p", { class: "hint", id: `${id}-hint` }, hint));
  }
  ids.push(`${id}-error`);
  nodes.push(el("p", { class: "field-error", id: `${id}-error`, hidden: true }));
  input.setAttribute("aria-describedby", ids.join(" "));
  return nodes;
}

function register(input, path, kind, extra = {}) {
  input.dataset.path = path;
  const f = { input, path, kind, ...extra };
  FIELDS.push(f);
  return f;
}

/** A text-like field. kind: text, name, money, percent, int, sint, list. */
function textField(id, label, path, kind = "text", { hint, placeholder, reward, cls } = {}) {
  const input = el("input", {
    type: "text",
    id,
    name: id,
    autocomplete: "off",
    spellcheck: "false",
    placeholder,
    inputmode: kind === "money" || kind === "percent" ? "decimal" : kind === "int" ? "numeric" : undefined,
  });
  register(input, path, kind, { reward });
  return el("div", { class: `field ${cls || ""}`.trim() }, el("label", { for: id }, label), input, describe(input, id, hint));
}

function selectField(id, label, path, options, { hint, reward, kind = "select" } = {}) {
  const input = el("select", { id, name: id }, options.map(([v, t]) => el("option", { value: v }, t)));
  register(input, path, kind, { reward });
  return el("div", { class: "field" }, el("label", { for: id }, label), input, describe(input, id, hint));
}

function checkField(id, label, path, { hint, reward } = {}) {
  const input = el("input", { type: "checkbox", id, name: id });
  register(input, path, "check", { reward });
  return el("div", { class: "field check" }, input, el("label", { for: id }, label), describe(input, id, hint));
}

function group(legend, id, path, children, hint) {
  const fs = el("fieldset", { id, class: "group" }, el("legend", {}, legend));
  if (path) fs.dataset.path = path;
  if (hint) fs.append(el("p", { class: "hint" }, hint));
  fs.append(el("p", { class: "field-error", id: `${id}-error`, hidden: true }));
  append(fs, children);
  return fs;
}

function append(parent, children) {
  for (const c of children.flat()) if (c) parent.append(c);
}

function rewardPanel(type, children) {
  return el("div", { class: "reward-panel", dataset: { reward: type }, hidden: true }, children);
}

function buildForm() {
  const c = S.context;
  const cur = c.currency;
  const tz = c.timeZone || "UTC";
  const form = $("editor");
  const parts = [];

  if (S.mode === "new") {
    const select = el(
      "select",
      { id: "template", name: "template", "aria-describedby": "template-hint" },
      TEMPLATES.map((t) => el("option", { value: t.id }, t.label)),
    );
    parts.push(
      el(
        "div",
        { class: "template-picker" },
        el("label", { for: "template" }, "Start from a template"),
        select,
        el("p", { class: "hint", id: "template-hint" }),
      ),
    );
  }
  parts.push(el("div", { id: "form-errors", class: "form-errors", hidden: true }));

  parts.push(
    group("Basics", "g-basics", null, [
      textField("f-name", "Name", "name", "name", { hint: "Shoppers see it on their receipt." }),
      textField("f-id", "Id", "id", "name", {
        hint:
          S.mode === "new"
            ? "Lower-case letters, digits, - and _ (it names the promotion's file). Made from the name until you change it."
            : "A saved promotion keeps its id.",
      }),
      textField("f-description", "Description (optional)", "description"),
      textField("f-campaign", "Campaign (optional)", "campaign", "text", { hint: "A reporting label for the ledger's reports." }),
    ]),
  );

  parts.push(
    group("Reward", "g-reward", null, [
      selectField(
        "f-reward-type",
        "Reward type",
        "reward",
        [
          ["percentOff", "Percent off"],
          ["amountOff", "Amount off"],
          ["fixedPrice", "Fixed price"],
          ["buyXGetY", "Buy X get Y"],
          ["tiered", "Tiers by spend or quantity"],
          ["volume", "Volume pricing (by line quantity)"],
          ["shippingOff", "Shipping discount"],
        ],
        { kind: "rewardType" },
      ),
      rewardPanel("percentOff", [
        el(
          "div",
          { class: "grid2" },
          textField("f-percent", "Percent off", "reward.percent", "percent", { reward: "percentOff", placeholder: "10" }),
          selectField("f-percent-on", "Taken off", "reward.on", [["lines", "each item"], ["order", "the order as one amount"]], {
            reward: "percentOff",
          }),
        ),
      ]),
      rewardPanel("amountOff", [
        el(
          "div",
          { class: "grid2" },
          textField("f-amount", `Amount off (${cur})`, "reward.amount", "money", { reward: "amountOff" }),
          selectField("f-amount-per", "Per", "reward.per", [["order", "order"], ["line", "item line"], ["unit", "unit"]], {
            reward: "amountOff",
          }),
        ),
      ]),
      rewardPanel("fixedPrice", [textField("f-price", `Price per unit (${cur})`, "reward.price", "money", { reward: "fixedPrice" })]),
      rewardPanel("buyXGetY", [
        el(
          "div",
          { class: "grid2" },
          textField("f-buy", "Buy quantity", "reward.buyQuantity", "int", { reward: "buyXGetY" }),
          textField("f-get", "Get quantity", "reward.getQuantity", "int", { reward: "buyXGetY" }),
          textField("f-get-percent", "Percent off the items given", "reward.percent", "percent", {
            reward: "buyXGetY",
            hint: "Blank: free (100 %).",
          }),
          textField("f-max-applications", "At most this many times per cart", "reward.maxApplications", "int", {
            reward: "buyXGetY",
            hint: "Blank: no limit.",
          }),
          textField("f-get-categories", "Items given: categories", "reward.getItems.categories", "list", {
            reward: "buyXGetY",
            hint: "Blank: the items it applies to.",
          }),
          textField("f-get-skus", "Items given: SKUs", "reward.getItems.skus", "list", { reward: "buyXGetY" }),
        ),
      ]),
      rewardPanel("tiered", [
        selectField("f-basis", "Tiers by", "reward.basis", [["spend", "spend"], ["quantity", "quantity"]], { reward: "tiered" }),
        el("div", { id: "tiers", class: "rows", dataset: { path: "reward.tiers" } }),
        el("p", { class: "field-error", id: "tiers-error", hidden: true }),
        el("button", { type: "button", class: "quiet", id: "add-tier", onclick: () => (tierRows.push({}), renderTiers(), changed()) }, "Add a tier"),
      ]),
      rewardPanel("volume", [
        el("div", { id: "volume-tiers", class: "rows", dataset: { path: "reward.tiers" } }),
        el("p", { class: "field-error", id: "volume-tiers-error", hidden: true }),
        el(
          "button",
          { type: "button", class: "quiet", id: "add-volume-tier", onclick: () => (volumeRows.push({}), renderVolume(), changed()) },
          "Add a quantity break",
        ),
      ]),
      rewardPanel("shippingOff", [
        el(
          "div",
          { class: "grid2" },
          selectField(
            "f-ship-kind",
            "Shipping discount",
            "reward.percent",
            [["free", "Free shipping"], ["percent", "A percentage off shipping"], ["amount", "An amount off shipping"]],
            { reward: "shippingOff", kind: "shipKind" },
          ),
          textField("f-ship-value", "Percent or amount off shipping", "reward.amount", "text", { reward: "shippingOff", cls: "ship-value" }),
          textField("f-ship-methods", "Shipping methods", "reward.methods", "list", { reward: "shippingOff", hint: "Blank: any method." }),
          textField("f-ship-countries", "Countries", "reward.countries", "list", { reward: "shippingOff", hint: "Blank: any country." }),
        ),
      ]),
      textField("f-max-discount", `Cap on the discount (${cur}, optional)`, "maxDiscount", "money", {
        hint: "The most it takes off one order.",
      }),
    ]),
  );

  parts.push(
    group(
      "What it applies to",
      "g-items",
      "items",
      [
        el(
          "div",
          { class: "grid2" },
          textField("f-categories", "Categories", "items.categories", "list", { placeholder: "shoes" }),
          textField("f-products", "Products", "items.products", "list"),
          textField("f-skus", "SKUs", "items.skus", "list"),
          textField("f-brands", "Brands", "items.brands", "list"),
          textField("f-tags", "Tags", "items.tags", "list"),
        ),
        el(
          "div",
          { class: "grid2" },
          textField("f-exclude-categories", "Exclude categories", "items.excludeCategories", "list"),
          textField("f-exclude-products", "Exclude products", "items.excludeProducts", "list"),
          textField("f-exclude-skus", "Exclude SKUs", "items.excludeSkus", "list"),
          textField("f-exclude-brands", "Exclude brands", "items.excludeBrands", "list"),
          textField("f-exclude-tags", "Exclude tags", "items.excludeTags", "list"),
        ),
        checkField("f-exclude-on-sale", "Exclude items already on sale", "items.excludeOnSale"),
        textField("f-low-stock", "Only items with at most this many in stock (optional)", "items.lowStockAtMost", "int"),
      ],
      "Comma-separated lists. No list: every item. An item matching any list is in; exclusions always win.",
    ),
  );

  parts.push(
    group("Conditions", "g-conditions", "conditions", [
      el(
        "div",
        { class: "grid2" },
        textField("f-min-spend", `Minimum spend (${cur})`, "conditions.minSubtotal", "money", { hint: "Of the items it applies to, before discounts." }),
        textField("f-max-spend", `Maximum spend (${cur})`, "conditions.maxSubtotal", "money"),
        textField("f-min-quantity", "Minimum quantity", "conditions.minQuantity", "int"),
        selectField(
          "f-first-order",
          "First order",
          "conditions.firstOrder",
          [["", "Any customer"], ["true", "First orders only"], ["false", "Returning customers only"]],
          { kind: "bool3" },
        ),
        textField("f-customer-tiers", "Customer tiers", "conditions.customerTiers", "list"),
        textField("f-customer-segments", "Customer segments", "conditions.customerSegments", "list"),
        textField("f-regions", "Regions", "conditions.regions", "list", { placeholder: "US-NY" }),
        textField("f-channels", "Sales channels", "conditions.channels", "list", { placeholder: "web" }),
      ),
    ]),
  );

  const dateInput = (id, path) => {
    const i = el("input", { type: "date", id, name: id });
    i.dataset.path = path;
    return i;
  };
  const timeInput = (id) => el("input", { type: "time", id, name: id });
  const startDate = dateInput("f-start-date", "startsAt");
  const startTime = timeInput("f-start-time");
  const endDate = dateInput("f-end-date", "endsAt");
  const endTime = timeInput("f-end-time");
  parts.push(
    group(`Schedule (shop time: ${tz})`, "g-schedule", null, [
      el(
        "div",
        { class: "pairs" },
        el("div", { class: "field" }, el("label", { for: "f-start-date" }, "Start date"), startDate, describe(startDate, "f-start-date", "Blank: live as soon as it is published.")),
        el("div", { class: "field" }, el("label", { for: "f-start-time" }, "Start time"), startTime, describe(startTime, "f-start-time", "Blank: the start of the day.")),
        el("div", { class: "field" }, el("label", { for: "f-end-date" }, "Last day"), endDate, describe(endDate, "f-end-date", "Blank: no end.")),
        el("div", { class: "field" }, el("label", { for: "f-end-time" }, "End time"), endTime, describe(endTime, "f-end-time", "Blank: the end of the last day (midnight).")),
      ),
      el("p", { id: "schedule-words", class: "schedule-words" }),
      recurringWindow(tz),
    ]),
  );

  parts.push(
    group(
      "Usage limits",
      "g-limits",
      "limits",
      [
        el(
          "div",
          { class: "grid2" },
          textField("f-total-uses", "Total uses", "limits.totalUses", "int"),
          textField("f-per-customer", "Uses per customer", "limits.perCustomer", "int"),
          textField("f-per-day", "Uses per day", "limits.perDay", "int"),
          textField("f-per-code", "Uses per code", "limits.perCode", "int"),
          textField("f-budget", `Budget (${cur})`, "limits.budget", "money", { hint: "The most it may give across all orders." }),
          selectField("f-reversal", "On a refund or cancellation", "limits.reversal", [
            ["", "the use and the discount count again"],
            ["recreditCancel", "they count again on a cancellation only"],
            ["keep", "the use stays used"],
          ]),
        ),
        checkField("f-single-use", "Each code works once (single-use codes)", "limits.singleUseCodes"),
      ],
      "Blank: no limit. The ledger enforces them at checkout.",
    ),
  );

  const classBox = (cls, label) => {
    const input = el("input", { type: "checkbox", id: `f-combines-${cls}`, name: `f-combines-${cls}`, value: cls });
    return el("div", { class: "field check" }, input, el("label", { for: `f-combines-${cls}` }, label));
  };
  parts.push(
    group("Stacking", "g-stacking", "stacking", [
      el(
        "div",
        { class: "grid2" },
        textField("f-priority", "Priority", "priority", "sint", { hint: "Higher applies first. Blank: 0." }),
        textField("f-group", "Stacking group (optional)", "stacking.group", "text", { hint: "At most one promotion of a group applies." }),
      ),
      checkField("f-exclusive", "Exclusive: never combined with another promotion", "stacking.exclusive"),
      el(
        "fieldset",
        { class: "subgroup", id: "f-combines", dataset: { path: "stacking.combinesWith" } },
        el("legend", {}, "Combines with"),
        classBox("product", "Product discounts"),
        classBox("order", "Order discounts"),
        classBox("shipping", "Shipping discounts"),
        el("p", { class: "field-error", id: "f-combines-error", hidden: true }),
      ),
    ]),
  );

  parts.push(
    group("Codes", "g-codes", null, [
      selectField(
        "f-code-set",
        "Code set",
        "codeSet",
        [["", "None: it applies automatically"], ...(c.codeSets || []).map((s) => [s, s])],
        { hint: "A shopper must enter a code of this set." },
      ),
      checkField("f-private", "Hide from the storefront (private)", "private"),
    ]),
  );

  parts.push(
    group("Loyalty bonus", "g-loyalty", "loyaltyBonus", [
      el("div", { id: "bonuses", class: "rows" }),
      el(
        "button",
        { type: "button", class: "quiet", id: "add-bonus", onclick: () => (bonusRows.push({}), renderBonuses(), changed()) },
        "Add a loyalty bonus",
      ),
    ], "Extra percentage points for customers of a tier (percent rewards only)."),
  );

  parts.push(
    el(
      "details",
      { class: "terms-json" },
      el("summary", {}, "Terms as JSON"),
      el("pre", { id: "terms-json", class: "code", tabindex: "0" }),
    ),
  );

  parts.push(
    el(
      "div",
      { class: "form-actions" },
      el("button", { type: "submit", id: "save", class: "primary", disabled: true }, "Save draft"),
      el("a", { href: S.mode === "new" ? "/" : `/promotions/${encodeURIComponent(S.id)}`, class: "button quiet" }, "Cancel"),
      el("p", { id: "save-why", class: "hint" }),
    ),
  );
  append(form, parts);
}

/** The recurring window's controls: weekdays, the opening and closing times, what they give. */
function recurringWindow(tz) {
  const dayBox = ([value, label]) => {
    const input = el("input", { type: "checkbox", id: `f-day-${value}`, name: `f-day-${value}`, value });
    return el("div", { class: "field check" }, input, el("label", { for: `f-day-${value}` }, label));
  };
  const time = (id, path) => {
    const input = el("input", { type: "time", id, name: id });
    input.dataset.path = path;
    return input;
  };
  const from = time("f-window-from", "intervals.from");
  const to = time("f-window-to", "intervals.to");
  return el(
    "fieldset",
    { class: "subgroup", id: "f-window", dataset: { path: "intervals" } },
    el("legend", {}, "Recurring window (optional)"),
    el(
      "p",
      { class: "hint" },
      `Live only at these times of the shop's day (${tz}), from the start to the last day above (from today without a start). They become dated windows in UTC that follow daylight-saving changes, as promoseal windows makes them.`,
    ),
    el(
      "fieldset",
      { class: "subgroup days", id: "f-window-days", dataset: { path: "intervals.days" } },
      el("legend", {}, "On"),
      DAYS.map(dayBox),
      el("p", { class: "hint" }, "No day ticked: every day."),
      el("p", { class: "field-error", id: "f-window-days-error", hidden: true }),
    ),
    el(
      "div",
      { class: "pairs" },
      el("div", { class: "field" }, el("label", { for: "f-window-from" }, "From (time)"), from, describe(from, "f-window-from")),
      el(
        "div",
        { class: "field" },
        el("label", { for: "f-window-to" }, "To (time)"),
        to,
        describe(to, "f-window-to", "At or before From: it ends the next day (overnight)."),
      ),
    ),
    el("p", { class: "field-error", id: "f-window-error", hidden: true }),
    el("p", { id: "window-summary", class: "hint", "aria-live": "polite" }),
    el("button", { type: "button", class: "quiet", id: "remove-window", hidden: true, onclick: removeWindow }, "Remove the recurring window"),
  );
}

// ---------------------------------------------------------------------------------------------
// Rows: tiers, volume breaks, loyalty bonuses

function rowInput(id, label, value, path, attrs = {}) {
  const input = el("input", { type: "text", id, name: id, autocomplete: "off", value: value ?? "", ...attrs });
  input.dataset.path = path;
  return el("div", { class: "field" }, el("label", { for: id }, label), input, describe(input, id));
}

function rowSelect(id, label, value, options, path) {
  const input = el("select", { id, name: id }, options.map(([v, t]) => el("option", { value: v }, t)));
  input.value = value;
  if (path) input.dataset.path = path;
  return el("div", { class: "field" }, el("label", { for: id }, label), input, describe(input, id));
}

function renderTiers() {
  const byQuantity = $("f-basis").value === "quantity";
  fill(
    $("tiers"),
    tierRows.map((t, i) => {
      const n = i + 1;
      const kind = t.kind || "percent";
      const row = el(
        "div",
        { class: "row" },
        rowInput(`tier-${n}-min`, `Tier ${n}: ${byQuantity ? "from a quantity of" : `from a spend of (${S.context.currency})`}`, t.min, `reward.tiers[${i}].${byQuantity ? "minQuantity" : "minSpend"}`, { inputmode: byQuantity ? "numeric" : "decimal" }),
        rowSelect(`tier-${n}-kind`, `Tier ${n}: gives`, kind, [["percent", "a percentage off each item"], ["amount", "an amount off the items together"]]),
        rowInput(`tier-${n}-value`, `Tier ${n}: ${kind === "percent" ? "percent off" : `amount off (${S.context.currency})`}`, t.value, `reward.tiers[${i}].${kind}`, { inputmode: "decimal" }),
        el("button", { type: "button", class: "quiet remove", "aria-label": `Remove tier ${n}`, onclick: () => (tierRows.splice(i, 1), renderTiers(), changed()) }, "Remove"),
      );
      row.addEventListener("input", (ev) => {
        t.min = $(`tier-${n}-min`).value;
        t.value = $(`tier-${n}-value`).value;
        if (ev.target.id === `tier-${n}-kind`) {
          t.kind = ev.target.value;
          renderTiers();
          $(`tier-${n}-kind`).focus();
        }
      });
      return row;
    }),
  );
}

function renderVolume() {
  fill(
    $("volume-tiers"),
    volumeRows.map((t, i) => {
      const n = i + 1;
      const kind = t.kind || "percent";
      const row = el(
        "div",
        { class: "row" },
        rowInput(`volume-${n}-min`, `Break ${n}: from this many units on a line`, t.min, `reward.tiers[${i}].minQuantity`, { inputmode: "numeric" }),
        rowSelect(`volume-${n}-kind`, `Break ${n}: gives`, kind, [["percent", "a percentage off"], ["unitPrice", "a unit price"]]),
        rowInput(`volume-${n}-value`, `Break ${n}: ${kind === "percent" ? "percent off" : `unit price (${S.context.currency})`}`, t.value, `reward.tiers[${i}].${kind}`, { inputmode: "decimal" }),
        el("button", { type: "button", class: "quiet remove", "aria-label": `Remove break ${n}`, onclick: () => (volumeRows.splice(i, 1), renderVolume(), changed()) }, "Remove"),
      );
      row.addEventListener("input", (ev) => {
        t.min = $(`volume-${n}-min`).value;
        t.value = $(`volume-${n}-value`).value;
        if (ev.target.id === `volume-${n}-kind`) {
          t.kind = ev.target.value;
          renderVolume();
          $(`volume-${n}-kind`).focus();
        }
      });
      return row;
    }),
  );
}

function renderBonuses() {
  fill(
    $("bonuses"),
    bonusRows.map((b, i) => {
      const n = i + 1;
      const row = el(
        "div",
        { class: "row" },
        rowInput(`bonus-${n}-tier`, `Bonus ${n}: customer tier`, b.tier, `loyaltyBonus[${i}].tier`),
        rowInput(`bonus-${n}-percent`, `Bonus ${n}: extra percent`, b.percent, `loyaltyBonus[${i}].percent`, { inputmode: "decimal" }),
        el("button", { type: "button", class: "quiet remove", "aria-label": `Remove bonus ${n}`, onclick: () => (bonusRows.splice(i, 1), renderBonuses(), changed()) }, "Remove"),
      );
      row.addEventListener("input", () => {
        b.tier = $(`bonus-${n}-tier`).value;
        b.percent = $(`bonus-${n}-percent`).value;
      });
      return row;
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Form ⇄ terms

const rewardType = () => $("f-reward-type").value;

function active(f) {
  return !f.reward || f.reward === rewardType();
}

function listValue(s) {
  const list = s.split(/[,\n]/).map((x) => x.trim()).filter(Boolean);
  return list.length ? list : undefined;
}

/** An integer as typed: digits (group separators allowed) become a number, anything else stays
 * text for the review to name. */
function intValue(s, signed = false) {
  const t = s.trim();
  if (!t) return undefined;
  const plain = t.replace(/[,_\s]/g, "");
  if ((signed ? /^-?\d{1,15}$/ : /^\d{1,15}$/).test(plain)) return Number(plain);
  return t;
}

function decimalValue(s, percent = false) {
  let t = s.trim();
  if (percent) t = t.replace(/\s*%$/, "");
  return t === "" ? undefined : t;
}

function read(f) {
  const v = f.input.value;
  switch (f.kind) {
    case "name":
      return v.trim();
    case "text":
      return v.trim() || undefined;
    case "money":
      return decimalValue(v);
    case "percent":
      return decimalValue(v, true);
    case "int":
      return intValue(v);
    case "sint":
      return intValue(v, true);
    case "list": {
      // Blank is "left out" (every item), except where the terms loaded (a template's) hold an
      // empty list to fill: that stays [], which the review names until it is filled.
      const declared = getPath(S.base, f.path);
      return listValue(v) ?? (Array.isArray(declared) && declared.length === 0 ? [] : undefined);
    }
    case "check":
      return f.input.checked || undefined;
    case "select":
      return v || undefined;
    case "bool3":
      return v === "" ? undefined : v === "true";
    default:
      return undefined;
  }
}

function write(f, value) {
  switch (f.kind) {
    case "check":
      f.input.checked = !!value;
      break;
    case "list":
      f.input.value = Array.isArray(value) ? value.join(", ") : "";
      break;
    case "bool3":
      f.input.value = value === true ? "true" : value === false ? "false" : "";
      break;
    case "select":
      f.input.value = value ?? "";
      if (f.input.value !== (value ?? "") && value !== undefined) {
        f.input.append(el("option", { value }, value));
        f.input.value = value;
      }
      break;
    default:
      f.input.value = value === undefined || value === null ? "" : String(value);
  }
}

function getPath(obj, path) {
  return path.split(".").reduce((o, k) => (o && typeof o === "object" ? o[k] : undefined), obj);
}

function setPath(obj, path, value) {
  const keys = path.split(".");
  let o = obj;
  for (const k of keys.slice(0, -1)) {
    if (!o[k] || typeof o[k] !== "object" || Array.isArray(o[k])) {
      if (value === undefined) return;
      o[k] = {};
    }
    o = o[k];
  }
  const last = keys[keys.length - 1];
  if (value === undefined) delete o[last];
  else o[last] = value;
}

const ORDER = [
  "id", "name", "description", "campaign", "priority", "startsAt", "endsAt", "intervals", "codeSet",
  "locked", "private", "items", "conditions", "reward", "loyaltyBonus", "maxDiscount", "stacking", "limits",
];

function shipKind(reward) {
  if (reward?.amount !== undefined) return "amount";
  if (reward?.percent === undefined || reward.percent === "100") return "free";
  return "percent";
}

/** The terms the form holds now (the JSON the review and the server read). */
function buildTerms() {
  const t = structuredClone(S.base);
  delete t.reward;
  const type = rewardType();
  const reward = { type };
  for (const f of FIELDS) {
    if (f.kind === "rewardType" || f.kind === "shipKind") continue;
    if (f.reward) {
      if (f.reward !== type || f.input.id === "f-ship-value") continue;
      setPath(reward, f.path.slice("reward.".length), read(f));
      continue;
    }
    setPath(t, f.path, read(f));
  }
  if (type === "percentOff") {
    if (reward.on === "lines") delete reward.on;
    if (reward.percent === undefined) reward.percent = "";
  }
  if (type === "amountOff" && reward.amount === undefined) reward.amount = "";
  if (type === "fixedPrice" && reward.price === undefined) reward.price = "";
  if (type === "buyXGetY") {
    const original = S.base.reward?.type === "buyXGetY" ? S.base.reward.getItems : undefined;
    if (original || reward.getItems) reward.getItems = { ...(original || {}), ...(reward.getItems || {}) };
    for (const k of ["categories", "skus"]) {
      if (!$(k === "categories" ? "f-get-categories" : "f-get-skus").value.trim() && reward.getItems) delete reward.getItems[k];
    }
    if (reward.getItems && Object.keys(reward.getItems).length === 0) delete reward.getItems;
  }
  if (type === "tiered") {
    const byQuantity = reward.basis === "quantity";
    reward.tiers = tierRows.map((r) => {
      const tier = {};
      const min = byQuantity ? intValue(r.min || "") : decimalValue(r.min || "");
      tier[byQuantity ? "minQuantity" : "minSpend"] = min ?? "";
      tier[r.kind || "percent"] = decimalValue(r.value || "", (r.kind || "percent") === "percent") ?? "";
      return tier;
    });
  }
  if (type === "volume") {
    reward.tiers = volumeRows.map((r) => {
      const tier = { minQuantity: intValue(r.min || "") ?? "" };
      tier[r.kind || "percent"] = decimalValue(r.value || "", (r.kind || "percent") === "percent") ?? "";
      return tier;
    });
  }
  if (type === "shippingOff") {
    const kind = $("f-ship-kind").value;
    const value = $("f-ship-value").value;
    if (kind === "free") reward.percent = "100";
    else if (kind === "percent") reward.percent = decimalValue(value, true) ?? "";
    else reward.amount = decimalValue(value) ?? "";
  }
  t.reward = reward;

  const classes = ["product", "order", "shipping"].filter((c) => $(`f-combines-${c}`).checked);
  setPath(t, "stacking.combinesWith", classes.length ? classes : undefined);

  const schedule = readSchedule();
  setPath(t, "startsAt", schedule.startsAt);
  setPath(t, "endsAt", schedule.endsAt);
  S.window = readWindow(schedule);
  setPath(t, "intervals", S.window.intervals);

  const bonuses = bonusRows.map((b) => ({ tier: (b.tier || "").trim(), percent: decimalValue(b.percent || "", true) ?? "" }));
  setPath(t, "loyaltyBonus", bonuses.length ? bonuses : undefined);

  for (const k of ["items", "conditions", "stacking", "limits"]) {
    if (t[k] && typeof t[k] === "object" && Object.keys(t[k]).length === 0) delete t[k];
  }
  const ordered = {};
  for (const k of ORDER) if (k in t) ordered[k] = t[k];
  for (const k of Object.keys(t)) if (!(k in ordered)) ordered[k] = t[k];
  return ordered;
}

/** Fills the form from terms (a template's or a saved promotion's). */
function loadTerms(terms) {
  S.base = structuredClone(terms || {});
  const reward = terms?.reward || { type: "percentOff" };
  $("f-reward-type").value = reward.type || "percentOff";
  for (const f of FIELDS) {
    if (f.kind === "rewardType") continue;
    if (f.kind === "shipKind") {
      f.input.value = reward.type === "shippingOff" ? shipKind(reward) : "free";
      continue;
    }
    if (f.reward) {
      if (f.input.id === "f-ship-value") continue;
      write(f, f.reward === reward.type ? getPath(reward, f.path.slice("reward.".length)) : undefined);
      continue;
    }
    write(f, getPath(terms, f.path));
  }
  if (reward.type === "percentOff" && !reward.on) $("f-percent-on").value = "lines";
  if (reward.type === "amountOff" && !reward.per) $("f-amount-per").value = "order";
  if (reward.type === "tiered" && !reward.basis) $("f-basis").value = "spend";
  $("f-ship-value").value =
    reward.type === "shippingOff" ? (reward.amount ?? (reward.percent === "100" ? "" : reward.percent ?? "")) : "";
  const combines = terms?.stacking?.combinesWith || [];
  for (const c of ["product", "order", "shipping"]) $(`f-combines-${c}`).checked = combines.includes(c);

  tierRows.length = 0;
  volumeRows.length = 0;
  if (reward.type === "tiered") {
    for (const t of reward.tiers || []) {
      tierRows.push({
        min: String(t.minSpend ?? t.minQuantity ?? ""),
        kind: t.amount !== undefined ? "amount" : "percent",
        value: String(t.amount ?? t.percent ?? ""),
      });
    }
  } else {
    tierRows.push({ kind: "percent" });
  }
  if (reward.type === "volume") {
    for (const t of reward.tiers || []) {
      volumeRows.push({
        min: String(t.minQuantity ?? ""),
        kind: t.unitPrice !== undefined ? "unitPrice" : "percent",
        value: String(t.unitPrice ?? t.percent ?? ""),
      });
    }
  } else {
    volumeRows.push({ kind: "percent" });
  }
  bonusRows.length = 0;
  for (const b of terms?.loyaltyBonus || []) bonusRows.push({ tier: b.tier, percent: b.percent });
  renderTiers();
  renderVolume();
  renderBonuses();
  loadSchedule(terms);
  showRewardPanel();
}

// ---------------------------------------------------------------------------------------------
// Schedule: wall-clock dates and times in the shop's time zone ⇄ UTC instants

function tz() {
  return S.context.timeZone || "UTC";
}

function setTime(input, time) {
  input.step = /:\d{2}:\d{2}$/.test(time) ? "1" : "60";
  input.value = time;
}

function loadSchedule(terms) {
  const start = terms?.startsAt ? instantToZoned(terms.startsAt, tz()) : null;
  $("f-start-date").value = start?.date || "";
  setTime($("f-start-time"), start && !start.midnight ? start.time : "");
  const end = terms?.endsAt ? instantToZoned(terms.endsAt, tz()) : null;
  if (end?.midnight) {
    $("f-end-date").value = previousDay(end.date);
    setTime($("f-end-time"), "");
  } else {
    $("f-end-date").value = end?.date || "";
    setTime($("f-end-time"), end?.time || "");
  }
  loadWindow(terms);
}

/** `{startsAt, endsAt, errors}` from the schedule inputs. */
function readSchedule() {
  const errors = [];
  const sd = $("f-start-date").value;
  const st = $("f-start-time").value;
  const ed = $("f-end-date").value;
  const et = $("f-end-time").value;
  let startsAt;
  let endsAt;
  if (st && !sd) errors.push({ path: "startsAt", message: "give the start date of this start time" });
  if (sd) startsAt = zonedToInstant(sd, st || "00:00", tz()) ?? undefined;
  if (et && !ed) errors.push({ path: "endsAt", message: "give the last day of this end time" });
  if (ed) endsAt = (et ? zonedToInstant(ed, et, tz()) : zonedToInstant(nextDay(ed), "00:00", tz())) ?? undefined;
  return { startsAt, endsAt, errors };
}

function scheduleWords(terms) {
  const z = tz();
  const from = terms.startsAt ? `from ${formatInstant(terms.startsAt, z)}` : "from publication";
  let until = "with no end";
  if (terms.endsAt) {
    const ed = $("f-end-date").value;
    until = $("f-end-time").value
      ? `until ${formatInstant(terms.endsAt, z)}`
      : `until the end of ${new Intl.DateTimeFormat(undefined, { weekday: "long", month: "long", day: "numeric", year: "numeric", timeZone: "UTC" }).format(new Date(`${ed}T00:00:00Z`))} (${formatInstant(terms.endsAt, z)})`;
  }
  const utc = [terms.startsAt && `startsAt ${terms.startsAt}`, terms.endsAt && `endsAt ${terms.endsAt}`].filter(Boolean).join(", ");
  const gaps = [
    gapNote($("f-start-date").value, $("f-start-time").value, terms.startsAt),
    gapNote($("f-end-date").value, $("f-end-time").value, terms.endsAt),
  ].filter(Boolean);
  return `Live ${from} ${until}.${utc ? ` In UTC: ${utc}.` : ""}${gaps.map((g) => ` ${g}`).join("")}`;
}

/** A typed time the shop's clocks skip that day (the spring change): it is read as the time the
 * clocks show then, and the person is told which. */
function gapNote(date, time, instant) {
  if (!date || !time || !instant) return "";
  const shown = instantToZoned(instant, tz());
  const hm = (t) => t.slice(0, 5);
  if (!shown || (shown.date === date && hm(shown.time) === hm(time))) return "";
  return `${hm(time)} does not exist on ${date} in ${tz()} (the clocks go forward): it is read as ${hm(shown.time)}.`;
}

// ---------------------------------------------------------------------------------------------
// The recurring window ⇄ the terms' UTC intervals (the core's `windows`, in this page)

/** What the window's controls hold: `{days, from, to}`. */
function windowControls() {
  return {
    days: DAYS.map(([d]) => d).filter((d) => $(`f-day-${d}`).checked),
    from: $("f-window-from").value,
    to: $("f-window-to").value,
  };
}

function setWindowControls({ days = [], from = "", to = "" }) {
  for (const [d] of DAYS) $(`f-day-${d}`).checked = days.includes(d);
  setTime($("f-window-from"), from);
  setTime($("f-window-to"), to);
}

/** The start of today in the shop's time zone: a window's range without a start date. */
function todayStart() {
  const today = instantToZoned(new Date().toISOString(), tz());
  return zonedToInstant(today.date, "00:00", tz());
}

/** Where an error of `windows` goes in the form (its path names the input's field). */
function windowError(error) {
  const field = error.path || "";
  const path =
    field === "from" || field === "to" || field.startsWith("days")
      ? `intervals.${field}`
      : field === "start"
        ? "startsAt"
        : field === "until"
          ? "endsAt"
          : "intervals";
  const message = error.message.startsWith(`${field}: `) ? error.message.slice(field.length + 2) : error.message;
  return { path, message };
}

/** The window's intervals over the schedule's range, by the core: `{intervals, errors}`. */
function expandWindow(controls, schedule) {
  const errors = [];
  if (!controls.from) errors.push({ path: "intervals.from", message: "give the time the window opens" });
  if (!controls.to) errors.push({ path: "intervals.to", message: "give the time the window closes" });
  if (!schedule.endsAt && !schedule.errors.some((e) => e.path === "endsAt")) {
    errors.push({ path: "endsAt", message: "give a last day: a recurring window becomes dated windows up to it" });
  }
  if (errors.length || schedule.errors.length) return { intervals: undefined, errors };
  const out = S.wasm.windows({
    zone: tz(),
    days: controls.days,
    from: controls.from,
    to: controls.to,
    start: schedule.startsAt ?? todayStart(),
    until: schedule.endsAt,
  });
  if (!out.ok) return { intervals: undefined, errors: [windowError(out.error)] };
  if (!out.value.length) {
    return { intervals: undefined, errors: [{ path: "intervals", message: "no window falls between the start and the last day: it would never be live" }] };
  }
  return { intervals: out.value, errors: [] };
}

/** `{mode, intervals, errors}`: the controls' window (mode `recurring`), else the loaded
 * intervals kept as they are (`kept`), else none. */
function readWindow(schedule) {
  const controls = windowControls();
  if (controls.days.length || controls.from || controls.to) return { mode: "recurring", ...expandWindow(controls, schedule) };
  if (S.keptIntervals) return { mode: "kept", intervals: S.keptIntervals, errors: [] };
  return { mode: "none", intervals: undefined, errors: [] };
}

/** The loaded terms' intervals: kept as they are, and shown in the controls when one weekly
 * window over the terms' range gives exactly them. */
function loadWindow(terms) {
  S.keptIntervals = Array.isArray(terms?.intervals) ? structuredClone(terms.intervals) : null;
  setWindowControls({});
  const guess = S.keptIntervals?.length ? guessWindow(S.keptIntervals) : null;
  if (guess) setWindowControls(guess);
}

const WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/** The weekly window most of `intervals` open and close at, if the core expands it over the
 * schedule's range into exactly `intervals`; else null. */
function guessWindow(intervals) {
  const counts = new Map();
  const starts = [];
  for (const iv of intervals) {
    const a = instantToZoned(iv.start, tz());
    const b = instantToZoned(iv.end, tz());
    if (!a || !b) return null;
    starts.push(a);
    const key = `${a.time} ${b.time}`;
    counts.set(key, (counts.get(key) || 0) + 1);
  }
  const [key] = [...counts.entries()].reduce((best, e) => (e[1] > best[1] ? e : best));
  const [from, to] = key.split(" ");
  const days = new Set(starts.filter((a) => a.time === from).map((a) => WEEKDAYS[new Date(`${a.date}T00:00:00Z`).getUTCDay()]));
  const guess = { days: days.size === 7 ? [] : DAYS.map(([d]) => d).filter((d) => days.has(d)), from, to };
  const { intervals: expanded } = expandWindow(guess, readSchedule());
  const same = (x, y) => x.start === y.start && x.end === y.end;
  return expanded?.length === intervals.length && expanded.every((iv, i) => same(iv, intervals[i])) ? guess : null;
}

function removeWindow() {
  setWindowControls({});
  S.keptIntervals = null;
  S.serverErrors = S.serverErrors.filter((e) => !e.path.startsWith("intervals"));
  $("f-day-mon").focus();
  changed();
}

/** Under the controls: what the window gives; the side panel lists the windows. */
function renderWindow(terms) {
  const w = S.window;
  const n = terms.intervals?.length || 0;
  const plural = n === 1 ? "" : "s";
  let summary = "";
  if (w.mode === "kept" && !n) {
    summary = "The promotion's list of time windows is empty: it is never live. Set a recurring window above to replace it, or remove it.";
  } else if (w.mode === "kept") {
    summary = `The promotion is live only inside its ${n} time window${plural}, listed in the review panel in the shop's time. They stay as they are when its dates change: set a recurring window above to replace them, or remove them.`;
  } else if (w.mode === "recurring" && n) {
    const first = formatInstant(terms.intervals[0].start, tz());
    const last = formatInstant(terms.intervals[n - 1].end, tz());
    summary = `${n} window${plural} from ${first} to ${last}, listed in the review panel.`;
  }
  $("window-summary").textContent = summary;
  $("remove-window").hidden = w.mode === "none";
  fill($("rv-windows"), windowsView(terms.intervals, tz()));
}

// ---------------------------------------------------------------------------------------------
// Errors next to their fields

function visible(node) {
  return !node.closest("[hidden]");
}

/** The element an error's path belongs to: the visible input of that path, else of its
 * nearest enclosing path. */
function anchorFor(path) {
  const form = $("editor");
  const candidates = [...form.querySelectorAll("[data-path]")].filter(visible);
  let p = path;
  while (p && p !== "$") {
    const hit = candidates.find((c) => c.dataset.path === p);
    if (hit) return hit;
    const cut = Math.max(p.lastIndexOf("."), p.lastIndexOf("["));
    if (cut <= 0) break;
    p = p.slice(0, cut);
  }
  return null;
}

/** Where an error goes; one naming a missing or unknown field goes to that field if shown. */
function errorTarget(e) {
  let node = anchorFor(e.path);
  // The reader names the object holding a value it cannot read (`reward`): the visible field
  // under it holding the quoted value is the one at fault.
  const quoted = /`([^`]+)`/.exec(e.message)?.[1];
  if (quoted && node && (node.tagName === "SELECT" || node.tagName === "FIELDSET")) {
    const under = [...$("editor").querySelectorAll("[data-path]")].filter(
      (c) => visible(c) && c.tagName === "INPUT" && c.dataset.path.startsWith(`${e.path}.`),
    );
    const hit = under.find((c) => c.value.trim() === quoted || c.value.trim().replace(/\s*%$/, "") === quoted);
    if (hit) return hit;
  }
  const m = /(?:missing|unknown) field `(\w+)`/.exec(e.message);
  if (m) {
    const inner = anchorFor(e.path === "$" ? m[1] : `${e.path}.${m[1]}`);
    if (inner && (!node || inner.dataset.path.length > node.dataset.path.length)) node = inner;
  }
  return node;
}

function errorSlot(node) {
  if (node.tagName === "FIELDSET") return $(`${node.id}-error`);
  if (node.id === "tiers") return $("tiers-error");
  if (node.id === "volume-tiers") return $("volume-tiers-error");
  return $(`${node.id}-error`);
}

function showFieldErrors(errors) {
  const form = $("editor");
  for (const p of form.querySelectorAll(".field-error")) {
    p.hidden = true;
    p.replaceChildren();
  }
  for (const i of form.querySelectorAll("[aria-invalid]")) i.removeAttribute("aria-invalid");
  const general = [];
  for (const e of errors) {
    const node = errorTarget(e);
    const slot = node && errorSlot(node);
    if (!slot) {
      general.push(e);
      continue;
    }
    slot.append(el("span", { class: "error-line", dataset: { path: e.path } }, e.message));
    slot.hidden = false;
    if (node.tagName !== "FIELDSET" && node.tagName !== "DIV") node.setAttribute("aria-invalid", "true");
  }
  const box = $("form-errors");
  if (general.length) {
    fill(
      box,
      el("p", { class: "alert-title" }, "Problems with the terms as a whole"),
      el("ul", {}, general.map((e) => el("li", { dataset: { path: e.path } }, e.path === "$" ? e.message : `${e.path}: ${e.message}`))),
    );
    box.hidden = false;
  } else {
    box.hidden = true;
    box.replaceChildren();
  }
}

// ---------------------------------------------------------------------------------------------
// The review, on every change

let timer = null;

function changed(ev) {
  if (ev?.target?.dataset?.path) {
    const path = ev.target.dataset.path;
    S.serverErrors = S.serverErrors.filter((e) => !(e.path === path || e.path.startsWith(`${path}.`)));
  }
  clearTimeout(timer);
  timer = setTimeout(refresh, 120);
}

/** What the form itself asks for before the review can say anything useful: a name, an id,
 * the reward's values, dates for times, a whole recurring window with a last day. */
function localErrors(terms, schedule) {
  const out = [...schedule.errors, ...S.window.errors];
  if (!terms.name) out.push({ path: "name", message: "give the promotion a name" });
  if (!terms.id) out.push({ path: "id", message: "give the promotion an id" });
  const r = terms.reward;
  const need = (path, what) => out.push({ path, message: `give ${what}` });
  switch (r.type) {
    case "percentOff":
      if (r.percent === "") need("reward.percent", "the percentage off");
      break;
    case "amountOff":
      if (r.amount === "") need("reward.amount", "the amount off");
      break;
    case "fixedPrice":
      if (r.price === "") need("reward.price", "the price");
      break;
    case "buyXGetY":
      if (r.buyQuantity === undefined) need("reward.buyQuantity", "how many to buy");
      if (r.getQuantity === undefined) need("reward.getQuantity", "how many are given");
      break;
    case "tiered":
    case "volume":
      if (!r.tiers.length) need("reward.tiers", "at least one tier");
      r.tiers.forEach((t, i) => {
        for (const [k, v] of Object.entries(t)) {
          if (v === "") need(`reward.tiers[${i}].${k}`, "a value");
        }
      });
      break;
    case "shippingOff":
      if (r.percent === "") need("reward.percent", "the percentage off shipping");
      if (r.amount === "") need("reward.amount", "the amount off shipping");
      break;
    default:
  }
  (terms.loyaltyBonus || []).forEach((b, i) => {
    if (!b.tier) need(`loyaltyBonus[${i}].tier`, "the customer tier");
    if (b.percent === "") need(`loyaltyBonus[${i}].percent`, "the extra percentage");
  });
  return out;
}

/** The review's errors that a local one already explains (the same field, or the object
 * holding it, which is where the reader reports a value it cannot read) are left out. */
function withoutExplained(reviewErrors, local) {
  return reviewErrors.filter(
    (e) => !local.some((l) => l.path === e.path || l.path.startsWith(`${e.path}.`) || l.path.startsWith(`${e.path}[`)),
  );
}

async function refresh() {
  const seq = ++S.seq;
  const terms = buildTerms();
  const schedule = readSchedule();
  S.terms = terms;
  $("terms-json").textContent = JSON.stringify(terms, null, 2);
  $("schedule-words").textContent = scheduleWords(terms);
  renderWindow(terms);
  const local = localErrors(terms, schedule);
  let out;
  try {
    out = await reviewTerms(terms);
  } catch (e) {
    if (seq !== S.seq) return;
    S.review = null;
    fill($("review-status"), el("span", { class: "error-text" }, `The evaluator could not run in this page: ${e.message}`));
    updateSave(local);
    return;
  }
  if (seq !== S.seq) return;
  if (!out.ok) {
    S.review = null;
    fill($("review-status"), el("span", { class: "error-text" }, `The shop's settings cannot be reviewed: ${out.error.message}`));
    showFieldErrors([...local, ...S.serverErrors]);
    updateSave(local);
    return;
  }
  const review = out.value;
  S.review = review;
  const errors = [...local, ...withoutExplained(review.errors, local), ...S.serverErrors];
  showFieldErrors(errors);
  renderPanel(review, errors);
  updateSave(local);
  await S.simulator.update(review.errors.length ? null : review, terms);
}

function renderPanel(review, errors) {
  const c = S.context;
  const n = errors.length;
  fill(
    $("review-status"),
    n
      ? el("span", { class: "error-text", id: "problem-count" }, `${n} problem${n === 1 ? "" : "s"} to fix before saving.`)
      : el("span", { class: "ok-text", id: "problem-count" }, "No problems: ready to save."),
    n ? null : lintNote(review),
  );
  fill($("rv-words"), wordsList(review));
  fill($("rv-approvers"), approversView(review, S.me));
  fill($("rv-exposure"), exposureView(review, c.currency));
  fill($("rv-lint"), lintView(review, c.currency));
  fill($("rv-conflicts"), conflictsView(review, c.timeZone));
}

/** Lint findings do not stop a save (the policy is the approvers' to weigh): say so. */
function lintNote(review) {
  const v = review.lint?.violations || 0;
  const w = review.lint?.warnings || 0;
  if (!v && !w) return null;
  const parts = [v && `${v} violation${v === 1 ? "" : "s"}`, w && `${w} warning${w === 1 ? "" : "s"}`].filter(Boolean);
  return el("span", { class: "lint-note" }, ` The shop's policy finds ${parts.join(" and ")} (below): approvers will see them.`);
}

function updateSave(local) {
  const save = $("save");
  const review = S.review;
  const problems = (local?.length || 0) + (review ? withoutExplained(review.errors, local || []).length : 0) + S.serverErrors.length;
  let why = "";
  if (!mayWrite(S.me)) why = "A viewer can read, not save.";
  else if (!review) why = "The review has not run.";
  else if (problems) why = `Fix the ${problems} problem${problems === 1 ? "" : "s"} marked above to save.`;
  else if (S.saving) why = "Saving…";
  save.disabled = !!why;
  $("save-why").textContent = why;
}

// ---------------------------------------------------------------------------------------------
// Saving

async function save(ev) {
  ev.preventDefault();
  // The review of exactly what is saved: a change still waiting for its review runs now.
  clearTimeout(timer);
  await refresh();
  if ($("save").disabled) return;
  clearError();
  S.saving = true;
  updateSave([]);
  const terms = buildTerms();
  try {
    // Not sent to the sign-in page when the session has ended: that would drop the terms.
    const saved =
      S.mode === "new"
        ? await api("POST", "/promotions", { terms }, { noRedirect: true })
        : await api("PUT", `/promotions/${encodeURIComponent(S.id)}`, { terms, base: S.tag }, { noRedirect: true });
    showStatus(`Saved ${saved.id} as a draft.`);
    S.unsaved = false;
    location.assign(`/promotions/${encodeURIComponent(saved.id)}`);
    return;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      showError(e, [
        el("p", {}, "Your session has ended (you signed out, or it expired). Nothing was saved, and your terms are still on this page. ",
          el("a", { href: "/sign-in?next=/", target: "_blank", rel: "noopener", id: "sign-in-again" }, "Sign in again in a new tab"),
          ", then come back and press Save draft."),
      ]);
    } else if (e instanceof ApiError && e.code === "staleEdit") {
      showError(e, [
        el("p", {}, "Someone (in the console or in the project folder) saved other terms since you opened these. Nothing of yours was saved. Reload to start from their version; your changes on this page are then lost, so copy what you need first (Terms as JSON, below)."),
        el("button", { type: "button", id: "reload-latest", onclick: () => ((S.unsaved = false), location.reload()) }, "Reload the latest terms"),
      ]);
    } else if (e instanceof ApiError && e.code === "invalidPromotion" && Array.isArray(e.detail?.errors)) {
      S.serverErrors = e.detail.errors;
      showError(e);
    } else if (e instanceof ApiError && e.code === "alreadyExists") {
      S.serverErrors = [{ path: "id", message: e.message }];
      showError(e);
    } else {
      showError(e);
    }
  } finally {
    S.saving = false;
  }
  await refresh();
}

// ---------------------------------------------------------------------------------------------
// Start

function slug(name) {
  return name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/%/g, "pct")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 64)
    .replace(/-+$/g, "");
}

function showRewardPanel() {
  const type = rewardType();
  for (const p of document.querySelectorAll(".reward-panel")) p.hidden = p.dataset.reward !== type;
  const kind = $("f-ship-kind").value;
  const value = $("f-ship-value");
  value.closest(".field").hidden = kind === "free";
  value.dataset.path = kind === "amount" ? "reward.amount" : "reward.percent";
  const label = document.querySelector('label[for="f-ship-value"]');
  label.textContent = kind === "amount" ? `Amount off shipping (${S.context.currency})` : "Percent off shipping";
}

/** Fills the form from a template, keeping the name and id typed so far. */
function applyTemplate(id) {
  const t = template(id);
  if (!t) return;
  const name = $("f-name").value;
  const idValue = $("f-id").value;
  loadTerms(t.terms(S.context));
  $("template-hint").textContent = t.hint;
  $("f-name").value = name;
  $("f-id").value = idValue;
}

async function main() {
  S.me = await header();
  const editing = /\/edit$/.test(location.pathname);
  S.mode = editing ? "edit" : "new";
  S.id = editing ? promotionIdFromPath("/edit") : null;
  if (editing && S.id === null) throw new ApiError(404, { code: "notFound", message: "There is no such promotion." });
  const [context, detail, wasm] = await Promise.all([
    reviewContext(),
    S.mode === "edit" ? api("GET", `/promotions/${encodeURIComponent(S.id)}`) : Promise.resolve(null),
    evaluator(),
  ]);
  S.context = context;
  S.wasm = wasm;
  buildForm();
  S.simulator = mountSimulator($("rv-sim"), context);
  if (detail) {
    S.tag = detail.tag;
    $("title").textContent = `Edit “${detail.terms.name}”`;
    document.title = `Edit ${detail.terms.name} · Promoseal console`;
    loadTerms(detail.terms);
    $("f-id").readOnly = true;
    S.idTouched = true;
    if (detail.state !== "draft" || detail.approvals?.length) {
      fill(
        $("status"),
        `This promotion is ${detail.state === "review" ? "in review" : detail.state}. Saving changes makes a draft: approvals given so far no longer count (they stay listed, marked stale), and the change needs its own approvals before it is published.`,
      );
    }
  } else {
    const wanted = new URLSearchParams(location.search).get("template");
    const first = template(wanted) ? wanted : "blank";
    $("template").value = first;
    applyTemplate(first);
    $("template").addEventListener("change", (e) => {
      applyTemplate(e.target.value);
      changed();
    });
  }
  if (!mayWrite(S.me)) fill($("status"), "You are signed in as a viewer: you can try terms here, not save them.");

  const form = $("editor");
  form.addEventListener("input", (ev) => {
    if (ev.target.id === "f-name" && !S.idTouched && S.mode === "new") $("f-id").value = slug(ev.target.value);
    if (ev.target.id === "f-id") S.idTouched = ev.target.value !== "";
    if (ev.target.id === "f-reward-type" || ev.target.id === "f-ship-kind") showRewardPanel();
    if (ev.target.id === "f-basis") renderTiers();
    S.unsaved = true;
    changed(ev);
  });
  form.addEventListener("change", (ev) => {
    if (ev.target.id === "f-reward-type" || ev.target.id === "f-ship-kind") showRewardPanel();
    S.unsaved = true;
    changed(ev);
  });
  form.addEventListener("submit", save);
  // Typed terms are not lost to a reload, Back or a link without the browser asking first.
  addEventListener("beforeunload", (e) => {
    if (S.unsaved && mayWrite(S.me)) e.preventDefault();
  });
  $("loading").hidden = true;
  form.hidden = false;
  await refresh();
}

main().catch((e) => {
  $("loading").hidden = true;
  if (S.mode === "edit" && e instanceof ApiError && e.status === 404) {
    // Not the new-promotion editor under an error: there is nothing here to edit.
    $("title").textContent = "No such promotion";
    document.title = "No such promotion · Promoseal console";
    $("editor").hidden = true;
    $("review-panel").hidden = true;
    noSuchPromotion($("status"));
  }
  showError(e);
});
