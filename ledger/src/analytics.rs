//! What the ledger tells finance and fraud teams, computed from its own rows: reports per
//! promotion, campaign or channel; reconciliation of edge-reported redemptions against
//! committed ones; fraud signals over the event log. The computations are pure functions over
//! plain rows (tested without a database); `Db` fetches the rows.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use promoseal_evaluator::money::{format_minor, Currency, DecimalString};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::Row as _;

use crate::db::Db;
use crate::error::ApiError;

/// One committed (or since reversed) order, as reports and reconciliation read it.
#[derive(Clone, Debug)]
pub struct Order {
    pub id: String,
    pub order_id: String,
    pub reversed: bool,
    pub currency: String,
    pub channel: Option<String>,
    pub new_customer: bool,
    pub subtotal: i64,
    pub discount_total: i64,
    pub tax_total: i64,
    pub total: i64,
    /// What partial refunds gave back of `total` so far.
    pub refunded: i64,
    pub cost: Option<i64>,
    /// `(promotion, campaign, amount)`.
    pub promotions: Vec<(String, Option<String>, i64)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum GroupBy {
    Promotion,
    Campaign,
    Channel,
}

#[derive(Default)]
struct Acc {
    orders: i64,
    revenue: i64,
    discount: i64,
    new_customers: i64,
    reversed: i64,
    costed: i64,
    profit: i64,
}

/// Per group: the orders that carry it against every other order of the range.
///
/// - `orders`: committed orders the group applies to (its uses); `reversed` counts those
///   reversed since, which are left out of every other figure;
/// - `revenue`: what those orders paid (`total`, tax and shipping included), net of partial
///   refunds;
/// - `averageOrderValue` and `averageOrderValueWithout`: revenue per order with the group,
///   and over the range's other orders (absent when there are none);
/// - `discountCost`: the discount the group gave (for a channel: every discount);
/// - `grossProfit`: over the orders whose every line has a unit cost, paid net of tax and of
///   partial refunds, minus cost; `profitImpact`: that profit against what the same number of orders makes
///   on average without the group (absent when either side has no costed order);
/// - `newCustomers` / `returningCustomers`: first orders against the rest.
pub fn report(orders: &[Order], by: GroupBy) -> Vec<Value> {
    let mut groups: BTreeMap<(String, String), Acc> = BTreeMap::new();
    let mut totals: BTreeMap<String, Acc> = BTreeMap::new();
    for o in orders {
        let t = totals.entry(o.currency.clone()).or_default();
        if o.reversed {
            continue;
        }
        add(t, o, o.discount_total);
    }
    for o in orders {
        let mut keys: BTreeMap<String, i64> = BTreeMap::new();
        match by {
            GroupBy::Promotion => {
                for (p, _, a) in &o.promotions {
                    *keys.entry(p.clone()).or_default() += a;
                }
            }
            GroupBy::Campaign => {
                for (_, c, a) in &o.promotions {
                    let c = c.clone().unwrap_or_else(|| "(none)".into());
                    *keys.entry(c).or_default() += a;
                }
            }
            GroupBy::Channel => {
                keys.insert(
                    o.channel.clone().unwrap_or_else(|| "(none)".into()),
                    o.discount_total,
                );
            }
        }
        for (k, discount) in keys {
            let g = groups.entry((o.currency.clone(), k)).or_default();
            if o.reversed {
                g.reversed += 1;
            } else {
                add(g, o, discount);
            }
        }
    }
    groups
        .into_iter()
        .map(|((currency, key), g)| {
            let exp = Currency::from_code(&currency)
                .map(|c| c.exponent())
                .unwrap_or(2);
            let money = |m: i64| format_minor(m, exp);
            let t = totals.get(&currency);
            let other_orders = t.map_or(0, |t| t.orders) - g.orders;
            let other_revenue = t.map_or(0, |t| t.revenue) - g.revenue;
            let other_costed = t.map_or(0, |t| t.costed) - g.costed;
            let other_profit = t.map_or(0, |t| t.profit) - g.profit;
            let mut v = json!({
                "key": key,
                "currency": currency,
                "orders": g.orders,
                "reversed": g.reversed,
                "revenue": money(g.revenue),
                "discountCost": money(g.discount),
                "newCustomers": g.new_customers,
                "returningCustomers": g.orders - g.new_customers,
            });
            let o = v.as_object_mut();
            if let Some(o) = o {
                if let Some(a) = average(g.revenue, g.orders) {
                    o.insert("averageOrderValue".into(), json!(money(a)));
                }
                if let Some(a) = average(other_revenue, other_orders) {
                    o.insert("averageOrderValueWithout".into(), json!(money(a)));
                }
                if g.costed > 0 {
                    o.insert("grossProfit".into(), json!(money(g.profit)));
                    if let Some(base) = average(other_profit, other_costed) {
                        let impact = g.profit - base.saturating_mul(g.costed);
                        o.insert("profitImpact".into(), json!(money(impact)));
                    }
                }
            }
            v
        })
        .collect()
}

fn add(a: &mut Acc, o: &Order, discount: i64) {
    a.orders += 1;
    a.revenue += o.total - o.refunded;
    a.discount += discount;
    a.new_customers += i64::from(o.new_customer);
    if let Some(cost) = o.cost {
        a.costed += 1;
        a.profit += o.total - o.refunded - o.tax_total - cost;
    }
}

/// Rounded half away from zero to whole minor units.
fn average(sum: i64, n: i64) -> Option<i64> {
    (n > 0).then(|| {
        let (q, r) = (sum / n, sum % n);
        if r.abs() * 2 >= n {
            q + sum.signum()
        } else {
            q
        }
    })
}

/// The report as CSV: one header line, one line per group.
pub fn report_csv(rows: &[Value]) -> Result<String, ApiError> {
    const COLUMNS: [&str; 13] = [
        "key",
        "currency",
        "orders",
        "reversed",
        "revenue",
        "averageOrderValue",
        "averageOrderValueWithout",
        "discountCost",
        "grossProfit",
        "profitImpact",
        "newCustomers",
        "returningCustomers",
        "",
    ];
    let columns = &COLUMNS[..12];
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(columns).map_err(ApiError::internal)?;
    for r in rows {
        let cells: Vec<String> = columns
            .iter()
            .map(|c| match r.get(*c) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(v) => v.to_string(),
            })
            .collect();
        w.write_record(&cells).map_err(ApiError::internal)?;
    }
    String::from_utf8(w.into_inner().map_err(ApiError::internal)?).map_err(ApiError::internal)
}

