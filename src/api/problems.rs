//! The pages a problem's `type` points to (RFC 9457 3.1.1): `/problems/{code}` says what the
//! code means, in Chinese and in English, with the same texts the web client shows (its
//! catalogues, `web/i18n/`); `/problems/` lists every code.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use poem::http::StatusCode;
use poem::web::{Html, Path};
use poem::{IntoResponse, Response, handler};

/// The page's languages, in the order shown: (tag, catalogue, heading).
const LANGUAGES: [(&str, &str, &str); 2] = [
    (
        "zh-CN",
        include_str!("../../web/i18n/zh-CN.json"),
        "问题说明",
    ),
    (
        "en",
        include_str!("../../web/i18n/en.json"),
        "What it means",
    ),
];

/// code → the text in each language of `LANGUAGES`, for every code either catalogue has.
fn texts() -> &'static BTreeMap<String, Vec<Option<String>>> {
    static TEXTS: OnceLock<BTreeMap<String, Vec<Option<String>>>> = OnceLock::new();
    TEXTS.get_or_init(|| {
        let mut all: BTreeMap<String, Vec<Option<String>>> = BTreeMap::new();
        for (i, (_, catalogue, _)) in LANGUAGES.iter().enumerate() {
            let parsed: BTreeMap<String, serde_json::Value> =
                serde_json::from_str(catalogue).unwrap_or_default();
            for (key, value) in parsed {
                if let (Some(code), Some(text)) = (key.strip_prefix("problem."), value.as_str()) {
                    all.entry(code.to_string())
                        .or_insert_with(|| vec![None; LANGUAGES.len()])[i] = Some(text.into());
                }
            }
        }
        all
    })
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"/app.css\"></head>\
         <body><main class=\"problem-page\">{body}\
         <p><a href=\"/problems/\">所有问题代码 · All problem codes</a> · \
         <a href=\"/\">议事厅 Yishi</a></p></main></body></html>",
        title = escape(title),
    )
}

/// What one problem code means.
#[handler]
pub fn problem(Path(code): Path<String>) -> Response {
    let Some(found) = texts().get(&code) else {
        let body = format!(
            "<h1>{}</h1><p lang=\"zh-CN\">没有这个问题代码。</p><p lang=\"en\">No such problem code.</p>",
            escape(&code)
        );
        return Html(page(&code, &body))
            .with_status(StatusCode::NOT_FOUND)
            .into_response();
    };
    let mut body = format!("<h1><code>{}</code></h1>", escape(&code));
    for ((tag, _, heading), text) in LANGUAGES.iter().zip(found) {
        if let Some(text) = text {
            body.push_str(&format!(
                "<section lang=\"{tag}\"><h2>{heading}</h2><p>{}</p></section>",
                escape(text)
            ));
        }
    }
    Html(page(&code, &body)).into_response()
}

/// Every problem code, each with its Chinese text.
#[handler]
pub fn index() -> impl IntoResponse {
    let mut body = String::from("<h1>问题代码 · Problem codes</h1><dl>");
    for (code, found) in texts() {
        let text = found.iter().flatten().next().map_or("", String::as_str);
        body.push_str(&format!(
            "<dt><a href=\"/problems/{code}\"><code>{code}</code></a></dt><dd>{}</dd>",
            escape(text),
            code = escape(code),
        ));
    }
    body.push_str("</dl>");
    Html(page("问题代码 · Problem codes", &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_both_languages() {
        let missing: Vec<&String> = texts()
            .iter()
            .filter(|(_, t)| t.iter().any(Option::is_none))
            .map(|(code, _)| code)
            .collect();
        assert!(
            missing.is_empty(),
            "without a zh-CN or en text: {missing:?}"
        );
        assert!(texts().len() > 100);
    }

    /// The constructors a problem code is given to as their first string argument, in the
    /// services and the kernel (`Missing("tender")` answers `tender_not_found`).
    const MAKERS: [&str; 16] = [
        "Invalid",
        "Conflict",
        "Missing",
        "bad_request",
        "not_found",
        "conflict",
        "unprocessable",
        "too_large",
        "unsupported_type",
        "unauthorized_as",
        "ApiError::new",
        "Problem::new",
        "Self::new",
        "invalid",
        "clean",
        "required",
    ];

    /// The first argument of a call at `rest` (just after its `(`), if it is a code literal.
    fn code_at(rest: &str) -> Option<&str> {
        let mut rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix("StatusCode::") {
            rest = after[after.find(',')? + 1..].trim_start();
        }
        let literal = rest.strip_prefix('"')?;
        let code = &literal[..literal.find('"')?];
        let first = code.chars().next()?;
        (first.is_ascii_lowercase()
            && code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == ' '))
        .then_some(code)
    }

    fn codes_in(text: &str, found: &mut std::collections::BTreeSet<String>) {
        for maker in MAKERS {
            let call = format!("{maker}(");
            for (at, _) in text.match_indices(&call) {
                let before = text[..at].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                // Only `Missing` names a thing, which may have a space ("agenda item").
                match (maker, code_at(&text[at + call.len()..])) {
                    ("Missing", Some(thing)) => {
                        found.insert(format!("{}_not_found", thing.replace(' ', "_")));
                    }
                    (_, Some(code)) if !code.contains(' ') => {
                        found.insert(code.to_string());
                    }
                    _ => {}
                }
            }
        }
        // The kernel's codes for errors raised outside an operation: `StatusCode::X => "code"`.
        for line in text
            .lines()
            .filter(|l| l.trim_start().starts_with("StatusCode::"))
        {
            if let Some(code) = line.split("=> ").nth(1).and_then(code_at) {
                found.insert(code.to_string());
            }
        }
    }

    fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// Issue 34: every problem code the server's code can send has a text in both languages,
    /// so no page shows a raw code or the server's English to a Chinese reader.
    #[test]
    fn every_code_the_server_sends_has_both_texts() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&root, &mut files);
        let mut found = std::collections::BTreeSet::new();
        for f in &files {
            codes_in(&std::fs::read_to_string(f).unwrap(), &mut found);
        }
        assert!(found.len() > 200, "the scan found only {}", found.len());
        for kernel in [
            "not_found",
            "method_not_allowed",
            "unauthenticated",
            "internal",
        ] {
            assert!(found.contains(kernel), "the scan missed {kernel}");
        }
        let missing: Vec<&String> = found
            .iter()
            .filter(|c| {
                texts()
                    .get(*c)
                    .is_none_or(|t| t.iter().any(Option::is_none))
            })
            .collect();
        assert!(
            missing.is_empty(),
            "problem codes without a zh-CN and an en text in web/i18n: {missing:?}"
        );
    }
}
