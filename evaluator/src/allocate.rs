//! Spreading one amount over several lines so the parts sum exactly, by the declared method.

use crate::model::Allocation;
use crate::money::{div_round, Rounding};

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
    let n = weights.len();
    if n == 0 || total < 0 || weights.iter().any(|w| *w < 0) {
        return if total == 0 { Some(vec![0; n]) } else { None };
    }
    let sum: i128 = weights.iter().map(|w| i128::from(*w)).sum();
    let equal = sum == 0;
    let w = |k: usize| -> i128 {
        if equal {
            1
        } else {
            weights.get(k).map_or(0, |w| i128::from(*w))
        }
    };
    let sum = if equal { i128::try_from(n).ok()? } else { sum };
    let t = i128::from(total);
    let mut shares = Vec::with_capacity(n);
    let mut remainders = Vec::with_capacity(n);
    for k in 0..n {
        let num = t.checked_mul(w(k))?;
        shares.push(num / sum);
        remainders.push(num % sum);
    }
    let given: i128 = shares.iter().sum();
    let left = usize::try_from(t - given).ok()?;
    match method {
        Allocation::LargestRemainder => {
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &b| {
                remainders
                    .get(b)
                    .cmp(&remainders.get(a))
                    .then_with(|| ranks.get(a).cmp(&ranks.get(b)))
            });
            for k in order.into_iter().take(left) {
                *shares.get_mut(k)? += 1;
            }
        }
        Allocation::RemainderToFirst => {
            // `left` < n, so each of the first `left` participants takes one unit.
            for s in shares.iter_mut().take(left) {
                *s += 1;
            }
        }
        Allocation::RemainderToLast => {
            *shares.last_mut()? += i128::try_from(left).ok()?;
        }
        Allocation::CarryForward => {
            let mut cumulative: i128 = 0;
            let mut previous: i128 = 0;
            for (k, share) in shares.iter_mut().enumerate() {
                cumulative += w(k);
                let rounded = div_round(t.checked_mul(cumulative)?, sum, rounding)?;
                *share = rounded - previous;
                previous = rounded;
            }
        }
    }
    shares.into_iter().map(|s| i64::try_from(s).ok()).collect()
}

/// Clamps each share to its cap and spreads the excess over the others in proportion to their
/// room left, repeating until nothing exceeds a cap or nothing has room.
pub(crate) fn clamp_and_respread(
    shares: &mut [i64],
    caps: &[i64],
    ranks: &[u32],
    method: Allocation,
    rounding: Rounding,
) -> Option<()> {
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
        let extra = allocate(excess.min(room_total), &room, ranks, method, rounding)?;
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
    }

    #[test]
    fn caps_respread_the_excess() {
        let ranks = [0, 1, 2];
        let mut s = vec![300, 300, 300];
        clamp_and_respread(
            &mut s,
            &[100, 1000, 1000],
            &ranks,
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
