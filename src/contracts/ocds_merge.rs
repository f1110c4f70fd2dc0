//! Reading stored releases back: links on the current public address, and a record's compiled
//! release as the OCDS merge of its releases (the standard's "Merging" rules, as `ocdskit
//! compile` applies them), so a reader who compiles the releases gets the same document.

use serde_json::{Map, Value};

/// Fields that hold a link. Yishi stores its own links as paths (`/api/v1/...`, `/#/...`); older
/// releases hold whole URLs on the address the server had then. Both are put on `base`.
const LINK_FIELDS: [&str; 3] = ["url", "source", "uri"];
const OWN_PATHS: [&str; 2] = ["/api/v1/", "/#/"];

pub fn rebase(v: &mut Value, base: &str) {
    match v {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if LINK_FIELDS.contains(&key.as_str())
                    && let Value::String(s) = child
                    && let Some(path) = own_path(s)
                {
                    *s = format!("{}{}", base.trim_end_matches('/'), path);
                } else {
                    rebase(child, base);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| rebase(i, base)),
        _ => {}
    }
}

/// The path of a link to Yishi itself, whatever address it was written with.
fn own_path(link: &str) -> Option<String> {
    let path = if link.starts_with('/') {
        link
    } else {
        let rest = link
            .strip_prefix("https://")
            .or_else(|| link.strip_prefix("http://"))?;
        &rest[rest.find('/')?..]
    };
    OWN_PATHS
        .iter()
        .any(|p| path.starts_with(p))
        .then(|| path.to_string())
}

/// Removes empty strings, arrays and objects, innermost first: OCDS asks publishers to omit a
/// field rather than publish it empty.
pub fn prune(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.values_mut().for_each(prune);
            map.retain(|_, c| !is_empty(c));
        }
        Value::Array(items) => {
            items.iter_mut().for_each(prune);
            items.retain(|c| !is_empty(c));
        }
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// The compiled release of one record's releases, given oldest first (a stable sort by `date`
/// keeps releases of the same second in the order given). `id`, `date` and `tag` are not
/// merged; objects merge field by field; arrays of objects merge item by item on `id`; any
/// other array, and any other value, is replaced; a `null` removes a field. (ocdsmerge also
/// sets an empty array where the schema asks for a whole-list merge; Yishi publishes no empty
/// arrays, so that case never arises.)
pub fn compile(releases: &[Value]) -> Value {
    let mut sorted: Vec<&Value> = releases.iter().collect();
    sorted.sort_by(|a, b| date_of(a).cmp(date_of(b)));
    let mut merged = Map::new();
    for r in &sorted {
        let Value::Object(fields) = r else { continue };
        for (key, value) in fields {
            if matches!(key.as_str(), "id" | "date" | "tag") {
                continue;
            }
            merge_field(&mut merged, key, value);
        }
    }
    if let Some(last) = sorted.last() {
        let ocid = last["ocid"].as_str().unwrap_or_default();
        let date = date_of(last);
        merged.insert("id".into(), Value::String(format!("{ocid}-{date}")));
        merged.insert("date".into(), Value::String(date.to_string()));
    }
    merged.insert("tag".into(), serde_json::json!(["compiled"]));
    Value::Object(merged)
}

fn date_of(r: &Value) -> &str {
    r["date"].as_str().unwrap_or_default()
}

fn merge_field(into: &mut Map<String, Value>, key: &str, value: &Value) {
    match value {
        Value::Null => {
            into.remove(key);
        }
        Value::Object(fields) if !fields.is_empty() => {
            let slot = into
                .entry(key.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            if let Value::Object(target) = slot {
                for (k, v) in fields {
                    merge_field(target, k, v);
                }
            }
        }
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
            let slot = into
                .entry(key.to_string())
                .or_insert_with(|| Value::Array(Vec::new()));
            if !slot.is_array() {
                *slot = Value::Array(Vec::new());
            }
            if let Value::Array(target) = slot {
                for item in items {
                    merge_item(target, item);
                }
            }
        }
        // An empty object or array of objects adds nothing; other arrays are replaced whole.
        Value::Object(_) => {}
        Value::Array(items) if items.is_empty() => {}
        other => {
            into.insert(key.to_string(), other.clone());
        }
    }
}

