//! Counting: quorum and thresholds as data, evaluated with exact integer arithmetic.
//!
//! Every comparison is `count / base ⋛ num / den`, decided as `count·den ⋛ num·base` on
//! 128-bit integers, so no boundary (exactly 2/3, exactly 3/4, a tie) is ever rounded.

use std::collections::{BTreeMap, HashSet};

use poem_openapi::{Enum, Object};
use serde::{Deserialize, Serialize};

/// A fraction with its comparison: `strict` means "more than" (过半数), otherwise "at least"
/// (以上).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Fraction {
    pub num: u32,
    pub den: u32,
    pub strict: bool,
}

impl Fraction {
    pub const fn more_than(num: u32, den: u32) -> Self {
        Self {
            num,
            den,
            strict: true,
        }
    }

    pub const fn at_least(num: u32, den: u32) -> Self {
        Self {
            num,
            den,
            strict: false,
        }
    }

    pub fn is_valid(&self) -> bool {
        self.den > 0 && self.num <= self.den
    }

    /// True when `count / base` meets the fraction. Nothing meets a fraction of nothing.
    pub fn met_by(&self, count: u64, base: u64) -> bool {
        if base == 0 {
            return false;
        }
        let lhs = u128::from(count) * u128::from(self.den);
        let rhs = u128::from(self.num) * u128::from(base);
        if self.strict { lhs > rhs } else { lhs >= rhs }
    }
}

/// What a threshold is a fraction of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Enum)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Base {
    /// Ballots that chose something (abstentions left out).
    Cast,
    /// Everyone who took part, abstentions included.
    Participants,
    /// The whole electorate.
    Electorate,
}

/// Which counts a threshold or quorum looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Enum)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    Headcount,
    Area,
    /// Both headcount and area must pass (the owners' double majority).
    Both,
}

/// A counting rule: quorum on participation and a threshold for approval.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Rule {
    /// Participation needed, as a fraction of the electorate's headcount.
    pub quorum_headcount: Option<Fraction>,
    /// Participation needed, as a fraction of the electorate's floor area.
    pub quorum_area: Option<Fraction>,
    pub threshold: Fraction,
    pub base: Base,
    pub measure: Measure,
}

/// Named rules from the law (see DOMAIN.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Enum)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// 居民会议: more than half of those entitled present; more than half of those present.
    ResidentsMeeting,
    /// Owners' ordinary matter: 2/3 participation by both; more than 1/2 of participants by both.
    OwnersOrdinary,
    /// Owners' major matter: 2/3 participation by both; at least 3/4 of participants by both.
    OwnersMajor,
    /// More than half of the ballots cast, no quorum.
    SimpleMajority,
}

impl Preset {
    pub fn rule(self) -> Rule {
        match self {
            Preset::ResidentsMeeting => Rule {
                quorum_headcount: Some(Fraction::more_than(1, 2)),
                quorum_area: None,
                threshold: Fraction::more_than(1, 2),
                base: Base::Participants,
                measure: Measure::Headcount,
            },
            Preset::OwnersOrdinary => Rule {
                quorum_headcount: Some(Fraction::at_least(2, 3)),
                quorum_area: Some(Fraction::at_least(2, 3)),
                threshold: Fraction::more_than(1, 2),
                base: Base::Participants,
                measure: Measure::Both,
            },
            Preset::OwnersMajor => Rule {
                quorum_headcount: Some(Fraction::at_least(2, 3)),
                quorum_area: Some(Fraction::at_least(2, 3)),
                threshold: Fraction::at_least(3, 4),
                base: Base::Participants,
                measure: Measure::Both,
            },
            Preset::SimpleMajority => Rule {
                quorum_headcount: None,
                quorum_area: None,
                threshold: Fraction::more_than(1, 2),
                base: Base::Cast,
                measure: Measure::Headcount,
            },
        }
    }
}

/// What kind of question a poll asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Enum)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum PollKind {
    /// Yes, no or abstain.
    YesNo,
    /// One of several options.
    Single,
    /// Up to `max_choices` of several options.
    Multiple,
    /// Options in order of preference, counted by instant runoff.
    Ranked,
}

