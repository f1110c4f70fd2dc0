//! The spec as served: poem-openapi's output with what its derives cannot say added, and the
//! methods each path takes (for the `Allow` header of a 405).

use serde_json::{Map, Value};

/// Adds to poem-openapi's spec the constraints the server enforces but the derives leave out:
/// request objects refuse unknown fields (`additionalProperties: false`), and integers keep to
/// the range of their format.
pub fn tighten(spec: &mut Value) {
    let mut request_schemas = Vec::new();
    if let Some(paths) = spec.get("paths").and_then(Value::as_object) {
        for op in paths
            .values()
            .filter_map(Value::as_object)
            .flat_map(|m| m.values())
        {
            if let Some(body) = op.pointer("/requestBody/content") {
                collect_refs(body, &mut request_schemas);
            }
        }
    }
    // Follow references from request objects to the objects nested in them.
    let mut i = 0;
    while i < request_schemas.len() {
        let name = request_schemas[i].clone();
        if let Some(schema) = spec.pointer(&format!("/components/schemas/{name}")) {
            let mut nested = Vec::new();
            collect_refs(schema, &mut nested);
            for n in nested {
                if !request_schemas.contains(&n) {
                    request_schemas.push(n);
                }
            }
        }
        i += 1;
    }
    for name in &request_schemas {
        if let Some(Value::Object(schema)) =
            spec.pointer_mut(&format!("/components/schemas/{name}"))
        {
            if schema.get("type").and_then(Value::as_str) == Some("object")
                && schema.contains_key("properties")
                && !schema.contains_key("additionalProperties")
            {
                schema.insert("additionalProperties".into(), Value::Bool(false));
            }
            accept_null_for_optional(schema);
        }
    }
    // Multipart forms take only the parts they name.
    if let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) {
        for op in paths
            .values_mut()
            .filter_map(Value::as_object_mut)
            .flat_map(|m| m.values_mut())
        {
            if let Some(Value::Object(form)) =
                op.pointer_mut("/requestBody/content/multipart~1form-data/schema")
                && !form.contains_key("additionalProperties")
            {
                form.insert("additionalProperties".into(), Value::Bool(false));
            }
        }
    }
    bound_integers(spec);
    name_formats(spec);
    link_created_to_their_operations(spec);
}

/// OpenAPI links from each create operation (a `POST` to a collection answering 201 with an
/// `id`) to the operations on what it created (`<collection>/{x_id}...`), so that clients and
/// fuzzers can follow a creation to its reads and changes.
fn link_created_to_their_operations(spec: &mut Value) {
    let Some(paths) = spec.get("paths").and_then(Value::as_object) else {
        return;
    };
    let mut links: Vec<(String, Map<String, Value>)> = Vec::new();
    for (collection, ops) in paths {
        let creates = ops
            .pointer("/post/responses/201/content")
            .and_then(Value::as_object)
            .is_some_and(|c| c.keys().any(|k| k.starts_with("application/json")));
        if !creates || collection.ends_with('}') {
            continue;
        }
        let mut of_created = Map::new();
        for (path, ops) in paths {
            let Some(rest) = path.strip_prefix(&format!("{collection}/{{")) else {
                continue;
            };
            let Some((param, _)) = rest.split_once('}') else {
                continue;
            };
            for op in ops.as_object().into_iter().flat_map(|m| m.values()) {
                let Some(operation_id) = op.get("operationId").and_then(Value::as_str) else {
                    continue;
                };
                of_created.insert(
                    operation_id.to_string(),
                    serde_json::json!({
                        "operationId": operation_id,
                        "parameters": { param: "$response.body#/id" }
                    }),
                );
            }
        }
        if !of_created.is_empty() {
            links.push((collection.clone(), of_created));
        }
    }
    for (collection, of_created) in links {
        let pointer = format!(
            "/paths/{}/post/responses/201",
            collection.replace('~', "~0").replace('/', "~1")
        );
        if let Some(Value::Object(created)) = spec.pointer_mut(&pointer) {
            created.insert("links".into(), Value::Object(of_created));
        }
    }
}

/// poem-openapi names chrono's dates `naive-date`; JSON Schema calls them `date`.
fn name_formats(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.get("format").and_then(Value::as_str) == Some("naive-date") {
                m.insert("format".into(), "date".into());
            }
            m.values_mut().for_each(name_formats);
        }
        Value::Array(a) => a.iter_mut().for_each(name_formats),
        _ => {}
    }
}

/// An optional field of a request (an `Option`, or one with a default) takes `null` as "not
/// given"; the spec says so.
fn accept_null_for_optional(schema: &mut Map<String, Value>) {
    let required: Vec<String> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let Some(Value::Object(properties)) = schema.get_mut("properties") else {
        return;
    };
    for (name, property) in properties.iter_mut() {
        let Value::Object(p) = property else { continue };
        if required.contains(name) {
            continue;
        }
        if let Some(target) = p.remove("$ref") {
            p.insert(
                "allOf".into(),
                Value::Array(vec![serde_json::json!({ "$ref": target })]),
            );
        }
        p.insert("nullable".into(), Value::Bool(true));
    }
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(name) = m
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
                && !out.iter().any(|n| n == name)
            {
                out.push(name.to_string());
            }
            m.values().for_each(|x| collect_refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

fn bound_integers(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.get("type").and_then(Value::as_str) == Some("integer") {
                let range: Option<(Value, Value)> = match m.get("format").and_then(Value::as_str) {
                    Some("uint8") => Some((0.into(), u8::MAX.into())),
                    Some("uint16") => Some((0.into(), u16::MAX.into())),
                    Some("uint32") => Some((0.into(), u32::MAX.into())),
                    Some("uint64") => Some((0.into(), u64::MAX.into())),
                    Some("int8") => Some((i8::MIN.into(), i8::MAX.into())),
                    Some("int16") => Some((i16::MIN.into(), i16::MAX.into())),
                    Some("int32") => Some((i32::MIN.into(), i32::MAX.into())),
                    Some("int64") => Some((i64::MIN.into(), i64::MAX.into())),
                    _ => None,
                };
                if let Some((min, max)) = range {
                    set_if_absent(m, "minimum", min);
                    set_if_absent(m, "maximum", max);
                }
            }
            m.values_mut().for_each(bound_integers);
        }
        Value::Array(a) => a.iter_mut().for_each(bound_integers),
        _ => {}
    }
}