/// An object of an array joins the item with the same `id`, or is appended (an object without
/// an `id` is always appended).
fn merge_item(target: &mut Vec<Value>, item: &Value) {
    let id = item.get("id").filter(|i| !i.is_null());
    let found = id.and_then(|id| target.iter().position(|t| t.get("id") == Some(id)));
    let index = match found {
        Some(i) => i,
        None => {
            let mut fresh = Map::new();
            if let Some(id) = id {
                fresh.insert("id".into(), id.clone());
            }
            target.push(Value::Object(fresh));
            target.len() - 1
        }
    };
    if let (Value::Object(slot), Value::Object(fields)) = (&mut target[index], item) {
        for (k, v) in fields {
            merge_field(slot, k, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compiling_merges_objects_by_id_and_replaces_plain_values() {
        let first = json!({
            "ocid": "o-1", "id": "r1", "date": "2026-01-01T00:00:00Z", "tag": ["tender"],
            "tender": { "status": "active", "title": "A", "submissionMethod": ["electronicSubmission", "inPerson"] },
            "parties": [{ "id": "p1", "name": "One", "roles": ["buyer", "payer"] }],
            "awards": [{ "id": "a1", "status": "pending", "date": "2026-01-01T00:00:00Z" }],
        });
        let second = json!({
            "ocid": "o-1", "id": "r2", "date": "2026-02-01T00:00:00Z", "tag": ["award"],
            "tender": { "status": "complete", "submissionMethod": ["electronicSubmission"] },
            "parties": [{ "id": "p2", "name": "Two" }, { "id": "p1", "roles": ["buyer"] }],
            "awards": [{ "id": "a1", "status": "cancelled" }],
        });
        // Given newest first: the merge sorts by date.
        let compiled = compile(&[second, first]);
        assert_eq!(
            compiled,
            json!({
                "ocid": "o-1", "id": "o-1-2026-02-01T00:00:00Z", "date": "2026-02-01T00:00:00Z",
                "tag": ["compiled"],
                "tender": { "status": "complete", "title": "A", "submissionMethod": ["electronicSubmission"] },
                "parties": [{ "id": "p1", "name": "One", "roles": ["buyer"] }, { "id": "p2", "name": "Two" }],
                "awards": [{ "id": "a1", "status": "cancelled", "date": "2026-01-01T00:00:00Z" }],
            })
        );
    }

    #[test]
    fn a_null_removes_a_field_and_empties_add_nothing() {
        let first = json!({ "ocid": "o", "date": "1", "tender": { "a": 1, "b": [{ "id": "x" }] } });
        let second = json!({ "ocid": "o", "date": "2", "tender": { "a": null, "b": [], "c": {} } });
        assert_eq!(
            compile(&[first, second])["tender"],
            json!({ "b": [{ "id": "x" }] })
        );
    }

    #[test]
    fn links_move_to_the_current_address_and_others_stay() {
        let mut v = json!({
            "documents": [
                { "url": "http://old.example:8080/api/v1/procurement-files/9" },
                { "url": "/api/v1/procurement-files/8" },
                { "url": "https://elsewhere.example/file.pdf" },
            ],
            "source": "http://127.0.0.1:3000/#/contracts/7",
            "title": "/api/v1/not-a-link",
        });
        rebase(&mut v, "https://yishi.example/");
        assert_eq!(
            v,
            json!({
                "documents": [
                    { "url": "https://yishi.example/api/v1/procurement-files/9" },
                    { "url": "https://yishi.example/api/v1/procurement-files/8" },
                    { "url": "https://elsewhere.example/file.pdf" },
                ],
                "source": "https://yishi.example/#/contracts/7",
                "title": "/api/v1/not-a-link",
            })
        );
    }

    #[test]
    fn pruning_removes_empties_innermost_first() {
        let mut v = json!({ "a": "", "b": [], "c": { "d": [], "e": { "f": " " } }, "g": 0, "h": false, "i": ["x", ""] });
        prune(&mut v);
        assert_eq!(v, json!({ "g": 0, "h": false, "i": ["x"] }));
    }
}
