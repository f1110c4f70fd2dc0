//! The resolution state machine: every transition the service makes goes through `next`.

use super::model::ResolutionStatus as S;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Event {
    SubmitForReview,
    Approve,
    Return,
    TakeEffect,
    DisclosureEnds,
    UpholdAndRevise,
    UpholdAndWithdraw,
    DeadlinePassed,
    Complete,
    Cancel,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::SubmitForReview => "submitted_for_review",
            Event::Approve => "approved",
            Event::Return => "returned",
            Event::TakeEffect => "effective",
            Event::DisclosureEnds => "started",
            Event::UpholdAndRevise => "revised_after_objection",
            Event::UpholdAndWithdraw => "withdrawn",
            Event::DeadlinePassed => "overdue",
            Event::Complete => "completed",
            Event::Cancel => "cancelled",
        }
    }
}

/// The state a resolution in `from` moves to on `event`, or `None` when that is not allowed.
pub fn next(from: S, event: Event) -> Option<S> {
    use Event as E;
    Some(match (from, event) {
        (S::Draft, E::SubmitForReview) => S::InReview,
        (S::InReview, E::Approve) => S::Approved,
        (S::InReview, E::Return) => S::Draft,
        (S::Draft | S::Approved, E::TakeEffect) => S::Disclosure,
        (S::Disclosure, E::DisclosureEnds) => S::InProgress,
        (S::Disclosure, E::UpholdAndRevise) => S::Draft,
        (S::Disclosure, E::UpholdAndWithdraw) => S::Withdrawn,
        (S::InProgress, E::DeadlinePassed) => S::Overdue,
        (S::InProgress | S::Overdue, E::Complete) => S::Completed,
        (S::Draft | S::Approved | S::InProgress | S::Overdue, E::Cancel) => S::Cancelled,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENTS: [Event; 10] = [
        Event::SubmitForReview,
        Event::Approve,
        Event::Return,
        Event::TakeEffect,
        Event::DisclosureEnds,
        Event::UpholdAndRevise,
        Event::UpholdAndWithdraw,
        Event::DeadlinePassed,
        Event::Complete,
        Event::Cancel,
    ];

    #[test]
    fn final_states_have_no_way_out() {
        for from in [S::Completed, S::Cancelled, S::Withdrawn] {
            for event in EVENTS {
                assert_eq!(next(from, event), None, "{from:?} --{event:?}-->");
            }
        }
    }

    #[test]
    fn a_major_resolution_goes_through_review_then_disclosure() {
        let mut s = S::Draft;
        for event in [
            Event::SubmitForReview,
            Event::Return,
            Event::SubmitForReview,
            Event::Approve,
            Event::TakeEffect,
            Event::DisclosureEnds,
            Event::DeadlinePassed,
            Event::Complete,
        ] {
            s = next(s, event).unwrap_or_else(|| panic!("{s:?} refuses {event:?}"));
        }
        assert_eq!(s, S::Completed);
    }

    #[test]
    fn exactly_these_transitions_exist() {
        let count = S::ALL
            .iter()
            .flat_map(|s| EVENTS.iter().map(move |e| next(*s, *e)))
            .filter(Option::is_some)
            .count();
        assert_eq!(count, 15);
        assert_eq!(
            next(S::InReview, Event::TakeEffect),
            None,
            "not while in review"
        );
        assert_eq!(
            next(S::Disclosure, Event::Complete),
            None,
            "not before the window ends"
        );
        assert_eq!(
            next(S::Disclosure, Event::Cancel),
            None,
            "objections decide"
        );
    }
}