impl PollKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PollKind::YesNo => "yes_no",
            PollKind::Single => "single",
            PollKind::Multiple => "multiple",
            PollKind::Ranked => "ranked",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "single" => PollKind::Single,
            "multiple" => PollKind::Multiple,
            "ranked" => PollKind::Ranked,
            _ => PollKind::YesNo,
        }
    }
}

/// Headcount and floor area (hundredths of a square metre) together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Weight {
    pub headcount: u64,
    pub area_centi: u64,
}

impl Weight {
    fn add(&mut self, area: u64) {
        self.headcount += 1;
        self.area_centi += area;
    }
}

/// One counted ballot: the option ids chosen (in order of preference for ranked polls; empty
/// for an abstention) and the voting entity's area.
#[derive(Clone, Debug)]
pub struct CountedBallot {
    pub choices: Vec<String>,
    pub area_centi: u64,
}

/// The options of a poll, in their order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PollOption {
    pub id: String,
    pub label: String,
}

/// The yes/no/abstain options every yes/no poll has.
pub fn yes_no_options() -> Vec<PollOption> {
    ["yes", "no", "abstain"]
        .into_iter()
        .map(|id| PollOption {
            id: id.into(),
            label: id.into(),
        })
        .collect()
}

/// Whether a quorum or threshold was met, on each measure it looks at.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Check {
    pub by_headcount: Option<bool>,
    pub by_area: Option<bool>,
    pub met: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct OptionCount {
    pub id: String,
    pub label: String,
    pub headcount: u64,
    pub area_centi: u64,
    /// Whether this option reaches the threshold (for ranked polls, in the final round).
    pub threshold: Check,
}

/// One instant-runoff round: first preferences among continuing options.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Round {
    pub counts: Vec<RoundCount>,
    /// Ballots still expressing a preference among the continuing options.
    pub continuing: u64,
    pub eliminated: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct RoundCount {
    pub id: String,
    pub headcount: u64,
}

/// The outcome of counting, as stored and published.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Outcome {
    pub electorate: Weight,
    /// Everyone who took part, abstentions included.
    pub participants: Weight,
    /// Ballots that chose something.
    pub cast: Weight,
    pub quorum: Check,
    pub options: Vec<OptionCount>,
    pub rounds: Vec<Round>,
    pub winners: Vec<String>,
    pub passed: bool,
    /// Areas in this answer are rounded to this many hundredths of a square metre (a secret
    /// vote counted by area publishes no finer figures; the decision used the exact ones).
    /// Absent: exact.
    #[serde(default)]
    pub area_precision_centi: Option<u64>,
}

fn check(measure: Measure, f: Fraction, count: Weight, base: Weight) -> Check {
    let by_headcount = matches!(measure, Measure::Headcount | Measure::Both)
        .then(|| f.met_by(count.headcount, base.headcount));
    let by_area = matches!(measure, Measure::Area | Measure::Both)
        .then(|| f.met_by(count.area_centi, base.area_centi));
    Check {
        met: by_headcount.unwrap_or(true) && by_area.unwrap_or(true),
        by_headcount,
        by_area,
    }
}

fn quorum(rule: &Rule, participants: Weight, electorate: Weight) -> Check {
    let by_headcount = rule
        .quorum_headcount
        .map(|f| f.met_by(participants.headcount, electorate.headcount));
    let by_area = rule
        .quorum_area
        .map(|f| f.met_by(participants.area_centi, electorate.area_centi));
    Check {
        met: by_headcount.unwrap_or(true) && by_area.unwrap_or(true),
        by_headcount,
        by_area,
    }
}

