//! The proposal state machine: every transition the service makes goes through `next`.

use super::model::ProposalStatus as S;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Submit,
    ThresholdReached,
    DeadlinePassed,
    Accept,
    RequestChanges,
    Resubmit,
    Merge,
    Reject,
    Withdraw,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Submit => "submitted",
            Event::ThresholdReached => "threshold_reached",
            Event::DeadlinePassed => "expired",
            Event::Accept => "accepted",
            Event::RequestChanges => "changes_requested",
            Event::Resubmit => "resubmitted",
            Event::Merge => "merged",
            Event::Reject => "rejected",
            Event::Withdraw => "withdrawn",
        }
    }

    /// Moderation decisions that must carry a written reason.
    pub fn needs_reason(self) -> bool {
        matches!(self, Event::RequestChanges | Event::Merge | Event::Reject)
    }
}

/// The state a proposal in `from` moves to on `event`, or `None` when that is not allowed.
pub fn next(from: S, event: Event) -> Option<S> {
    use Event as E;
    Some(match (from, event) {
        (S::Draft, E::Submit) => S::Collecting,
        (S::Collecting, E::ThresholdReached) => S::InModeration,
        (S::Collecting, E::DeadlinePassed) => S::Expired,
        (S::InModeration, E::Accept) => S::Accepted,
        (S::InModeration, E::RequestChanges) => S::ChangesRequested,
        (S::ChangesRequested, E::Resubmit) => S::InModeration,
        (S::Collecting | S::InModeration | S::ChangesRequested, E::Merge) => S::Merged,
        (S::InModeration | S::ChangesRequested, E::Reject) => S::Rejected,
        (S::Draft | S::Collecting | S::ChangesRequested, E::Withdraw) => S::Withdrawn,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [S; 9] = [
        S::Draft,
        S::Collecting,
        S::InModeration,
        S::ChangesRequested,
        S::Accepted,
        S::Rejected,
        S::Merged,
        S::Expired,
        S::Withdrawn,
    ];
    const EVENTS: [Event; 9] = [
        Event::Submit,
        Event::ThresholdReached,
        Event::DeadlinePassed,
        Event::Accept,
        Event::RequestChanges,
        Event::Resubmit,
        Event::Merge,
        Event::Reject,
        Event::Withdraw,
    ];

    #[test]
    fn final_states_have_no_way_out() {
        for from in [
            S::Accepted,
            S::Rejected,
            S::Merged,
            S::Expired,
            S::Withdrawn,
        ] {
            for event in EVENTS {
                assert_eq!(next(from, event), None, "{from:?} --{event:?}-->");
            }
        }
    }

    #[test]
    fn the_happy_path_and_the_change_loop() {
        let mut s = S::Draft;
        for event in [
            Event::Submit,
            Event::ThresholdReached,
            Event::RequestChanges,
            Event::Resubmit,
            Event::Accept,
        ] {
            s = next(s, event).unwrap_or_else(|| panic!("{s:?} refuses {event:?}"));
        }
        assert_eq!(s, S::Accepted);
    }

    #[test]
    fn exactly_these_transitions_exist() {
        let count = ALL
            .iter()
            .flat_map(|s| EVENTS.iter().map(move |e| next(*s, *e)))
            .filter(Option::is_some)
            .count();
        assert_eq!(count, 14);
        assert_eq!(
            next(S::Collecting, Event::Accept),
            None,
            "the committee accepts only from its queue"
        );
        assert_eq!(next(S::Draft, Event::ThresholdReached), None);
    }
}
