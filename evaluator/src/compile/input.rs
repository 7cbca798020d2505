//! An evaluation input compiled into the [`Input`] of one evaluation: money in the bundle's
//! currency and minor units, quantities, line ids, codes and grants within their limits (each
//! error names the JSON path of the offending field), and the lines' tie-break order.

use crate::error::{EvaluationError, FieldError, InputError};
use crate::model::EvaluationInput;
use crate::money::{Currency, DecimalString, Percent, MAX_MINOR};
use crate::time::Instant;

use super::{normalize_code, Item, MAX_CODES, MAX_CODE_LEN, MAX_LINES, MAX_QUANTITY};

/// Most shipments an input may have.
const MAX_SHIPMENTS: usize = 20;

/// A validated cart line.
#[derive(Debug)]
pub(crate) struct Line<'a> {
    pub id: &'a str,
    /// What selectors match: the line's sku, product, categories, brand, tags, sale and stock.
    pub item: Item<'a>,
    pub unit_price: i64,
    pub quantity: u64,
    /// `unit_price × quantity`, in the price basis (gross when prices include tax).
    pub amount: i64,
    pub tax_rate: Percent,
    pub unit_cost: Option<i64>,
    /// `floorUnitPrice × quantity`: the line's own floor (0 without one).
    pub own_floor: i64,
}

impl Line<'_> {
    pub fn out_of_stock(&self) -> bool {
        self.item.out_of_stock()
    }
}

#[derive(Debug)]
pub(crate) struct Shipping<'a> {
    /// The shipment's id (`context.shipments`); absent for `context.shipping`.
    pub id: Option<&'a str>,
    pub method: &'a str,
    pub amount: i64,
    pub country: Option<&'a str>,
    pub tax_rate: Percent,
}

/// A validated evaluation input.
#[derive(Debug)]
pub(crate) struct Input<'a> {
    pub lines: Vec<Line<'a>>,
    /// Line indices sorted by line id: the deterministic tie-break order.
    pub by_id: Vec<u16>,
    pub customer: &'a crate::model::CustomerSpec,
    pub now: Instant,
    pub channel: Option<&'a str>,
    /// The shipments: the one of `context.shipping` (without an id), or those of
    /// `context.shipments`. Their amounts follow the lines' in every amount vector.
    pub shipments: Vec<Shipping<'a>>,
    /// The input gave `shipments` (answered as `shipments`, not `shipping`).
    pub several: bool,
    /// Normalized entered codes.
    pub codes: Vec<String>,
    pub grants: &'a [String],
    pub subject: Option<&'a str>,
}

/// The customer of an input that names none.
static NO_CUSTOMER: crate::model::CustomerSpec = crate::model::CustomerSpec {
    id: None,
    email: None,
    tier: None,
    segments: Vec::new(),
    orders_count: None,
    region: None,
};

fn input_invalid(path: impl Into<String>, message: impl Into<String>) -> crate::Error {
    InputError::Invalid(FieldError::new(path, message)).into()
}

/// Parses an evaluation input strictly from JSON bytes.
pub fn parse_input(bytes: &[u8]) -> Result<EvaluationInput, InputError> {
    crate::error::parse_json(bytes).map_err(InputError::Parse)
}