/// One redemption as the edge reported it.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EdgeRecord {
    pub order_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redemption_id: Option<String>,
    pub discount_total: DecimalString,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<DecimalString>,
}

/// Edge-reported redemptions against the ledger's committed ones, matched by order:
/// `missingAtLedger` (reported, never committed), `missingAtEdge` (committed, never reported),
/// `duplicated` (reported more than once), `amountMismatch` (matched, different amounts).
pub fn reconcile(edge: &[EdgeRecord], ledger: &[Order]) -> Value {
    let mut reported: BTreeMap<&str, Vec<&EdgeRecord>> = BTreeMap::new();
    for e in edge {
        reported.entry(e.order_id.as_str()).or_default().push(e);
    }
    let committed: HashMap<&str, &Order> = ledger
        .iter()
        .filter(|o| !o.reversed)
        .map(|o| (o.order_id.as_str(), o))
        .collect();
    let mut matched = 0;
    let (mut missing_ledger, mut duplicated, mut mismatch) = (vec![], vec![], vec![]);
    for (order, records) in &reported {
        if records.len() > 1 {
            duplicated.push(json!({ "orderId": order, "count": records.len() }));
        }
        let Some(first) = records.first() else {
            continue;
        };
        let Some(o) = committed.get(order) else {
            missing_ledger.push(
                json!({ "orderId": order, "discountTotal": first.discount_total.0.to_string() }),
            );
            continue;
        };
        let cur = Currency::from_code(&o.currency);
        let minor = |d: &DecimalString| cur.and_then(|c| c.to_minor(d, &String::new).ok());
        let exp = cur.map(|c| c.exponent()).unwrap_or(2);
        let discount_differs = minor(&first.discount_total) != Some(o.discount_total);
        let total_differs = first
            .total
            .as_ref()
            .is_some_and(|t| minor(t) != Some(o.total));
        if discount_differs || total_differs {
            mismatch.push(json!({
                "orderId": order,
                "redemptionId": o.id,
                "edge": { "discountTotal": first.discount_total.0.to_string(),
                          "total": first.total.map(|t| t.0.to_string()) },
                "ledger": { "discountTotal": format_minor(o.discount_total, exp),
                            "total": format_minor(o.total, exp) },
            }));
        } else {
            matched += 1;
        }
    }
    let missing_edge: Vec<Value> = ledger
        .iter()
        .filter(|o| !o.reversed && !reported.contains_key(o.order_id.as_str()))
        .map(|o| {
            let exp = Currency::from_code(&o.currency)
                .map(|c| c.exponent())
                .unwrap_or(2);
            json!({ "orderId": o.order_id, "redemptionId": o.id,
                    "discountTotal": format_minor(o.discount_total, exp) })
        })
        .collect();
    json!({
        "edgeRecords": edge.len(),
        "ledgerRedemptions": committed.len(),
        "matched": matched,
        "missingAtLedger": missing_ledger,
        "missingAtEdge": missing_edge,
        "duplicated": duplicated,
        "amountMismatch": mismatch,
    })
}

