//! Scoring bids with exact arithmetic.
//!
//! A quality criterion of weight w earns a bid w · (mean of the evaluators' scores) / 100,
//! each score being 0 to 100. The price criterion of weight w earns w · lowest / price: the
//! lowest valid price gets full marks, the others proportionally less. The total is the sum,
//! kept as a reduced fraction; nothing is rounded until it is shown.
//!
//! Ties: the higher total wins; equal totals go to the lower price; equal prices to the bid
//! whose final version was submitted first.

use std::cmp::Ordering;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub const RULE: &str = "Quality: weight × mean of the evaluators' scores (0–100) ÷ 100. \
Price: weight × lowest price ÷ this price. Total: the sum, computed exactly. \
Ties: higher total, then lower price, then the earlier final submission.";

/// A non-negative fraction in lowest terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ratio {
    pub num: i128,
    pub den: i128,
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.abs()
}

impl Ratio {
    pub fn new(num: i128, den: i128) -> Self {
        assert!(den != 0, "a ratio needs a denominator");
        let g = gcd(num, den).max(1);
        let sign = if den < 0 { -1 } else { 1 };
        Self {
            num: sign * num / g,
            den: sign * den / g,
        }
    }

    pub const ZERO: Ratio = Ratio { num: 0, den: 1 };

    pub fn plus(self, other: Ratio) -> Ratio {
        Ratio::new(
            self.num * other.den + other.num * self.den,
            self.den * other.den,
        )
    }

    /// Rounded half up to two decimal places, as text ("87.50").
    pub fn to_fixed2(self) -> String {
        let hundredths = (self.num * 200 + self.den) / (2 * self.den);
        format!("{}.{:02}", hundredths / 100, hundredths % 100)
    }

    pub fn exact(self) -> String {
        if self.den == 1 {
            self.num.to_string()
        } else {
            format!("{}/{}", self.num, self.den)
        }
    }
}

impl PartialOrd for Ratio {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ratio {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.num * other.den).cmp(&(other.num * self.den))
    }
}

pub struct Criterion {
    pub id: Uuid,
    pub weight: i32,
    pub price: bool,
}