/// Counts a closed poll's ballots under its rule.
pub fn count(
    kind: PollKind,
    max_choices: usize,
    options: &[PollOption],
    rule: &Rule,
    electorate: Weight,
    ballots: &[CountedBallot],
) -> Outcome {
    let mut participants = Weight::default();
    let mut cast = Weight::default();
    let mut per_option: BTreeMap<&str, Weight> = BTreeMap::new();
    for b in ballots {
        participants.add(b.area_centi);
        let abstains =
            b.choices.is_empty() || (kind == PollKind::YesNo && b.choices[0] == "abstain");
        if !abstains {
            cast.add(b.area_centi);
        }
        if kind != PollKind::Ranked {
            for c in &b.choices {
                per_option.entry(c.as_str()).or_default().add(b.area_centi);
            }
        }
    }
    let base = match rule.base {
        Base::Cast => cast,
        Base::Participants => participants,
        Base::Electorate => electorate,
    };
    let quorum = quorum(rule, participants, electorate);
    let primary = |w: &Weight| {
        if rule.measure == Measure::Area {
            w.area_centi
        } else {
            w.headcount
        }
    };
    let mut rounds = Vec::new();
    let mut option_counts: Vec<OptionCount> = options
        .iter()
        .map(|o| {
            let w = per_option.get(o.id.as_str()).copied().unwrap_or_default();
            OptionCount {
                id: o.id.clone(),
                label: o.label.clone(),
                headcount: w.headcount,
                area_centi: w.area_centi,
                threshold: check(rule.measure, rule.threshold, w, base),
            }
        })
        .collect();
    let winners: Vec<String> = match kind {
        PollKind::YesNo => option_counts
            .iter()
            .filter(|o| o.id == "yes" && o.threshold.met)
            .map(|o| o.id.clone())
            .collect(),
        PollKind::Single => {
            let best = option_counts
                .iter()
                .map(|o| {
                    primary(&Weight {
                        headcount: o.headcount,
                        area_centi: o.area_centi,
                    })
                })
                .max()
                .unwrap_or(0);
            let top: Vec<&OptionCount> = option_counts
                .iter()
                .filter(|o| {
                    primary(&Weight {
                        headcount: o.headcount,
                        area_centi: o.area_centi,
                    }) == best
                })
                .collect();
            if top.len() == 1 && top[0].threshold.met {
                vec![top[0].id.clone()]
            } else {
                Vec::new()
            }
        }
        PollKind::Multiple => {
            let mut passing: Vec<(&OptionCount, u64)> = option_counts
                .iter()
                .filter(|o| o.threshold.met)
                .map(|o| {
                    (
                        o,
                        primary(&Weight {
                            headcount: o.headcount,
                            area_centi: o.area_centi,
                        }),
                    )
                })
                .collect();
            passing.sort_by_key(|p| std::cmp::Reverse(p.1));
            if passing.len() > max_choices {
                // A tie across the last seat elects none of the tied options.
                let cut = passing[max_choices].1;
                passing.retain(|(_, n)| *n > cut);
            }
            passing.into_iter().map(|(o, _)| o.id.clone()).collect()
        }
        PollKind::Ranked => {
            let (r, winner, final_counts, continuing) = instant_runoff(options, ballots);
            rounds = r;
            let final_base = match rule.base {
                Base::Cast => Weight {
                    headcount: continuing,
                    area_centi: 0,
                },
                Base::Participants => participants,
                Base::Electorate => electorate,
            };
            for o in &mut option_counts {
                o.headcount = final_counts.get(o.id.as_str()).copied().unwrap_or(0);
                o.area_centi = 0;
                o.threshold = check(
                    Measure::Headcount,
                    rule.threshold,
                    Weight {
                        headcount: o.headcount,
                        area_centi: 0,
                    },
                    final_base,
                );
            }
            winner
                .filter(|w| option_counts.iter().any(|o| &o.id == w && o.threshold.met))
                .into_iter()
                .collect()
        }
    };
    let passed = quorum.met && !winners.is_empty();
    Outcome {
        electorate,
        participants,
        cast,
        quorum,
        options: option_counts,
        rounds,
        winners,
        passed,
        area_precision_centi: None,
    }
}