/// One redemption attempt from the event log.
#[derive(Clone, Debug, Default)]
pub struct AttemptRow {
    pub refused: bool,
    pub customer_id: Option<String>,
    pub email: Option<String>,
    pub ip: Option<String>,
    pub codes: Vec<String>,
}

/// When a count becomes a signal. Every threshold is "at least".
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Thresholds {
    /// The window, in seconds, ending now.
    pub window_seconds: i64,
    pub attempts_per_ip: usize,
    pub attempts_per_email: usize,
    pub attempts_per_customer: usize,
    /// Distinct codes tried by one account (customer id, else email).
    pub codes_per_account: usize,
    /// Refused attempts by one IP, email or customer.
    pub refusals: usize,
    /// Distinct accounts trying one code.
    pub accounts_per_code: usize,
}

/// The longest window a signal looks back over: 366 days.
pub const MAX_WINDOW_SECONDS: i64 = 366 * 86_400;

impl Thresholds {
    /// What is wrong with these thresholds, if anything: a window of 1 s to 366 days, every
    /// count at least 1 (a count of 0 would make every account a signal).
    pub fn check(&self) -> Result<(), String> {
        if !(1..=MAX_WINDOW_SECONDS).contains(&self.window_seconds) {
            return Err(format!(
                "windowSeconds: `{}` is not between 1 and {MAX_WINDOW_SECONDS}",
                self.window_seconds
            ));
        }
        let counts = [
            ("attemptsPerIp", self.attempts_per_ip),
            ("attemptsPerEmail", self.attempts_per_email),
            ("attemptsPerCustomer", self.attempts_per_customer),
            ("codesPerAccount", self.codes_per_account),
            ("refusals", self.refusals),
            ("accountsPerCode", self.accounts_per_code),
        ];
        match counts.iter().find(|(_, n)| *n == 0) {
            Some((name, _)) => Err(format!("{name}: must be at least 1")),
            None => Ok(()),
        }
    }
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            window_seconds: 3600,
            attempts_per_ip: 60,
            attempts_per_email: 20,
            attempts_per_customer: 20,
            codes_per_account: 5,
            refusals: 10,
            accounts_per_code: 3,
        }
    }
}

