//! iCalendar (RFC 5545) objects for session invitations, updates and cancellations.

use chrono::{DateTime, Utc};

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// Escapes TEXT values (section 3.3.11).
fn text(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace("\r\n", "\\n")
        .replace('\n', "\\n")
}

/// Folds a content line at 75 octets without splitting a UTF-8 character (section 3.1).
fn fold(line: &str) -> String {
    let mut out = String::new();
    let mut width = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out.push_str("\r\n");
    out
}

pub struct Event<'a> {
    pub uid: String,
    pub sequence: i32,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub summary: &'a str,
    pub description: &'a str,
    pub location: &'a str,
    pub url: &'a str,
    pub organizer: &'a str,
    /// The person this copy is for (RFC 5546 requires an attendee in a request or a cancel).
    pub attendee: Attendee<'a>,
    pub cancelled: bool,
}

pub struct Attendee<'a> {
    pub name: &'a str,
    pub email: &'a str,
}

/// Escapes a parameter value (section 3.2): quoted, without the characters a quoted value
/// may not hold.
fn param(s: &str) -> String {
    format!("\"{}\"", s.replace(['"', '\r', '\n'], " "))
}

pub fn calendar(e: &Event<'_>) -> String {
    let method = if e.cancelled { "CANCEL" } else { "REQUEST" };
    let lines = [
        "BEGIN:VCALENDAR".to_string(),
        "VERSION:2.0".to_string(),
        "PRODID:-//Yishi//Consultation sessions//ZH".to_string(),
        "CALSCALE:GREGORIAN".to_string(),
        format!("METHOD:{method}"),
        "BEGIN:VEVENT".to_string(),
        format!("UID:{}", e.uid),
        format!("SEQUENCE:{}", e.sequence),
        format!("DTSTAMP:{}", stamp(crate::clock::now())),
        format!("DTSTART:{}", stamp(e.start)),
        format!("DTEND:{}", stamp(e.end)),
        format!("SUMMARY:{}", text(e.summary)),
        format!("DESCRIPTION:{}", text(e.description)),
        format!("LOCATION:{}", text(e.location)),
        format!("URL:{}", e.url),
        format!("ORGANIZER;CN=Yishi:mailto:{}", e.organizer),
        // Answers are given on the session's page (RSVP=FALSE): no calendar reply is expected.
        format!(
            "ATTENDEE;CN={};ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=FALSE:mailto:{}",
            param(e.attendee.name),
            e.attendee.email
        ),
        format!(
            "STATUS:{}",
            if e.cancelled {
                "CANCELLED"
            } else {
                "CONFIRMED"
            }
        ),
        "END:VEVENT".to_string(),
        "END:VCALENDAR".to_string(),
    ];
    lines.iter().map(|l| fold(l)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_fold_at_75_octets_on_character_boundaries() {
        let folded = fold(&format!("SUMMARY:{}", "议".repeat(60)));
        for line in folded.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(line.len() <= 75, "{} octets", line.len());
        }
        let unfolded = folded.replace("\r\n ", "");
        assert_eq!(unfolded, format!("SUMMARY:{}\r\n", "议".repeat(60)));
    }

    #[test]
    fn every_copy_names_its_attendee() {
        let cal = calendar(&Event {
            uid: "u@yishi".into(),
            sequence: 2,
            start: Utc::now(),
            end: Utc::now(),
            summary: "会",
            description: "",
            location: "",
            url: "http://x",
            organizer: "noreply@yishi.localhost",
            attendee: Attendee {
                name: "王\"阿姨\"",
                email: "wang@example.org",
            },
            cancelled: true,
        });
        assert!(cal.contains("METHOD:CANCEL\r\n"), "{cal}");
        assert!(
            cal.contains("ATTENDEE;CN=\"王 阿姨 \";ROLE=REQ-PARTICIPANT"),
            "{cal}"
        );
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(text("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
    }
}
