//! The parser's words for a request that does not fit the spec ("Expected input type
//! \"string_uuid\", found null. (occurred while parsing \"CreateProposalRequest\")"), put as a
//! person or a client's author can act on (issue 35). The code stays `invalid_request`.

/// What a spec type name means, in words.
fn kind(type_name: &str) -> &'static str {
    let t = type_name.trim_matches('"');
    if t.starts_with("string_uuid") {
        "an id (a UUID)"
    } else if t.starts_with("string_date-time") {
        "a date and time (RFC 3339, with its offset)"
    } else if t.starts_with("string_date") {
        "a date (YYYY-MM-DD)"
    } else if t.starts_with("integer") {
        "a whole number"
    } else if t.starts_with("number") {
        "a number"
    } else if t.starts_with("boolean") {
        "true or false"
    } else if t.starts_with("string") {
        "text"
    } else if t.starts_with('[') || t.starts_with("array") {
        "a list"
    } else {
        "an object of the documented shape"
    }
}

/// The first quoted word after `marker` in `message`.
fn quoted_after<'a>(message: &'a str, marker: &str) -> Option<&'a str> {
    let rest = &message[message.find(marker)? + marker.len()..];
    let start = rest.find('"')? + 1;
    let end = start + rest[start..].find('"')?;
    Some(&rest[start..end])
}

/// The parser's message for a bad body or parameter, in plain words.
pub fn plain(message: &str) -> String {
    let within = quoted_after(message, "occurred while parsing")
        .map(|schema| format!(" (in {schema}; see the API documentation at /docs)"))
        .unwrap_or_default();
    if let Some(rest) = message.strip_prefix("failed to parse parameter `") {
        let name = rest.split('`').next().unwrap_or_default();
        let wanted = quoted_after(rest, "failed to parse").map(kind);
        return match wanted {
            Some(wanted) => format!("The parameter `{name}` must be {wanted}."),
            None => format!("The parameter `{name}` is missing or not valid."),
        };
    }
    if let Some(expected) = quoted_after(message, "Expected input type") {
        let found = message
            .split("found ")
            .nth(1)
            .map(|f| f.split(['.', ' ']).next().unwrap_or_default())
            .unwrap_or_default();
        return if found == "null" {
            format!(
                "A required field is missing or null: it must be {}{within}.",
                kind(expected)
            )
        } else {
            format!(
                "A field holds {found} where {} is expected{within}.",
                kind(expected)
            )
        };
    }
    if let Some(expected) = quoted_after(message, "failed to parse") {
        return format!(
            "A field is not valid: it must be {}{within}.",
            kind(expected)
        );
    }
    if message.contains("unknown field") || message.contains("unknown_field") {
        return format!("The body has a field this operation does not take{within}.");
    }
    if message.starts_with("parse request payload error") {
        return format!("The request body is not what this operation takes{within}.");
    }
    message.to_string()
}

#[cfg(test)]
mod tests {
    use super::plain;

    #[test]
    fn parser_messages_become_plain_words() {
        assert_eq!(
            plain(
                "parse request payload error: Expected input type \"string_uuid\", found null. (occurred while parsing \"CreateProposalRequest\")"
            ),
            "A required field is missing or null: it must be an id (a UUID) (in CreateProposalRequest; see the API documentation at /docs)."
        );
        assert_eq!(
            plain(
                "parse request payload error: failed to parse \"string_uuid\": invalid character: found `n` at 0 (occurred while parsing \"CreateProposalRequest\")"
            ),
            "A field is not valid: it must be an id (a UUID) (in CreateProposalRequest; see the API documentation at /docs)."
        );
        assert_eq!(
            plain(
                "failed to parse parameter `page`: failed to parse \"integer(uint64)\": invalid digit found in string"
            ),
            "The parameter `page` must be a whole number."
        );
        assert_eq!(
            plain(
                "parse request payload error: Expected input type \"string\", found number(5). (occurred while parsing \"X\")"
            ),
            "A field holds number(5) where text is expected (in X; see the API documentation at /docs)."
        );
        assert_eq!(plain("something else"), "something else");
    }
}
