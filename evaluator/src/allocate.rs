//! Spreading one amount over several lines so the parts sum exactly, by the declared method.

use crate::model::Allocation;
use crate::money::{div_round, Rounding};

/// One participant of an allocation: its weight and tie-break rank in, its share out.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Slot {
    pub weight: i64,
    pub rank: u32,
    pub share: i64,
    remainder: i128,
}

impl Slot {
    pub fn new(weight: i64, rank: u32) -> Slot {
        Slot {
            weight,
            rank,
            share: 0,
            remainder: 0,
        }
    }
}

/// Splits `total` (≥ 0) over participants in proportion to `weights` (≥ 0); the parts sum to
/// `total` exactly. `ranks` orders ties (lower first): the line-id order, so the answer does not
/// depend on cart order where the method does not. All zero weights count as equal weights.
pub(crate) fn allocate(
    total: i64,
    weights: &[i64],
    ranks: &[u32],
    method: Allocation,
    rounding: Rounding,
) -> Option<Vec<i64>> {
    let mut slots: Vec<Slot> = weights
        .iter()
        .enumerate()
        .map(|(k, w)| Slot::new(*w, ranks.get(k).copied().unwrap_or(u32::MAX)))
        .collect();
    allocate_slots(total, &mut slots, method, rounding)?;
    Some(slots.iter().map(|s| s.share).collect())
}

/// [`allocate`] in place: reads each slot's weight and rank, writes its share.
pub(crate) fn allocate_slots(
    total: i64,
    slots: &mut [Slot],
    method: Allocation,
    rounding: Rounding,
) -> Option<()> {
    let n = slots.len();
    if n == 0 || total < 0 || slots.iter().any(|s| s.weight < 0) {
        return (total == 0).then_some(());
    }
    let sum: i128 = slots.iter().map(|s| i128::from(s.weight)).sum();
    let equal = sum == 0;
    let weight = |s: &Slot| -> i128 {
        if equal {
            1
        } else {
            i128::from(s.weight)
        }
    };
    let sum = if equal { i128::try_from(n).ok()? } else { sum };
    let t = i128::from(total);
    let mut given: i128 = 0;
    for s in slots.iter_mut() {
        let (q, r) = div_rem(t.checked_mul(weight(s))?, sum);
        s.share = i64::try_from(q).ok()?;
        s.remainder = r;
        given += q;
    }
    let left = usize::try_from(t - given).ok()?;
    match method {
        Allocation::LargestRemainder => {
            // One unit each to the `left` largest remainders, ties to the lower rank.
            let key = |s: &Slot| (s.remainder, std::cmp::Reverse(s.rank));
            if left * 4 <= n || n <= 16 || n > usize::from(u16::MAX) {
                for _ in 0..left {
                    let best = slots
                        .iter_mut()
                        .filter(|s| s.remainder >= 0)
                        .max_by_key(|s| key(s))?;
                    best.share += 1;
                    best.remainder = -1;
                }
            } else {
                // Plain integers: the order above packed as (remainder, inverted rank,
                // index), complemented so that ascending is largest first. A remainder
                // is below the sum of the weights, so under 2^79 for fewer than 2^16 slots.
                let mut order = Vec::with_capacity(n);
                for (k, s) in slots.iter().enumerate() {
                    let r = u128::try_from(s.remainder).ok()?;
                    let packed = (r << 48) | (u128::from(u32::MAX - s.rank) << 16) | k as u128;
                    order.push(!packed);
                }
                // Only which `left` come first matters, not their order among themselves:
                // one selection, not a sort.
                if let Some(last) = left.checked_sub(1).filter(|&l| l < order.len()) {
                    order.select_nth_unstable(last);
                }
                for packed in order.iter().take(left) {
                    slots.get_mut((!packed & 0xFFFF) as usize)?.share += 1;
                }
            }
        }
        Allocation::RemainderToFirst => {
            // `left` < n, so each of the first `left` participants takes one unit.
            for s in slots.iter_mut().take(left) {
                s.share += 1;
            }
        }
        Allocation::RemainderToLast => {
            slots.last_mut()?.share += i64::try_from(left).ok()?;
        }
        Allocation::RoundedToFirst | Allocation::RoundedToLast => {
            // Every share rounded on its own. `roundedToFirst` gives the difference to the
            // total, or takes it back, one minor unit a line from the first line in cart order
            // (each share is within one unit of exact, so one pass nearly always settles it);
            // `roundedToLast` puts it all on the last line. No share goes below zero: a line
            // with nothing to give back is passed over.
            let mut rounded: i128 = 0;
            for s in slots.iter_mut() {
                let share = div_round(t.checked_mul(weight(s))?, sum, rounding)?;
                s.share = i64::try_from(share).ok()?;
                rounded += share;
            }
            let mut diff = i64::try_from(t - rounded).ok()?;
            let first = method == Allocation::RoundedToFirst;
            while diff != 0 {
                let before = diff;
                for j in 0..n {
                    if diff == 0 {
                        break;
                    }
                    let s = slots.get_mut(if first { j } else { n - 1 - j })?;
                    let change = if first {
                        diff.signum().max(-s.share)
                    } else {
                        diff.max(-s.share)
                    };
                    s.share += change;
                    diff -= change;
                }
                if diff == before {
                    return None;
                }
            }
        }
        Allocation::CarryForward => {
            let mut cumulative: i128 = 0;
            let mut previous: i128 = 0;
            for s in slots.iter_mut() {
                cumulative += weight(s);
                let rounded = div_round(t.checked_mul(cumulative)?, sum, rounding)?;
                s.share = i64::try_from(rounded - previous).ok()?;
                previous = rounded;
            }
        }
    }
    Some(())
}