/// Fraud signals over the attempts of one window, strongest first.
pub fn fraud_signals(attempts: &[AttemptRow], t: &Thresholds) -> Vec<Value> {
    let mut out = Vec::new();
    let mut count = |kind: &str,
                     by: &str,
                     key: fn(&AttemptRow) -> Option<&String>,
                     refused_only: bool,
                     threshold: usize| {
        let mut n: BTreeMap<&String, usize> = BTreeMap::new();
        for a in attempts.iter().filter(|a| !refused_only || a.refused) {
            if let Some(k) = key(a) {
                *n.entry(k).or_default() += 1;
            }
        }
        for (k, c) in n.into_iter().filter(|(_, c)| *c >= threshold) {
            out.push(
                json!({ "kind": kind, "by": by, "value": k, "count": c, "threshold": threshold }),
            );
        }
    };
    count(
        "velocity",
        "ip",
        |a| a.ip.as_ref(),
        false,
        t.attempts_per_ip,
    );
    count(
        "velocity",
        "email",
        |a| a.email.as_ref(),
        false,
        t.attempts_per_email,
    );
    count(
        "velocity",
        "customer",
        |a| a.customer_id.as_ref(),
        false,
        t.attempts_per_customer,
    );
    count(
        "repeatedRefusals",
        "ip",
        |a| a.ip.as_ref(),
        true,
        t.refusals,
    );
    count(
        "repeatedRefusals",
        "email",
        |a| a.email.as_ref(),
        true,
        t.refusals,
    );
    count(
        "repeatedRefusals",
        "customer",
        |a| a.customer_id.as_ref(),
        true,
        t.refusals,
    );
    let account = |a: &AttemptRow| {
        a.customer_id
            .as_ref()
            .map(|c| format!("customer:{c}"))
            .or_else(|| a.email.as_ref().map(|e| format!("email:{e}")))
    };
    let mut codes_by_account: BTreeMap<String, BTreeSet<&String>> = BTreeMap::new();
    let mut accounts_by_code: BTreeMap<&String, BTreeSet<String>> = BTreeMap::new();
    for a in attempts {
        let Some(acc) = account(a) else { continue };
        for c in &a.codes {
            codes_by_account.entry(acc.clone()).or_default().insert(c);
            accounts_by_code.entry(c).or_default().insert(acc.clone());
        }
    }
    for (acc, codes) in codes_by_account
        .into_iter()
        .filter(|(_, c)| c.len() >= t.codes_per_account)
    {
        out.push(json!({ "kind": "manyCodes", "by": "account", "value": acc,
                         "count": codes.len(), "threshold": t.codes_per_account }));
    }
    for (code, accs) in accounts_by_code
        .into_iter()
        .filter(|(_, a)| a.len() >= t.accounts_per_code)
    {
        out.push(
            json!({ "kind": "codeSharedByAccounts", "by": "codeHash", "value": code,
                         "count": accs.len(), "threshold": t.accounts_per_code }),
        );
    }
    out.sort_by(|a, b| b["count"].as_u64().cmp(&a["count"].as_u64()));
    out
}