pub struct Bid {
    pub id: Uuid,
    pub price_fen: i64,
    pub submitted_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Scored {
    pub bid_id: Uuid,
    pub price_points: Ratio,
    pub quality_points: Ratio,
    pub total: Ratio,
}

/// Scores every bid and returns them ranked, best first. `scores` maps (bid, criterion) to the
/// scores the evaluators gave it.
pub fn rank(
    criteria: &[Criterion],
    bids: &[Bid],
    scores: &HashMap<(Uuid, Uuid), Vec<i32>>,
) -> Vec<Scored> {
    let lowest = bids.iter().map(|b| b.price_fen).filter(|p| *p > 0).min();
    let mut out: Vec<(Scored, &Bid)> = bids
        .iter()
        .map(|b| {
            let mut price_points = Ratio::ZERO;
            let mut quality_points = Ratio::ZERO;
            for c in criteria {
                if c.price {
                    if let Some(low) = lowest
                        && b.price_fen > 0
                    {
                        price_points = price_points.plus(Ratio::new(
                            i128::from(c.weight) * i128::from(low),
                            i128::from(b.price_fen),
                        ));
                    }
                } else if let Some(given) = scores.get(&(b.id, c.id))
                    && !given.is_empty()
                {
                    let sum: i128 = given.iter().map(|s| i128::from(*s)).sum();
                    quality_points = quality_points.plus(Ratio::new(
                        i128::from(c.weight) * sum,
                        100 * given.len() as i128,
                    ));
                }
            }
            (
                Scored {
                    bid_id: b.id,
                    price_points,
                    quality_points,
                    total: price_points.plus(quality_points),
                },
                b,
            )
        })
        .collect();
    out.sort_by(|(a, ab), (b, bb)| {
        b.total
            .cmp(&a.total)
            .then(ab.price_fen.cmp(&bb.price_fen))
            .then(ab.submitted_at.cmp(&bb.submitted_at))
            .then(ab.id.cmp(&bb.id))
    });
    out.into_iter().map(|(s, _)| s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn setup() -> (Vec<Criterion>, Uuid, Uuid) {
        let price = Uuid::from_u128(1);
        let quality = Uuid::from_u128(2);
        (
            vec![
                Criterion {
                    id: price,
                    weight: 30,
                    price: true,
                },
                Criterion {
                    id: quality,
                    weight: 70,
                    price: false,
                },
            ],
            price,
            quality,
        )
    }

    #[test]
    fn lowest_price_gets_full_marks_and_others_proportionally() {
        let (criteria, _, quality) = setup();
        let a = Uuid::from_u128(10);
        let b = Uuid::from_u128(11);
        let bids = vec![
            Bid {
                id: a,
                price_fen: 300_000,
                submitted_at: t(0),
            },
            Bid {
                id: b,
                price_fen: 200_000,
                submitted_at: t(1),
            },
        ];
        let scores = HashMap::from([
            ((a, quality), vec![90, 80, 85]),
            ((b, quality), vec![60, 60, 61]),
        ]);
        let ranked = rank(&criteria, &bids, &scores);
        // a: 30·200000/300000 = 20, plus 70·255/300 = 59.5: 79.5. b: 30, plus 70·181/300.
        assert_eq!(ranked[0].bid_id, a);
        assert_eq!(ranked[0].total, Ratio::new(159, 2));
        assert_eq!(ranked[0].total.to_fixed2(), "79.50");
        assert_eq!(ranked[1].price_points, Ratio::new(30, 1));
        assert_eq!(ranked[1].total, Ratio::new(30 * 300 + 70 * 181, 300));
        assert_eq!(ranked[1].total.to_fixed2(), "72.23");
    }

    #[test]
    fn equal_totals_go_to_the_lower_price_then_the_earlier_bid() {
        let (criteria, _, quality) = setup();
        let (a, b, c) = (
            Uuid::from_u128(20),
            Uuid::from_u128(21),
            Uuid::from_u128(22),
        );
        // b and c ask the same price and get the same marks: equal totals; c was first.
        let bids = vec![
            Bid {
                id: a,
                price_fen: 200,
                submitted_at: t(5),
            },
            Bid {
                id: b,
                price_fen: 100,
                submitted_at: t(9),
            },
            Bid {
                id: c,
                price_fen: 100,
                submitted_at: t(3),
            },
        ];
        let scores = HashMap::from([
            ((a, quality), vec![60, 60, 60]),
            ((b, quality), vec![50, 50, 50]),
            ((c, quality), vec![50, 50, 50]),
        ]);
        let ranked = rank(&criteria, &bids, &scores);
        // a: 15 + 42 = 57; b and c: 30 + 35 = 65 each: c submitted first.
        assert_eq!(ranked[0].total, Ratio::new(65, 1));
        assert_eq!(ranked[1].total, Ratio::new(65, 1));
        assert_eq!(ranked[0].bid_id, c);
        assert_eq!(ranked[1].bid_id, b);
        assert_eq!(ranked[2].bid_id, a);
        assert_eq!(ranked[2].total, Ratio::new(57, 1));
    }

    #[test]
    fn an_exact_tie_on_total_is_broken_by_price() {
        let (criteria, _, quality) = setup();
        let (a, b) = (Uuid::from_u128(30), Uuid::from_u128(31));
        // Seven evaluators. a: 30 price points + 70·350/700 = 65. b asks 1.5 times as much:
        // 20 + 70·450/700 = 65. Exactly equal totals; the lower price wins although b came first.
        let bids = vec![
            Bid {
                id: a,
                price_fen: 100,
                submitted_at: t(8),
            },
            Bid {
                id: b,
                price_fen: 150,
                submitted_at: t(1),
            },
        ];
        let scores = HashMap::from([
            ((a, quality), vec![50; 7]),
            ((b, quality), vec![64, 64, 64, 64, 64, 64, 66]),
        ]);
        let ranked = rank(&criteria, &bids, &scores);
        assert_eq!(ranked[0].total, Ratio::new(65, 1));
        assert_eq!(ranked[1].total, Ratio::new(65, 1));
        assert_eq!(ranked[0].bid_id, a);
        assert_eq!(ranked[1].bid_id, b);
    }

    #[test]
    fn fractions_round_half_up_only_when_shown() {
        assert_eq!(Ratio::new(1, 3).to_fixed2(), "0.33");
        assert_eq!(Ratio::new(2, 3).to_fixed2(), "0.67");
        assert_eq!(Ratio::new(1, 200).to_fixed2(), "0.01");
        assert_eq!(Ratio::new(1, 201).to_fixed2(), "0.00");
        assert_eq!(Ratio::new(100, 1).to_fixed2(), "100.00");
        assert_eq!(Ratio::new(6, 4).exact(), "3/2");
        assert!(Ratio::new(2, 3) > Ratio::new(666, 1000));
        assert_eq!(Ratio::new(2, 3), Ratio::new(4, 6));
    }
}
