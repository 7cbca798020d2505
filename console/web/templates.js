// The editor's starting points: each fills the form with the terms of a common promotion
// (docs/json-reference.md's fields) for the person to adjust. Nothing here decides anything:
// the review (the core, as wasm) judges whatever the form holds. Every one but the blank
// carries a budget: without one a promotion has no bound, and only an approver without a budget
// limit may approve it (DESIGN.md §3).

function codeSet(context, preferred) {
  const sets = context?.codeSets || [];
  return sets.includes(preferred) ? preferred : sets[0];
}

export const TEMPLATES = [
  {
    id: "percent-category",
    label: "Percent off a category",
    hint: "A percentage off every item of some categories, e.g. 10 % off running shoes.",
    terms: () => ({
      name: "",
      reward: { type: "percentOff", percent: "10" },
      items: { categories: [] },
      stacking: { combinesWith: ["order", "shipping"] },
      limits: { budget: "5000" },
    }),
  },
  {
    id: "amount-over",
    label: "Amount off an order over X",
    hint: "A fixed amount off the order once it reaches a minimum spend.",
    terms: () => ({
      name: "",
      reward: { type: "amountOff", amount: "10", per: "order" },
      conditions: { minSubtotal: "50" },
      stacking: { combinesWith: ["product", "shipping"] },
      limits: { budget: "5000" },
    }),
  },
  {
    id: "free-shipping-over",
    label: "Free shipping over X",
    hint: "Shipping free once the order reaches a minimum spend.",
    terms: () => ({
      name: "",
      reward: { type: "shippingOff", percent: "100" },
      conditions: { minSubtotal: "75" },
      stacking: { combinesWith: ["product", "order"] },
      limits: { budget: "5000" },
    }),
  },
  {
    id: "buy-x-get-y",
    label: "Buy X get Y",
    hint: "Buy some items, get the cheapest further ones free (or at a percentage off).",
    terms: () => ({
      name: "",
      reward: { type: "buyXGetY", buyQuantity: 2, getQuantity: 1 },
      items: { categories: [] },
      stacking: { combinesWith: ["order", "shipping"] },
      limits: { budget: "5000" },
    }),
  },
  {
    id: "spend-tiers",
    label: "Spend tiers",
    hint: "The more the shopper spends, the more comes off: the best tier reached wins.",
    terms: () => ({
      name: "",
      reward: {
        type: "tiered",
        basis: "spend",
        tiers: [
          { minSpend: "100", amount: "10" },
          { minSpend: "200", amount: "25" },
        ],
      },
      stacking: { combinesWith: ["order", "shipping"] },
      limits: { budget: "5000" },
    }),
  },
  {
    id: "vip-code",
    label: "A VIP code",
    hint: "A percentage off for whoever enters a code of a code set, once per customer.",
    terms: (context) => ({
      name: "",
      codeSet: codeSet(context, "vip"),
      reward: { type: "percentOff", percent: "20" },
      stacking: { combinesWith: ["order", "shipping"] },
      limits: { perCustomer: 1, budget: "5000" },
    }),
  },
  {
    id: "single-use-codes",
    label: "A batch of single-use codes",
    hint: "An amount off with a code that works once (a generated or imported code set).",
    terms: (context) => ({
      name: "",
      codeSet: codeSet(context, "spring"),
      reward: { type: "amountOff", amount: "5", per: "order" },
      conditions: { minSubtotal: "40" },
      stacking: { combinesWith: ["product", "shipping"] },
      limits: { singleUseCodes: true, totalUses: 1000, budget: "5000" },
    }),
  },
  {
    id: "blank",
    label: "Blank",
    hint: "Every field empty.",
    terms: () => ({ name: "", reward: { type: "percentOff", percent: "" } }),
  },
];

export function template(id) {
  return TEMPLATES.find((t) => t.id === id);
}