/// Quotient and remainder of non-negative operands, in 64 bits when they fit (much cheaper).
fn div_rem(num: i128, den: i128) -> (i128, i128) {
    match (u64::try_from(num), u64::try_from(den)) {
        (Ok(n), Ok(d)) if d > 0 => (i128::from(n / d), i128::from(n % d)),
        _ => (num / den, num % den),
    }
}

/// Clamps each share to its cap and spreads the excess over the others with room left: in
/// proportion to that room, or to `weights` (the lines' original amounts) when given, repeating
/// until nothing exceeds a cap or nothing has room. `spread: false` only clamps.
pub(crate) fn clamp_and_respread(
    shares: &mut [i64],
    caps: &[i64],
    ranks: &[u32],
    weights: Option<&[i64]>,
    spread: bool,
    method: Allocation,
    rounding: Rounding,
) -> Option<()> {
    if !spread {
        for (s, c) in shares.iter_mut().zip(caps) {
            *s = (*s).min((*c).max(0));
        }
        return Some(());
    }
    for _ in 0..=shares.len() {
        let mut excess: i64 = 0;
        for (s, c) in shares.iter_mut().zip(caps) {
            let c = (*c).max(0);
            if *s > c {
                excess = excess.checked_add(*s - c)?;
                *s = c;
            }
        }
        if excess == 0 {
            return Some(());
        }
        let room: Vec<i64> = shares
            .iter()
            .zip(caps)
            .map(|(s, c)| ((*c).max(0) - s).max(0))
            .collect();
        let room_total = room.iter().try_fold(0_i64, |a, r| a.checked_add(*r))?;
        if room_total == 0 {
            return Some(());
        }
        let by: Vec<i64> = match weights {
            None => room,
            // Only the lines with room take part; a share above a line's room comes back as
            // excess on the next round.
            Some(w) => room
                .iter()
                .zip(w)
                .map(|(r, w)| if *r > 0 { (*w).max(1) } else { 0 })
                .collect(),
        };
        let extra = allocate(excess.min(room_total), &by, ranks, method, rounding)?;
        for (s, e) in shares.iter_mut().zip(extra) {
            *s = s.checked_add(e)?;
        }
    }
    // A last clamp: parts never exceed their caps, even if spreading did not settle.
    for (s, c) in shares.iter_mut().zip(caps) {
        *s = (*s).min((*c).max(0));
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Allocation::*;

    fn run(total: i64, w: &[i64], m: Allocation) -> Vec<i64> {
        let ranks: Vec<u32> = (0..w.len() as u32).collect();
        allocate(total, w, &ranks, m, Rounding::HalfUp).unwrap()
    }

    /// The largest remainders, by a plain sort of `(remainder, reverse rank)`: what both the
    /// repeated maximum (few units left) and the packed integer sort (many) must give.
    #[test]
    fn largest_remainders_by_either_path() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m
        };
        for case in 0..2_000 {
            let n = 2 + next(80) as usize;
            let w: Vec<i64> = (0..n)
                .map(|_| {
                    if next(5) == 0 {
                        0
                    } else {
                        next(1 << (1 + case % 62)) as i64
                    }
                })
                .collect();
            // Ranks a permutation, so ties of remainder are broken by something other than index.
            let mut ranks: Vec<u32> = (0..n as u32).collect();
            for i in (1..n).rev() {
                ranks.swap(i, next(i as u64 + 1) as usize);
            }
            let total = next(1 << 40) as i64;
            let got = allocate(total, &w, &ranks, LargestRemainder, Rounding::HalfUp).unwrap();
            let sum: i128 = w.iter().map(|&x| i128::from(x)).sum();
            let weight = |i: usize| if sum == 0 { 1 } else { i128::from(w[i]) };
            let sum = if sum == 0 { n as i128 } else { sum };
            let mut want: Vec<i64> = (0..n)
                .map(|i| (i128::from(total) * weight(i) / sum) as i64)
                .collect();
            let left = total - want.iter().sum::<i64>();
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by_key(|&i| {
                std::cmp::Reverse((
                    i128::from(total) * weight(i) % sum,
                    std::cmp::Reverse(ranks[i]),
                ))
            });
            for &i in order.iter().take(left as usize) {
                want[i] += 1;
            }
            assert_eq!(got, want, "case {case}: {w:?} {ranks:?} {total}");
        }
    }

    #[test]
    fn methods_differ_where_engines_differ() {
        // 10.00 over three equal lines.
        assert_eq!(run(1000, &[1, 1, 1], LargestRemainder), vec![334, 333, 333]);
        assert_eq!(run(1000, &[1, 1, 1], RemainderToFirst), vec![334, 333, 333]);
        assert_eq!(run(1000, &[1, 1, 1], RemainderToLast), vec![333, 333, 334]);
        assert_eq!(run(1000, &[1, 1, 1], CarryForward), vec![333, 334, 333]);
        // 0.05 over 1 / 1 / 2: exact shares 1.25, 1.25, 2.5.
        assert_eq!(run(5, &[1, 1, 2], LargestRemainder), vec![1, 1, 3]);
        assert_eq!(run(5, &[1, 1, 2], RemainderToFirst), vec![2, 1, 2]);
        assert_eq!(run(5, &[1, 1, 2], CarryForward), vec![1, 2, 2]);
        // Rounded shares: 1.25 → 1, 1.25 → 1, 2.5 → 3 (half up) sum to 5 already.
        assert_eq!(run(5, &[1, 1, 2], RoundedToFirst), vec![1, 1, 3]);
        // 3.333… → 3 each: the first or the last line takes the missing cent.
        assert_eq!(run(1000, &[1, 1, 1], RoundedToFirst), vec![334, 333, 333]);
        assert_eq!(run(1000, &[1, 1, 1], RoundedToLast), vec![333, 333, 334]);
        // 0.666… → 1 each is one cent too many, taken back from the last line.
        assert_eq!(run(2, &[1, 1, 1], RoundedToLast), vec![1, 1, 0]);
        assert_eq!(run(2, &[1, 1, 1], RoundedToFirst), vec![0, 1, 1]);
    }

    #[test]
    fn rounded_shares_never_go_negative() {
        // 2 over 1 / 1 / 1 / 0: 0.67 → 1 three times, 0 for the last; one too many, and the
        // last line has nothing to give back, so the line before it does.
        assert_eq!(run(2, &[1, 1, 1, 0], RoundedToLast), vec![1, 1, 0, 0]);
        // Half down, 0.05 over six equal lines: 0.83… → 1 each is one too many; then 0.04:
        // 0.67 → 1 each, two too many, taken back one each from the first two lines.
        let ranks: Vec<u32> = (0..6).collect();
        let half_down =
            |total| allocate(total, &[1; 6], &ranks, RoundedToFirst, Rounding::HalfDown);
        assert_eq!(half_down(5), Some(vec![0, 1, 1, 1, 1, 1]));
        assert_eq!(half_down(4), Some(vec![0, 0, 1, 1, 1, 1]));
        // 0.02 over three equal lines, rounded down: 0 each, two missing, one each to the
        // first two lines; all on the last with `roundedToLast`.
        let down = |m| allocate(2, &[1, 1, 1], &ranks[..3], m, Rounding::Down);
        assert_eq!(down(RoundedToFirst), Some(vec![1, 1, 0]));
        assert_eq!(down(RoundedToLast), Some(vec![0, 0, 2]));
        for total in 0..40 {
            for m in [RoundedToFirst, RoundedToLast] {
                let parts = run(total, &[3, 0, 5, 1, 1, 7], m);
                assert_eq!(parts.iter().sum::<i64>(), total);
                assert!(parts.iter().all(|p| *p >= 0));
            }
        }
    }

    #[test]
    fn caps_respread_the_excess() {
        let ranks = [0, 1, 2];
        let mut s = vec![300, 300, 300];
        clamp_and_respread(
            &mut s,
            &[100, 1000, 1000],
            &ranks,
            None,
            true,
            LargestRemainder,
            Rounding::HalfUp,
        )
        .unwrap();
        assert_eq!(s, vec![100, 400, 400]);
        let mut s = vec![300, 300, 300];
        clamp_and_respread(
            &mut s,
            &[100, 100, 100],
            &ranks,
            None,
            true,
            LargestRemainder,
            Rounding::HalfUp,
        )
        .unwrap();
        assert_eq!(s, vec![100, 100, 100]);
    }

    #[test]
    fn zero_weights_share_equally() {
        assert_eq!(run(10, &[0, 0], LargestRemainder), vec![5, 5]);
    }
}