impl Db {
    /// Orders committed in `[from, to)`, reversed ones included (flagged).
    pub async fn orders(&self, from: i64, to: i64) -> Result<Vec<Order>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, order_id, state, currency, channel, new_customer, subtotal, discount_total, \
             tax_total, total, refunded, cost FROM redemptions \
             WHERE committed_at >= $1 AND committed_at < $2 AND state IN ('committed', 'reversed') \
             ORDER BY committed_at, id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(self.reader())
        .await?;
        let promos = sqlx::query(
            "SELECT p.redemption_id, p.promotion_id, p.campaign, p.amount \
             FROM redemption_promotions p JOIN redemptions r ON r.id = p.redemption_id \
             WHERE r.committed_at >= $1 AND r.committed_at < $2 AND r.state IN ('committed', 'reversed')",
        )
        .bind(from)
        .bind(to)
        .fetch_all(self.reader())
        .await?;
        let mut by_id: HashMap<String, Vec<(String, Option<String>, i64)>> = HashMap::new();
        for p in promos {
            by_id.entry(p.try_get("redemption_id")?).or_default().push((
                p.try_get("promotion_id")?,
                p.try_get("campaign")?,
                p.try_get("amount")?,
            ));
        }
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id")?;
                Ok(Order {
                    promotions: by_id.remove(&id).unwrap_or_default(),
                    id,
                    order_id: r.try_get("order_id")?,
                    reversed: r.try_get::<String, _>("state")? == "reversed",
                    currency: r.try_get("currency")?,
                    channel: r.try_get("channel")?,
                    new_customer: r.try_get::<i64, _>("new_customer")? == 1,
                    subtotal: r.try_get("subtotal")?,
                    discount_total: r.try_get("discount_total")?,
                    tax_total: r.try_get("tax_total")?,
                    total: r.try_get("total")?,
                    refunded: r.try_get("refunded")?,
                    cost: r.try_get("cost")?,
                })
            })
            .collect()
    }

    /// Reserve and redeem attempts logged in `[from, to)`.
    pub async fn attempts(&self, from: i64, to: i64) -> Result<Vec<AttemptRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT outcome, customer_id, email, ip, codes FROM events \
             WHERE at >= $1 AND at < $2 AND op IN ('reserve', 'redeem')",
        )
        .bind(from)
        .bind(to)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AttemptRow {
                    refused: r.try_get::<String, _>("outcome")? == "refused",
                    customer_id: r.try_get("customer_id")?,
                    email: r.try_get("email")?,
                    ip: r.try_get("ip")?,
                    codes: r
                        .try_get::<Option<String>, _>("codes")?
                        .map(|c| c.split(' ').map(str::to_string).collect())
                        .unwrap_or_default(),
                })
            })
            .collect()
    }

    /// The event log, oldest first, after event `after`, at most `limit` rows.
    pub async fn events(
        &self,
        from: i64,
        to: i64,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Value>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, at, op, outcome, reason, redemption_id, order_id, customer_id, email, ip, \
             channel, codes, promotions, bundle_version, client_discount, ledger_discount, total, detail \
             FROM events WHERE at >= $1 AND at < $2 AND id > $3 ORDER BY id LIMIT $4",
        )
        .bind(from)
        .bind(to)
        .bind(after)
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                let mut v = json!({
                    "id": r.try_get::<i64, _>("id")?,
                    "at": promoseal_evaluator::time::Instant(r.try_get::<i64, _>("at")?),
                    "op": r.try_get::<String, _>("op")?,
                    "outcome": r.try_get::<String, _>("outcome")?,
                });
                if let Some(o) = v.as_object_mut() {
                    for col in [
                        "reason",
                        "redemption_id",
                        "order_id",
                        "customer_id",
                        "email",
                        "ip",
                        "channel",
                    ] {
                        if let Some(s) = r.try_get::<Option<String>, _>(col)? {
                            o.insert(camel(col), json!(s));
                        }
                    }
                    for col in ["codes", "promotions"] {
                        if let Some(s) = r.try_get::<Option<String>, _>(col)? {
                            o.insert(camel(col), json!(s.split(' ').collect::<Vec<_>>()));
                        }
                    }
                    // Amounts in minor units of the bundle's currency.
                    for (col, name) in [
                        ("bundle_version", "bundleVersion"),
                        ("client_discount", "clientDiscountMinor"),
                        ("ledger_discount", "ledgerDiscountMinor"),
                        ("total", "totalMinor"),
                    ] {
                        if let Some(n) = r.try_get::<Option<i64>, _>(col)? {
                            o.insert(name.into(), json!(n));
                        }
                    }
                    if let Some(d) = r.try_get::<Option<String>, _>("detail")? {
                        o.insert(
                            "detail".into(),
                            serde_json::from_str(&d).unwrap_or(Value::String(d)),
                        );
                    }
                }
                Ok(v)
            })
            .collect()
    }
}

fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut up = false;
    for ch in snake.chars() {
        if ch == '_' {
            up = true;
        } else if up {
            out.extend(ch.to_uppercase());
            up = false;
        } else {
            out.push(ch);
        }
    }
    out
}