/// Instant runoff by headcount. Each round counts every ballot for its highest-ranked
/// continuing option; an option with more than half of the continuing ballots wins; otherwise
/// the option with the fewest votes is eliminated. A tie for last place eliminates the option
/// that had fewer votes in the latest earlier round where they differed, and failing that the
/// one listed later among the poll's options.
fn instant_runoff<'a>(
    options: &'a [PollOption],
    ballots: &'a [CountedBallot],
) -> (Vec<Round>, Option<String>, BTreeMap<&'a str, u64>, u64) {
    let mut continuing: Vec<&str> = options.iter().map(|o| o.id.as_str()).collect();
    let mut rounds: Vec<Round> = Vec::new();
    let mut history: Vec<BTreeMap<&str, u64>> = Vec::new();
    loop {
        let alive: HashSet<&str> = continuing.iter().copied().collect();
        let mut counts: BTreeMap<&str, u64> = continuing.iter().map(|o| (*o, 0)).collect();
        let mut live_ballots = 0u64;
        for b in ballots {
            if let Some(first) = b.choices.iter().find(|c| alive.contains(c.as_str())) {
                *counts.entry(first.as_str()).or_default() += 1;
                live_ballots += 1;
            }
        }
        let round_counts = continuing
            .iter()
            .map(|o| RoundCount {
                id: (*o).to_string(),
                headcount: counts[o],
            })
            .collect();
        let leader = continuing
            .iter()
            .copied()
            .find(|o| u128::from(counts[o]) * 2 > u128::from(live_ballots));
        if leader.is_some() || continuing.len() <= 1 {
            let winner = leader
                .or_else(|| continuing.first().copied().filter(|_| live_ballots > 0))
                .map(str::to_string);
            rounds.push(Round {
                counts: round_counts,
                continuing: live_ballots,
                eliminated: None,
            });
            return (rounds, winner, counts, live_ballots);
        }
        let fewest = continuing.iter().map(|o| counts[o]).min().unwrap_or(0);
        let mut tied: Vec<&str> = continuing
            .iter()
            .copied()
            .filter(|o| counts[o] == fewest)
            .collect();
        for earlier in history.iter().rev() {
            if tied.len() == 1 {
                break;
            }
            let low = tied.iter().map(|o| earlier[o]).min().unwrap_or(0);
            tied.retain(|o| earlier[o] == low);
        }
        let out = *tied.last().unwrap_or(&continuing[continuing.len() - 1]);
        continuing.retain(|o| *o != out);
        rounds.push(Round {
            counts: round_counts,
            continuing: live_ballots,
            eliminated: Some(out.to_string()),
        });
        history.push(counts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(ids: &[&str]) -> Vec<PollOption> {
        ids.iter()
            .map(|i| PollOption {
                id: (*i).into(),
                label: (*i).into(),
            })
            .collect()
    }

    fn ballots(spec: &[(&str, u64, usize)]) -> Vec<CountedBallot> {
        spec.iter()
            .flat_map(|(choice, area, n)| {
                std::iter::repeat_n(
                    CountedBallot {
                        choices: if choice.is_empty() {
                            vec![]
                        } else {
                            choice.split('>').map(str::to_string).collect()
                        },
                        area_centi: *area,
                    },
                    *n,
                )
            })
            .collect()
    }

    #[test]
    fn fractions_at_their_boundaries() {
        // (fraction, count, base, met)
        let table = [
            (Fraction::at_least(2, 3), 2, 3, true),
            (Fraction::more_than(2, 3), 2, 3, false),
            (Fraction::at_least(2, 3), 199, 300, false),
            (Fraction::at_least(2, 3), 200, 300, true),
            (Fraction::at_least(3, 4), 3, 4, true),
            (Fraction::at_least(3, 4), 74, 99, false),
            (Fraction::at_least(3, 4), 75, 100, true),
            (Fraction::more_than(3, 4), 75, 100, false),
            (Fraction::more_than(1, 2), 1, 2, false),
            (Fraction::more_than(1, 2), 51, 100, true),
            (Fraction::at_least(1, 2), 1, 2, true),
            (Fraction::more_than(1, 2), 0, 0, false),
            (Fraction::at_least(0, 1), 0, 0, false),
            (Fraction::at_least(1, 1), u64::MAX, u64::MAX, true),
            (Fraction::more_than(1, 2), u64::MAX / 2 + 1, u64::MAX, true),
            (Fraction::more_than(1, 2), u64::MAX / 2, u64::MAX, false),
        ];
        for (f, count, base, met) in table {
            assert_eq!(f.met_by(count, base), met, "{f:?} of {count}/{base}");
        }
    }

    #[test]
    fn owners_double_majority_passes_by_headcount_and_fails_by_area() {
        // 10 owners with 1000 m² in all. 8 take part (quorum: 8/10 ≥ 2/3 by headcount;
        // 800/1000 ≥ 2/3 by area). Five small owners vote yes, three large ones no.
        let electorate = Weight {
            headcount: 10,
            area_centi: 100_000,
        };
        let b = ballots(&[("yes", 5_000, 5), ("no", 18_000, 3)]);
        let rule = Preset::OwnersOrdinary.rule();
        let out = count(PollKind::YesNo, 1, &yes_no_options(), &rule, electorate, &b);
        assert!(out.quorum.met);
        let yes = &out.options[0];
        assert_eq!((yes.headcount, yes.area_centi), (5, 25_000));
        assert_eq!(yes.threshold.by_headcount, Some(true)); // 5 of 8 > 1/2
        assert_eq!(yes.threshold.by_area, Some(false)); // 250 of 790 m² ≤ 1/2
        assert!(!out.passed);
        // The reverse: area passes, headcount fails.
        let b = ballots(&[("yes", 25_000, 3), ("no", 1_000, 5)]);
        let out = count(PollKind::YesNo, 1, &yes_no_options(), &rule, electorate, &b);
        let yes = &out.options[0];
        assert_eq!(yes.threshold.by_headcount, Some(false));
        assert_eq!(yes.threshold.by_area, Some(true));
        assert!(!out.passed);
    }

    #[test]
    fn presets_at_their_boundaries() {
        let e = |h, a| Weight {
            headcount: h,
            area_centi: a,
        };
        // (preset, electorate, ballots, quorum met, passed)
        let table: Vec<(Preset, Weight, Vec<CountedBallot>, bool, bool)> = vec![
            // Owners' major: participation exactly 2/3 by both; yes exactly 3/4 by both.
            (
                Preset::OwnersMajor,
                e(6, 600),
                ballots(&[("yes", 100, 3), ("no", 100, 1)]),
                true,
                true,
            ),
            // One short of 3/4 by area.
            (
                Preset::OwnersMajor,
                e(6, 600),
                ballots(&[("yes", 100, 2), ("yes", 99, 1), ("no", 101, 1)]),
                true,
                false,
            ),
            // Participation just under 2/3 by headcount.
            (
                Preset::OwnersMajor,
                e(7, 400),
                ballots(&[("yes", 100, 4)]),
                false,
                false,
            ),
            // An abstention counts toward quorum and against approval: 3 yes of 4 ≥ 3/4.
            (
                Preset::OwnersMajor,
                e(6, 600),
                ballots(&[("yes", 100, 3), ("abstain", 100, 1)]),
                true,
                true,
            ),
            (
                Preset::OwnersMajor,
                e(6, 600),
                ballots(&[("yes", 100, 2), ("abstain", 100, 2)]),
                true,
                false,
            ),
            // Owners' ordinary: exactly half by headcount is not more than half.
            (
                Preset::OwnersOrdinary,
                e(4, 400),
                ballots(&[("yes", 100, 2), ("no", 100, 2)]),
                true,
                false,
            ),
            (
                Preset::OwnersOrdinary,
                e(4, 400),
                ballots(&[("yes", 100, 3), ("no", 100, 1)]),
                true,
                true,
            ),
            // Residents' meeting: exactly half present is no quorum.
            (
                Preset::ResidentsMeeting,
                e(10, 0),
                ballots(&[("yes", 0, 5)]),
                false,
                false,
            ),
            (
                Preset::ResidentsMeeting,
                e(10, 0),
                ballots(&[("yes", 0, 4), ("no", 0, 2)]),
                true,
                true,
            ),
            (
                Preset::ResidentsMeeting,
                e(10, 0),
                ballots(&[("yes", 0, 3), ("no", 0, 3)]),
                true,
                false,
            ),
            // Simple majority of ballots cast; abstentions left out.
            (
                Preset::SimpleMajority,
                e(100, 0),
                ballots(&[("yes", 0, 2), ("no", 0, 1), ("abstain", 0, 9)]),
                true,
                true,
            ),
        ];
        for (i, (preset, electorate, b, quorum_met, passed)) in table.into_iter().enumerate() {
            let out = count(
                PollKind::YesNo,
                1,
                &yes_no_options(),
                &preset.rule(),
                electorate,
                &b,
            );
            assert_eq!(out.quorum.met, quorum_met, "row {i}: quorum");
            assert_eq!(out.passed, passed, "row {i}: passed");
        }
    }

    #[test]
    fn single_choice_needs_a_unique_leader_that_meets_the_threshold() {
        let rule = Rule {
            quorum_headcount: None,
            quorum_area: None,
            threshold: Fraction::at_least(0, 1),
            base: Base::Cast,
            measure: Measure::Headcount,
        };
        let o = opts(&["a", "b", "c"]);
        let e = Weight {
            headcount: 10,
            area_centi: 0,
        };
        let tie = count(
            PollKind::Single,
            1,
            &o,
            &rule,
            e,
            &ballots(&[("a", 0, 3), ("b", 0, 3), ("c", 0, 1)]),
        );
        assert!(tie.winners.is_empty() && !tie.passed);
        let won = count(
            PollKind::Single,
            1,
            &o,
            &rule,
            e,
            &ballots(&[("a", 0, 4), ("b", 0, 3)]),
        );
        assert_eq!(won.winners, vec!["a"]);
        let majority = Rule {
            threshold: Fraction::more_than(1, 2),
            ..rule
        };
        let short = count(
            PollKind::Single,
            1,
            &o,
            &majority,
            e,
            &ballots(&[("a", 0, 4), ("b", 0, 3), ("c", 0, 1)]),
        );
        assert!(short.winners.is_empty(), "4 of 8 is not more than half");
    }

    #[test]
    fn up_to_k_elects_the_best_passing_options_and_no_one_tied_across_the_last_seat() {
        let rule = Rule {
            quorum_headcount: None,
            quorum_area: None,
            threshold: Fraction::at_least(1, 4),
            base: Base::Participants,
            measure: Measure::Headcount,
        };
        let o = opts(&["a", "b", "c", "d"]);
        let e = Weight {
            headcount: 8,
            area_centi: 0,
        };
        let b = ballots(&[("a>b", 0, 3), ("a>c", 0, 2), ("b>c", 0, 1), ("d", 0, 2)]);
        // a 5, b 4? no: a 5, b 4 (3+1), c 3, d 2; ≥1/4 of 8 is 2.
        let out = count(PollKind::Multiple, 2, &o, &rule, e, &b);
        assert_eq!(out.winners, vec!["a", "b"]);
        let b = ballots(&[("a>b", 0, 2), ("a>c", 0, 2), ("d", 0, 1)]);
        // a 4, b 2, c 2: b and c tie for the second seat, so only a is elected.
        let out = count(PollKind::Multiple, 2, &o, &rule, e, &b);
        assert_eq!(out.winners, vec!["a"]);
    }

    #[test]
    fn instant_runoff_eliminates_round_by_round() {
        let rule = Preset::SimpleMajority.rule();
        let o = opts(&["a", "b", "c", "d"]);
        let e = Weight {
            headcount: 20,
            area_centi: 0,
        };
        // First round a 8, b 6, c 4, d 2: d out, its ballots go to c (c 6); then b and c tie
        // at 6: in the earlier round b had 6 and c 4, so c goes; its ballots go to b (b 12).
        let b = ballots(&[("a", 0, 8), ("b", 0, 6), ("c>b", 0, 4), ("d>c>b", 0, 2)]);
        let out = count(PollKind::Ranked, 4, &o, &rule, e, &b);
        let eliminated: Vec<_> = out
            .rounds
            .iter()
            .filter_map(|r| r.eliminated.clone())
            .collect();
        assert_eq!(eliminated, vec!["d", "c"]);
        assert_eq!(out.winners, vec!["b"]);
        assert_eq!(out.rounds.len(), 3);
        let last = out.rounds.last().unwrap();
        assert_eq!(last.continuing, 20);
        assert!(out.passed);
        // Exhausted ballots leave the count: with a and b at 3 each after c goes, a tie that
        // history breaks (a had more first preferences).
        let b = ballots(&[("a", 0, 3), ("b", 0, 2), ("c>b", 0, 1), ("c", 0, 1)]);
        let out = count(PollKind::Ranked, 3, &opts(&["a", "b", "c"]), &rule, e, &b);
        assert_eq!(out.rounds[0].eliminated.as_deref(), Some("c"));
        assert_eq!(out.rounds[1].continuing, 6);
        // a 3, b 3 of 6: nobody has more than half; b had fewer in round one and goes.
        assert_eq!(out.rounds[1].eliminated.as_deref(), Some("b"));
        assert_eq!(out.winners, vec!["a"]);
    }
}