/// Validates an input against the bundle's currency.
pub(crate) fn compile_input(
    spec: &EvaluationInput,
    currency: Currency,
) -> Result<Input<'_>, crate::Error> {
    let cart_currency = Currency::from_code(&spec.cart.currency).ok_or_else(|| {
        input_invalid(
            "cart.currency",
            format!("unknown currency `{}`", spec.cart.currency),
        )
    })?;
    if spec.cart.lines.len() > MAX_LINES {
        return Err(input_invalid(
            "cart.lines",
            format!(
                "{} lines is more than the {MAX_LINES} a cart may have",
                spec.cart.lines.len()
            ),
        ));
    }
    let mut lines = Vec::with_capacity(spec.cart.lines.len());
    let mut subtotal: i64 = 0;
    for (i, l) in spec.cart.lines.iter().enumerate() {
        let path = || format!("cart.lines[{i}]");
        if l.id.is_empty() {
            return Err(input_invalid(format!("{}.id", path()), "must not be empty"));
        }
        if l.quantity == 0 || l.quantity > MAX_QUANTITY {
            return Err(input_invalid(
                format!("{}.quantity", path()),
                format!("`{}` is not between 1 and {MAX_QUANTITY}", l.quantity),
            ));
        }
        let unit_price = cart_currency
            .to_minor(&l.unit_price, &|| format!("{}.unitPrice", path()))
            .map_err(InputError::Invalid)?;
        let amount = i64::try_from(l.quantity)
            .ok()
            .and_then(|q| unit_price.checked_mul(q))
            .filter(|a| *a <= MAX_MINOR)
            .ok_or_else(|| input_invalid(path(), "unit price times quantity is too large"))?;
        subtotal = subtotal
            .checked_add(amount)
            .filter(|s| *s <= MAX_MINOR)
            .ok_or_else(|| input_invalid("cart.lines", "the cart subtotal is too large"))?;
        let tax_rate = match &l.tax_rate {
            None => Percent::ZERO,
            Some(r) => Percent::from_decimal(r, &|| format!("{}.taxRate", path()))
                .map_err(InputError::Invalid)?,
        };
        let unit_cost = l
            .unit_cost
            .as_ref()
            .map(|c| cart_currency.to_minor(c, &|| format!("{}.unitCost", path())))
            .transpose()
            .map_err(InputError::Invalid)?;
        let own_floor = match &l.floor_unit_price {
            None => 0,
            Some(f) => cart_currency
                .to_minor(f, &|| format!("{}.floorUnitPrice", path()))
                .map_err(InputError::Invalid)?
                .saturating_mul(i64::try_from(l.quantity).unwrap_or(i64::MAX)),
        };
        lines.push(Line {
            id: &l.id,
            item: Item::from(l),
            unit_price,
            quantity: l.quantity,
            amount,
            tax_rate,
            unit_cost,
            own_floor,
        });
    }
    let mut by_id: Vec<u16> = (0..lines.len())
        .filter_map(|i| u16::try_from(i).ok())
        .collect();
    by_id.sort_by(|&a, &b| {
        let ia = lines.get(usize::from(a)).map(|l| l.id);
        let ib = lines.get(usize::from(b)).map(|l| l.id);
        ia.cmp(&ib)
    });
    for w in by_id.windows(2) {
        if let [a, b] = w {
            let (la, lb) = (lines.get(usize::from(*a)), lines.get(usize::from(*b)));
            if let (Some(la), Some(lb)) = (la, lb) {
                if la.id == lb.id {
                    return Err(input_invalid(
                        format!("cart.lines[{}].id", a.max(b)),
                        format!("duplicate line id `{}`", la.id),
                    ));
                }
            }
        }
    }
    let ctx = &spec.context;
    if ctx.shipping.is_some() && !ctx.shipments.is_empty() {
        return Err(input_invalid(
            "context.shipments",
            "give `shipping` or `shipments`, not both",
        ));
    }
    if ctx.shipments.len() > MAX_SHIPMENTS {
        return Err(input_invalid(
            "context.shipments",
            format!("more than {MAX_SHIPMENTS} shipments"),
        ));
    }
    let mut shipments = Vec::with_capacity(ctx.shipments.len().max(1));
    if let Some(s) = &ctx.shipping {
        shipments.push(shipment(
            cart_currency,
            None,
            &s.method,
            &s.amount,
            s.country.as_deref(),
            s.tax_rate.as_ref(),
            &|| "context.shipping".into(),
        )?);
    }
    for (k, s) in ctx.shipments.iter().enumerate() {
        let path = || format!("context.shipments[{k}]");
        if s.id.is_empty() {
            return Err(input_invalid(format!("{}.id", path()), "must not be empty"));
        }
        if ctx.shipments.iter().take(k).any(|t| t.id == s.id) {
            return Err(input_invalid(
                format!("{}.id", path()),
                format!("duplicate shipment id `{}`", s.id),
            ));
        }
        shipments.push(shipment(
            cart_currency,
            Some(&s.id),
            &s.method,
            &s.amount,
            s.country.as_deref(),
            s.tax_rate.as_ref(),
            &path,
        )?);
    }
    if spec.context.codes.len() > MAX_CODES {
        return Err(input_invalid(
            "context.codes",
            format!("more than {MAX_CODES} codes"),
        ));
    }
    if spec.context.grants.len() > MAX_CODES {
        return Err(input_invalid(
            "context.grants",
            format!("more than {MAX_CODES} grants"),
        ));
    }
    let mut codes = Vec::with_capacity(spec.context.codes.len());
    for (i, c) in spec.context.codes.iter().enumerate() {
        let n = normalize_code(c);
        if n.is_empty() || n.len() > MAX_CODE_LEN {
            return Err(input_invalid(
                format!("context.codes[{i}]"),
                format!("a code must have 1 to {MAX_CODE_LEN} bytes"),
            ));
        }
        codes.push(n);
    }
    if cart_currency != currency {
        return Err(EvaluationError::CurrencyMismatch {
            cart: cart_currency.code().to_string(),
            bundle: currency.code().to_string(),
        }
        .into());
    }
    Ok(Input {
        lines,
        by_id,
        customer: spec.customer.as_ref().unwrap_or(&NO_CUSTOMER),
        now: spec.context.now,
        channel: spec.context.channel.as_deref(),
        several: !spec.context.shipments.is_empty(),
        shipments,
        codes,
        grants: &spec.context.grants,
        subject: spec.context.subject.as_deref(),
    })
}

/// One shipment, its amount and rate checked (`path` names it in errors).
fn shipment<'a>(
    currency: Currency,
    id: Option<&'a str>,
    method: &'a str,
    amount: &DecimalString,
    country: Option<&'a str>,
    rate: Option<&DecimalString>,
    path: &dyn Fn() -> String,
) -> Result<Shipping<'a>, InputError> {
    Ok(Shipping {
        id,
        method,
        amount: currency
            .to_minor(amount, &|| format!("{}.amount", path()))
            .map_err(InputError::Invalid)?,
        country,
        tax_rate: match rate {
            None => Percent::ZERO,
            Some(r) => Percent::from_decimal(r, &|| format!("{}.taxRate", path()))
                .map_err(InputError::Invalid)?,
        },
    })
}