fn set_if_absent(m: &mut Map<String, Value>, key: &str, value: Value) {
    if !m.contains_key(key) {
        m.insert(key.into(), value);
    }
}

/// Each path of the spec (as a pattern of segments, `None` for a parameter) with the methods
/// it takes, for the `Allow` header of a 405.
pub struct Routes(Vec<(Vec<Option<String>>, String)>);

impl Routes {
    pub fn from_spec(spec: &Value, prefix: &str) -> Self {
        let mut routes = Vec::new();
        if let Some(paths) = spec.get("paths").and_then(Value::as_object) {
            for (path, ops) in paths {
                let pattern = format!("{prefix}{path}")
                    .split('/')
                    .map(|s| (!s.starts_with('{')).then(|| s.to_string()))
                    .collect();
                let mut methods: Vec<String> = ops
                    .as_object()
                    .map(|m| m.keys().map(|k| k.to_uppercase()).collect())
                    .unwrap_or_default();
                methods.sort();
                routes.push((pattern, methods.join(", ")));
            }
        }
        Self(routes)
    }

    /// The methods `path` takes, when it is one of the spec's paths.
    pub fn allowed(&self, path: &str) -> Option<&str> {
        let segments: Vec<&str> = path.split('/').collect();
        self.0
            .iter()
            .find(|(pattern, _)| {
                pattern.len() == segments.len()
                    && pattern
                        .iter()
                        .zip(&segments)
                        .all(|(p, s)| p.as_deref().is_none_or(|p| p == *s))
            })
            .map(|(_, methods)| methods.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_objects_and_what_they_hold_refuse_unknown_fields_responses_do_not() {
        let mut spec = json!({
            "paths": { "/a": { "post": {
                "requestBody": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Req" } } } },
                "responses": { "200": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/View" } } } } }
            } } },
            "components": { "schemas": {
                "Req": { "type": "object", "required": ["n"], "properties": { "inner": { "$ref": "#/components/schemas/Inner" }, "n": { "type": "integer", "format": "uint32" } } },
                "Inner": { "type": "object", "properties": { "x": { "type": "string" } } },
                "View": { "type": "object", "properties": { "y": { "type": "string" } } }
            } }
        });
        tighten(&mut spec);
        let s = &spec["components"]["schemas"];
        assert_eq!(s["Req"]["additionalProperties"], false);
        assert_eq!(s["Inner"]["additionalProperties"], false);
        assert!(s["View"].get("additionalProperties").is_none());
        assert_eq!(s["Req"]["properties"]["n"]["minimum"], 0);
        // The optional field takes null; the required one does not.
        assert_eq!(s["Req"]["properties"]["inner"]["nullable"], true);
        assert_eq!(
            s["Req"]["properties"]["inner"]["allOf"][0]["$ref"],
            "#/components/schemas/Inner"
        );
        assert!(s["Req"]["properties"]["n"].get("nullable").is_none());
        assert_eq!(s["Req"]["properties"]["n"]["maximum"], u32::MAX);
    }

    #[test]
    fn a_creation_links_to_the_operations_on_what_it_created() {
        let created = json!({ "201": { "content": { "application/json": { "schema": {} } } } });
        let mut spec = json!({ "paths": {
            "/polls": { "post": { "operationId": "createPoll", "responses": created } },
            "/polls/{poll_id}": { "get": { "operationId": "getPoll" } },
            "/polls/{poll_id}/open": { "post": { "operationId": "openPoll" } },
            "/pollsters/{x}": { "get": { "operationId": "other" } }
        } });
        tighten(&mut spec);
        let links = &spec["paths"]["/polls"]["post"]["responses"]["201"]["links"];
        assert_eq!(
            links["getPoll"]["parameters"]["poll_id"],
            "$response.body#/id"
        );
        assert_eq!(links["openPoll"]["operationId"], "openPoll");
        assert!(links.get("other").is_none());
    }

    #[test]
    fn allowed_methods_match_parameters_and_nothing_else() {
        let spec = json!({ "paths": {
            "/polls/{poll_id}": { "get": {}, "patch": {} },
            "/polls": { "post": {}, "get": {} }
        } });
        let routes = Routes::from_spec(&spec, "/api/v1");
        assert_eq!(routes.allowed("/api/v1/polls/123"), Some("GET, PATCH"));
        assert_eq!(routes.allowed("/api/v1/polls"), Some("GET, POST"));
        assert_eq!(routes.allowed("/api/v1/polls/1/x"), None);
        assert_eq!(routes.allowed("/polls"), None);
    }
}
