//! What a poll's figures show outside the count (issue 32). A secret vote counted by floor
//! area must not let anyone who knows the register's areas work out an owner's choice from the
//! published totals: its areas are published rounded to 1% of the electorate's area (at least
//! 1 m²), while the decision is taken, and stored, on the exact figures. Open votes and votes
//! counted by headcount are published exactly.

use super::counting::{Outcome, Weight};
use crate::entities::poll;

/// The rounding step, in hundredths of a square metre, of `p`'s published areas; `None` when
/// they are published exactly.
pub fn area_precision(p: &poll::Model) -> Option<u64> {
    if !p.secret || p.electorate_area <= 0 {
        return None;
    }
    Some(((p.electorate_area as u64) / 100).max(100))
}

fn round(area: u64, step: u64) -> u64 {
    (area + step / 2) / step * step
}

/// A weight as `p` publishes it.
pub fn published_weight(p: &poll::Model, w: Weight) -> Weight {
    match area_precision(p) {
        Some(step) => Weight {
            headcount: w.headcount,
            area_centi: round(w.area_centi, step),
        },
        None => w,
    }
}

/// An outcome as `p` publishes it: option, participation and cast areas rounded for a secret
/// vote counted by area; the checks (quorum, thresholds) and the decision stay as counted.
pub fn published(p: &poll::Model, outcome: &Outcome) -> Outcome {
    let Some(step) = area_precision(p) else {
        return outcome.clone();
    };
    let mut shown = outcome.clone();
    shown.participants.area_centi = round(shown.participants.area_centi, step);
    shown.cast.area_centi = round(shown.cast.area_centi, step);
    for o in &mut shown.options {
        o.area_centi = round(o.area_centi, step);
    }
    shown.area_precision_centi = Some(step);
    shown
}

/// The stored result of `p`, as published.
pub fn published_result(p: &poll::Model) -> Option<Outcome> {
    p.result
        .as_deref()
        .and_then(|r| serde_json::from_str::<Outcome>(r).ok())
        .map(|o| published(p, &o))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_goes_to_the_nearest_step() {
        assert_eq!(round(0, 100), 0);
        assert_eq!(round(49, 100), 0);
        assert_eq!(round(50, 100), 100);
        assert_eq!(round(512_345, 10_000), 510_000);
        assert_eq!(round(515_000, 10_000), 520_000);
    }
}
