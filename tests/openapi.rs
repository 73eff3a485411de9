//! `docs/openapi.yaml`, the OpenAPI 3.1 document of the analyst API, against the OpenAPI
//! 3.1 JSON Schema, against the router and the role checks in `src/api/mod.rs`, and
//! against what the API really answers:
//!
//! - the document is YAML (no duplicate keys) and valid against the official OpenAPI 3.1
//!   schema (`tests/fixtures/openapi-3.1.schema.json`, see the `.md` beside it); every
//!   Schema Object in it is a valid JSON Schema 2020-12 schema, every `$ref` resolves,
//!   every example fits its schema and the evidence discriminator matches its variants;
//! - every route `Api::router` registers is documented with its method and operationId, and
//!   the document has no operation the router lacks (both from `Endpoint::ALL`, the one
//!   table the router is built from, so nothing can be left out);
//! - every operation needs the bearer token, documents 401 and 403, and names in `x-roles`
//!   and in its description exactly the roles its endpoint's `Permission` grants (the
//!   permission the authentication layer enforces, from the same table);
//! - the document's enums (rule names, severities, event kinds and formats, roster statuses,
//!   verdicts, roles) are the code's lists of names;
//! - every response of a real API (fed by a replay of `examples/events` and an alert with
//!   every kind of evidence) validates against the documented schema for its status, with
//!   the documented content type, and every documented status is seen.
//!
//! Each check is a function returning what is wrong; `checks_can_fail` breaks a copy of
//! the document in each way and sees each function say so.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use driftwatch::alert::{Alert, AlertStatus, ClusterMember, Evidence, Severity};
use driftwatch::api::view::View;
use driftwatch::api::{Api, Audit, Call, Dispositions, Endpoint, Permission, Role};
use driftwatch::detect::NAMES;
use driftwatch::event::{EventKind, Format};
use driftwatch::roster::{EmployeeId, Status};
use driftwatch::suppress::{Disposition, Verdict};
use jsonschema::{Draft, Registry, Validator};
use serde_json::{Value, json};

mod support;
use sha2::{Digest, Sha256};

const DOCUMENT: &str = "docs/openapi.yaml";
const OPENAPI_SCHEMA: &str = "tests/fixtures/openapi-3.1.schema.json";
/// As published; see `tests/fixtures/openapi-3.1.schema.md`.
const OPENAPI_SCHEMA_SHA256: &str =
    "e7cb616a2a10849a166c4e4a93c62c56cfea02cc00eadf287e2fb875e7124098";
/// Where the document sits in the schema registry, so `#/components/...` references
/// resolve (never fetched: the registry holds it).
const BASE: &str = "https://driftwatch.invalid/openapi.json";
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

// ----- The document -----

/// YAML to JSON. Through `yaml_serde::Value` first: it refuses a key given twice, which
/// straight into `serde_json::Value` would silently keep the last of.
fn parse_yaml(text: &str) -> Result<Value, String> {
    let yaml: yaml_serde::Value = yaml_serde::from_str(text).map_err(|e| format!("YAML: {e}"))?;
    serde_json::to_value(&yaml).map_err(|e| format!("no JSON form: {e}"))
}

fn document() -> Value {
    parse_yaml(&read(DOCUMENT)).unwrap_or_else(|e| panic!("{DOCUMENT}: {e}"))
}

fn openapi_validator() -> Validator {
    let text = read(OPENAPI_SCHEMA);
    let digest: String = Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        digest, OPENAPI_SCHEMA_SHA256,
        "{OPENAPI_SCHEMA} is not the copy its .md describes"
    );
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    assert_eq!(
        schema["$id"], "https://spec.openapis.org/oas/3.1/schema/2022-10-07",
        "the official OpenAPI 3.1 schema"
    );
    // Formats stay annotations, as JSON Schema 2020-12 has them by default: a templated
    // server URL (`http://{listen}`) is no strict `uri-reference`, yet OpenAPI's own.
    jsonschema::draft202012::new(&schema).expect("the OpenAPI 3.1 schema compiles")
}

/// What the OpenAPI 3.1 schema says is wrong with `doc`.
fn structure_problems(validator: &Validator, doc: &Value) -> Vec<String> {
    validator
        .iter_errors(doc)
        .map(|e| format!("at {}: {e}", e.instance_path()))
        .collect()
}

/// JSON Pointer escaping of one segment.
fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// A JSON Pointer as a URI fragment: percent-encoded where a fragment may not hold the
/// character (`{id}` in a path template).
fn fragment(pointer: &str) -> String {
    let mut out = String::with_capacity(pointer.len());
    for b in pointer.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Every value of `key` in `v`, with the pointer of the object holding it.
fn find_key<'v>(v: &'v Value, key: &str, at: String, out: &mut Vec<(String, &'v Value)>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                if k == key {
                    out.push((at.clone(), child));
                }
                find_key(child, key, format!("{at}/{}", escape(k)), out);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                find_key(child, key, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// `$ref`s that are not local or point at nothing.
fn reference_problems(doc: &Value) -> Vec<String> {
    let mut refs = Vec::new();
    find_key(doc, "$ref", String::new(), &mut refs);
    let mut problems = Vec::new();
    for (at, r) in refs {
        match r.as_str().and_then(|r| r.strip_prefix('#')) {
            Some(pointer) if doc.pointer(pointer).is_some() => {}
            _ => problems.push(format!("{at}: $ref {r} does not resolve in the document")),
        }
    }
    problems
}

/// Follow a `$ref` (one level is all the document uses, but any depth is fine).
fn deref<'d>(doc: &'d Value, mut v: &'d Value) -> &'d Value {
    for _ in 0..8 {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                v = doc
                    .pointer(r.trim_start_matches('#'))
                    .unwrap_or(&Value::Null)
            }
            None => break,
        }
    }
    v
}

/// The pointer `v` ends at after following `$ref`s from `pointer`.
fn deref_pointer(doc: &Value, mut pointer: String) -> String {
    for _ in 0..8 {
        match doc
            .pointer(&pointer)
            .and_then(|v| v.get("$ref"))
            .and_then(Value::as_str)
        {
            Some(r) => pointer = r.trim_start_matches('#').to_owned(),
            None => break,
        }
    }
    pointer
}

/// Every operation: (path, method, operation object, its pointer).
fn operations(doc: &Value) -> Vec<(String, String, &Value, String)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for m in METHODS {
            if let Some(op) = item.get(m) {
                let pointer = format!("/paths/{}/{m}", escape(path));
                out.push((path.clone(), m.to_owned(), op, pointer));
            }
        }
    }
    out
}

/// The document in a schema registry, to compile validators for schemas inside it.
fn registry(doc: &Value) -> Registry<'static> {
    Registry::new()
        .draft(Draft::Draft202012)
        .add(BASE, jsonschema::Resource::from_contents(doc.clone()))
        .expect("add the document")
        .prepare()
        .expect("the document as a schema resource")
}

/// A validator for the schema at `pointer` in the document.
fn validator_at(registry: &Registry<'_>, pointer: &str) -> Result<Validator, String> {
    jsonschema::draft202012::options()
        .with_registry(registry)
        .should_validate_formats(true)
        .build(&json!({ "$ref": format!("{BASE}#{}", fragment(pointer)) }))
        .map_err(|e| format!("{pointer}: does not compile: {e}"))
}

/// Every Schema Object the document uses directly: component schemas, parameter schemas
/// and media type schemas, by pointer.
fn schema_pointers(doc: &Value) -> Vec<String> {
    let mut out: Vec<String> = doc["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, _)| format!("/components/schemas/{}", escape(name)))
        .collect();
    let mut schemas = Vec::new();
    find_key(&doc["paths"], "schema", "/paths".to_owned(), &mut schemas);
    for section in ["parameters", "responses", "requestBodies"] {
        find_key(
            &doc["components"][section],
            "schema",
            format!("/components/{section}"),
            &mut schemas,
        );
    }
    out.extend(schemas.into_iter().map(|(at, _)| format!("{at}/schema")));
    out
}

/// Schema Objects that are not valid JSON Schema 2020-12 or do not compile (a `$ref`
/// to nothing), examples that do not fit their schema, and an evidence discriminator that
/// does not match its variants.
fn schema_problems(doc: &Value) -> Vec<String> {
    let registry = registry(doc);
    let mut problems = Vec::new();
    for pointer in schema_pointers(doc) {
        let schema = doc
            .pointer(&pointer)
            .expect("a pointer found in the document");
        if let Err(e) = jsonschema::draft202012::meta::validate(schema) {
            problems.push(format!("{pointer}: not a JSON Schema 2020-12 schema: {e}"));
        }
        if let Err(e) = validator_at(&registry, &pointer) {
            problems.push(e);
        }
    }
    // Examples beside a schema (media types, parameters): `example` and `examples.*.value`.
    let mut holders = Vec::new();
    find_key(doc, "schema", String::new(), &mut holders);
    for (at, _) in holders {
        let holder = doc.pointer(&at).expect("found");
        let mut examples: Vec<(String, &Value)> = Vec::new();
        if let Some(e) = holder.get("example") {
            examples.push((format!("{at}/example"), e));
        }
        for (name, e) in holder["examples"].as_object().into_iter().flatten() {
            let e = deref(doc, e);
            if let Some(v) = e.get("value") {
                examples.push((format!("{at}/examples/{name}"), v));
            }
        }
        if examples.is_empty() {
            continue;
        }
        let Ok(validator) = validator_at(&registry, &format!("{at}/schema")) else {
            continue; // reported above
        };
        for (where_, example) in examples {
            for e in validator.iter_errors(example) {
                problems.push(format!("{where_}: the example does not fit: {e}"));
            }
        }
    }
    // The evidence union: one variant per mapping entry, whose `type` is that entry.
    let evidence = &doc["components"]["schemas"]["Evidence"];
    let mapping = evidence["discriminator"]["mapping"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let one_of: BTreeSet<&str> = evidence["oneOf"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["$ref"].as_str())
        .collect();
    let mapped: BTreeSet<&str> = mapping.values().filter_map(Value::as_str).collect();
    if one_of != mapped || one_of.is_empty() {
        problems.push(format!(
            "Evidence: oneOf {one_of:?} and discriminator mapping {mapped:?} differ"
        ));
    }
    for (tag, r) in &mapping {
        let variant = r
            .as_str()
            .and_then(|r| doc.pointer(r.trim_start_matches('#')));
        let constant = variant.map(|v| &v["properties"]["type"]["const"]);
        let required = variant
            .and_then(|v| v["required"].as_array())
            .is_some_and(|r| r.contains(&json!("type")));
        if constant != Some(&json!(tag)) || !required {
            problems.push(format!(
                "Evidence: the variant mapped from {tag:?} ({r}) does not require type: {tag:?}"
            ));
        }
    }
    problems
}

/// Path templates whose `{parameters}` and declared path parameters differ.
fn path_parameter_problems(doc: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for (path, method, op, _) in operations(doc) {
        let in_template: BTreeSet<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .map(str::to_owned)
            .collect();
        let item_params = doc["paths"][&path]["parameters"].as_array();
        let declared: BTreeSet<String> = item_params
            .into_iter()
            .flatten()
            .chain(op["parameters"].as_array().into_iter().flatten())
            .map(|p| deref(doc, p))
            .filter(|p| p["in"] == "path" && p["required"] == true)
            .filter_map(|p| p["name"].as_str().map(str::to_owned))
            .collect();
        if in_template != declared {
            problems.push(format!(
                "{method} {path}: path parameters {declared:?}, template {in_template:?}"
            ));
        }
    }
    problems
}

// ----- The router, read from its source -----

/// One route of the router: its path, lower-case method and operationId.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Route {
    path: String,
    method: String,
    handler: String,
}

/// The routes `Api::router` registers: the table it is built from.
fn routes() -> Vec<Route> {
    let mut routes: Vec<Route> = Endpoint::ALL
        .into_iter()
        .map(|e| {
            let op = e.operation();
            Route {
                path: op.path.to_owned(),
                method: op.method.as_str().to_lowercase(),
                handler: op.id.to_owned(),
            }
        })
        .collect();
    routes.sort();
    routes
}

/// Routes the document lacks and operations the router lacks.
fn route_problems(routes: &[Route], doc: &Value) -> Vec<String> {
    let served: BTreeSet<(String, String)> = routes
        .iter()
        .map(|r| (r.path.clone(), r.method.clone()))
        .collect();
    let documented: BTreeSet<(String, String)> = operations(doc)
        .into_iter()
        .map(|(p, m, _, _)| (p, m))
        .collect();
    let mut problems: Vec<String> = served
        .difference(&documented)
        .map(|(p, m)| {
            format!(
                "{} {p}: served by Api::router, not in {DOCUMENT}",
                m.to_uppercase()
            )
        })
        .collect();
    problems.extend(documented.difference(&served).map(|(p, m)| {
        format!(
            "{} {p}: in {DOCUMENT}, not served by Api::router",
            m.to_uppercase()
        )
    }));
    for r in routes {
        let documented = &doc["paths"][&r.path][&r.method]["operationId"];
        if documented.is_string() && documented != r.handler.as_str() {
            problems.push(format!(
                "{} {}: operationId {documented} in {DOCUMENT}, {} in Endpoint",
                r.method.to_uppercase(),
                r.path,
                r.handler
            ));
        }
    }
    let paths: BTreeSet<&str> = doc["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(p, _)| p.as_str())
        .collect();
    for p in paths {
        if !served.iter().any(|(s, _)| s == p) {
            problems.push(format!("{p}: a path in {DOCUMENT} that Api::router lacks"));
        }
    }
    problems
}

/// Operations that do not need the bearer token, lack 401 or 403, or whose roles
/// (`x-roles`, the description's `Roles:` line) are not `roles_of` the route.
fn security_problems(
    doc: &Value,
    roles_of: &BTreeMap<(String, String), BTreeSet<String>>,
) -> Vec<String> {
    let schemes = &doc["components"]["securitySchemes"];
    let bearer = |name: &str| {
        let s = &schemes[name];
        s["type"] == "http"
            && s["scheme"]
                .as_str()
                .is_some_and(|x| x.eq_ignore_ascii_case("bearer"))
    };
    let needs_bearer = |security: &Value| {
        security.as_array().is_some_and(|reqs| {
            !reqs.is_empty()
                && reqs.iter().all(|r| {
                    r.as_object()
                        .is_some_and(|m| !m.is_empty() && m.keys().all(|k| bearer(k)))
                })
        })
    };
    let mut problems = Vec::new();
    if !needs_bearer(&doc["security"]) {
        problems.push("the document's default security is not the bearer token".to_owned());
    }
    for (path, method, op, _) in operations(doc) {
        let name = format!("{} {path}", method.to_uppercase());
        if !needs_bearer(&op["security"]) {
            problems.push(format!(
                "{name}: no `security` requiring the bearer token (an empty requirement makes it optional)"
            ));
        }
        for status in ["401", "403"] {
            if op["responses"].get(status).is_none() {
                problems.push(format!("{name}: no {status} response"));
            }
        }
        let x_roles: Option<BTreeSet<String>> = op["x-roles"].as_array().map(|a| {
            a.iter()
                .filter_map(|r| r.as_str().map(str::to_owned))
                .collect()
        });
        let described: Option<BTreeSet<String>> = op["description"]
            .as_str()
            .and_then(|d| d.lines().find_map(|l| l.trim().strip_prefix("Roles:")))
            .map(|l| l.split('`').skip(1).step_by(2).map(str::to_owned).collect());
        let Some(want) = roles_of.get(&(path.clone(), method.clone())) else {
            continue; // route_problems reports it
        };
        if x_roles.as_ref() != Some(want) {
            problems.push(format!(
                "{name}: x-roles {x_roles:?}, the handler admits {want:?}"
            ));
        }
        if described.as_ref() != Some(want) {
            problems.push(format!(
                "{name}: the description's `Roles:` line names {described:?}, the handler admits {want:?}"
            ));
        }
    }
    problems
}

/// The roles each route admits: those its endpoint's permission is granted to.
fn roles_by_route(
    permission_of: impl Fn(Endpoint) -> Permission,
) -> BTreeMap<(String, String), BTreeSet<String>> {
    Endpoint::ALL
        .into_iter()
        .map(|e| {
            let op = e.operation();
            let roles = Role::ALL
                .into_iter()
                .filter(|r| permission_of(e).granted_to(*r))
                .map(|r| r.as_str().to_owned())
                .collect();
            (
                (op.path.to_owned(), op.method.as_str().to_lowercase()),
                roles,
            )
        })
        .collect()
}

#[test]
fn the_document_is_valid_openapi_3_1() {
    let doc = document();
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1.")),
        "{}",
        doc["openapi"]
    );
    let problems: Vec<String> = structure_problems(&openapi_validator(), &doc)
        .into_iter()
        .chain(reference_problems(&doc))
        .chain(schema_problems(&doc))
        .chain(path_parameter_problems(&doc))
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_document_has_exactly_the_routes_of_the_router() {
    let routes = routes();
    assert!(routes.len() >= 7, "{routes:?}");
    let problems = route_problems(&routes, &document());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_operation_needs_a_token_and_names_its_roles() {
    let roles = roles_by_route(|e| e.operation().permission);
    let problems = security_problems(&document(), &roles);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The names of an enum schema.
fn enum_names(schema: &Value) -> BTreeSet<String> {
    schema["enum"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// Serialized names (each value serializes as a JSON string).
fn serialized<T: serde::Serialize>(values: &[T]) -> BTreeSet<String> {
    values
        .iter()
        .map(|v| {
            serde_json::to_value(v)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// The document's enums against the code's lists of names.
fn enum_problems(doc: &Value) -> Vec<String> {
    let schemas = &doc["components"]["schemas"];
    let code: Vec<(&str, &Value, BTreeSet<String>)> = vec![
        ("RuleName", &schemas["RuleName"], serialized(NAMES)),
        ("Severity", &schemas["Severity"], serialized(&Severity::ALL)),
        (
            "EventKind",
            &schemas["EventKind"],
            serialized(&EventKind::ALL),
        ),
        (
            "EventFormat",
            &schemas["EventFormat"],
            serialized(&Format::ALL),
        ),
        (
            "ClaimedProfile.status",
            &schemas["ClaimedProfile"]["properties"]["status"],
            Status::ALL.iter().map(|s| s.as_str().to_owned()).collect(),
        ),
        (
            "Verdict",
            &schemas["Verdict"],
            serialized(&[
                Verdict::TruePositive,
                Verdict::Benign,
                Verdict::FalsePositive,
            ]),
        ),
        (
            "Role",
            &schemas["Role"],
            serialized(&[Role::Auditor, Role::Analyst, Role::Admin]),
        ),
        ("Role (Role::ALL)", &schemas["Role"], serialized(&Role::ALL)),
    ];
    code.into_iter()
        .filter(|(_, schema, want)| enum_names(schema) != *want)
        .map(|(name, schema, want)| {
            format!(
                "{name}: the document says {:?}, the code {want:?}",
                enum_names(schema)
            )
        })
        .collect()
}

#[test]
fn the_document_has_the_names_the_code_has() {
    let problems = enum_problems(&document());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Each check, on a copy of the document broken in the way it looks for.
#[test]
fn checks_can_fail() {
    let routes = routes();
    let roles = roles_by_route(|e| e.operation().permission);
    let doc = document();
    let validator = openapi_validator();
    let broken = |f: &dyn Fn(&mut Value)| {
        let mut d = doc.clone();
        f(&mut d);
        d
    };
    let says = |problems: Vec<String>, what: &str| {
        assert!(
            problems.iter().any(|p| p.contains(what)),
            "expected a problem containing {what:?}, got {problems:?}"
        );
    };

    // YAML: a key given twice, and the document's own text with a path repeated.
    assert!(parse_yaml("a: 1\na: 2\n").is_err(), "duplicate keys");
    let text = read(DOCUMENT);
    let twice = text.replacen(
        "  /api/v1/clusters:\n",
        "  /api/v1/clusters:\n    get: {}\n  /api/v1/clusters:\n",
        1,
    );
    assert_ne!(twice, text);
    assert!(parse_yaml(&twice).is_err(), "a path given twice");

    // Structure.
    says(
        structure_problems(
            &validator,
            &broken(&|d| {
                d.as_object_mut().unwrap().remove("info");
            }),
        ),
        "info",
    );
    says(
        structure_problems(&validator, &broken(&|d| d["openapi"] = json!("3.0.3"))),
        "/openapi",
    );
    says(
        structure_problems(
            &validator,
            &broken(&|d| {
                d["paths"]["/api/v1/clusters"]["get"]["responses"]["200"]
                    .as_object_mut()
                    .unwrap()
                    .remove("description");
            }),
        ),
        "/paths/~1api~1v1~1clusters/get/responses/200",
    );
    says(
        structure_problems(
            &validator,
            &broken(&|d| {
                d["paths"]["/api/v1/alerts"]["get"]["parameters"][0]["in"] = json!("body")
            }),
        ),
        "/parameters/0",
    );
    // References, schemas, examples, the discriminator, path parameters.
    says(
        reference_problems(&broken(&|d| {
            d["components"]["schemas"]["Alert"]["properties"]["severity"]["$ref"] =
                json!("#/components/schemas/Sevrity")
        })),
        "Sevrity",
    );
    says(
        schema_problems(&broken(&|d| {
            d["components"]["schemas"]["Error"]["type"] = json!("dict")
        })),
        "/components/schemas/Error",
    );
    says(
        schema_problems(&broken(&|d| {
            d["components"]["responses"]["NoSuchAlert"]["content"]["application/json"]["example"] =
                json!({"message": "gone"})
        })),
        "example does not fit",
    );
    says(
        schema_problems(&broken(&|d| {
            d["components"]["schemas"]["NoteEvidence"]["properties"]["type"]["const"] =
                json!("remark")
        })),
        "\"note\"",
    );
    says(
        path_parameter_problems(&broken(&|d| {
            let item = d["paths"]
                .as_object_mut()
                .unwrap()
                .remove("/api/v1/alerts/{id}")
                .unwrap();
            d["paths"]["/api/v1/alerts/{alert_id}"] = item;
        })),
        "{alert_id}",
    );

    says(
        enum_problems(&broken(&|d| {
            d["components"]["schemas"]["RuleName"]["enum"]
                .as_array_mut()
                .unwrap()
                .pop();
        })),
        "RuleName",
    );

    // Routes: one left out, one invented, one with another method.
    says(
        route_problems(
            &routes,
            &broken(&|d| {
                d["paths"]
                    .as_object_mut()
                    .unwrap()
                    .remove("/api/v1/clusters");
            }),
        ),
        "GET /api/v1/clusters: served by Api::router",
    );
    says(
        route_problems(
            &routes,
            &broken(&|d| {
                d["paths"]["/api/v1/alerts/{id}/notes"] = d["paths"]["/api/v1/alerts/{id}"].clone()
            }),
        ),
        "/api/v1/alerts/{id}/notes: in",
    );
    says(
        route_problems(
            &routes,
            &broken(&|d| {
                let post = d["paths"]["/api/v1/alerts/{id}/disposition"]
                    .as_object_mut()
                    .unwrap()
                    .remove("post")
                    .unwrap();
                d["paths"]["/api/v1/alerts/{id}/disposition"]["put"] = post;
            }),
        ),
        "PUT /api/v1/alerts/{id}/disposition: in",
    );
    // A route the document lacks.
    let mut more_routes = routes.clone();
    more_routes.push(Route {
        path: "/api/v1/extra".into(),
        method: "delete".into(),
        handler: "deleteExtra".into(),
    });
    says(route_problems(&more_routes, &doc), "DELETE /api/v1/extra");
    says(
        route_problems(
            &routes,
            &broken(&|d| d["paths"]["/api/v1/clusters"]["get"]["operationId"] = json!("clusters")),
        ),
        "GET /api/v1/clusters: operationId",
    );

    // Security and roles.
    let clusters = "/api/v1/clusters";
    says(
        security_problems(
            &broken(&|d| {
                d["paths"][clusters]["get"]
                    .as_object_mut()
                    .unwrap()
                    .remove("security");
            }),
            &roles,
        ),
        "GET /api/v1/clusters: no `security`",
    );
    says(
        security_problems(
            &broken(&|d| d["paths"][clusters]["get"]["security"] = json!([{}])),
            &roles,
        ),
        "GET /api/v1/clusters: no `security`",
    );
    for status in ["401", "403"] {
        says(
            security_problems(
                &broken(&|d| {
                    d["paths"][clusters]["get"]["responses"]
                        .as_object_mut()
                        .unwrap()
                        .remove(status);
                }),
                &roles,
            ),
            &format!("GET /api/v1/clusters: no {status} response"),
        );
    }
    let dispose = "/api/v1/alerts/{id}/disposition";
    says(
        security_problems(
            &broken(&|d| d["paths"][dispose]["post"]["x-roles"] = json!(["analyst", "admin"])),
            &roles,
        ),
        "POST /api/v1/alerts/{id}/disposition: x-roles",
    );
    says(
        security_problems(
            &broken(&|d| {
                let text = d["paths"][dispose]["post"]["description"]
                    .as_str()
                    .unwrap()
                    .replace("Roles: `analyst`.", "Roles: `auditor`, `analyst`.");
                d["paths"][dispose]["post"]["description"] = json!(text);
            }),
            &roles,
        ),
        "the description's `Roles:` line",
    );
    // An endpoint whose permission changes changes its roles.
    let looser = roles_by_route(|e| match e {
        Endpoint::ListTokens => Permission::Read,
        e => e.operation().permission,
    });
    says(
        security_problems(&doc, &looser),
        "GET /api/v1/admin/tokens: x-roles",
    );

    // What the API answers: an alert line with a field the document does not know.
    let registry = registry(&doc);
    let alert = validator_at(&registry, "/components/schemas/Alert").unwrap();
    let mut line = serde_json::to_value(sample_alert("E1")).unwrap();
    assert!(alert.is_valid(&line), "{:?}", alert.validate(&line).err());
    line["evidence"][0]["country_code"] = json!("DE");
    assert!(!alert.is_valid(&line));
}

// ----- What the API answers -----

/// An alert line with every kind of evidence, optional fields given and left out.
fn sample_alert(employee: &str) -> Alert {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let t = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    let member = |id: &str, city: Option<&str>| ClusterMember {
        employee_id: EmployeeId(id.into()),
        claimed_country: "DE".into(),
        claimed_city: city.map(str::to_owned),
        last_seen: t("2026-03-02T08:15:00.250Z"),
    };
    let evidence = vec![
        Evidence::Login {
            time: t("2026-03-02T08:15:00Z"),
            ip: ip("203.0.113.7"),
            kind: EventKind::InteractiveLogin,
            format: Format::Okta,
            user: "a@corp.example".into(),
            source_id: Some("evt-1".into()),
            correlation_id: Some("XkcAsWb8WjwDP76xh@1v8wAABp0".into()),
            user_agent: Some("Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:72.0)".into()),
            device: Some("Computer".into()),
        },
        Evidence::Login {
            time: t("2026-03-02T08:15:00Z"),
            ip: ip("2001:db8::1"),
            kind: EventKind::VpnSessionStart,
            format: Format::CiscoAsa,
            user: "a".into(),
            source_id: None,
            correlation_id: None,
            user_agent: None,
            device: None,
        },
        Evidence::Location {
            country: Some("NL".into()),
            city: Some("Amsterdam".into()),
            lat: Some(52.37),
            lon: Some(4.89),
            accuracy_km: Some(20),
            asn: Some(64500),
            as_org: Some("Example Hosting".into()),
            tags: vec!["vpn".into()],
        },
        Evidence::Location {
            country: None,
            city: None,
            lat: None,
            lon: None,
            accuracy_km: None,
            asn: None,
            as_org: None,
            tags: Vec::new(),
        },
        Evidence::Claimed {
            country: "US".into(),
            city: Some("Chicago".into()),
            timezone: "America/Chicago".into(),
        },
        Evidence::Claimed {
            country: "US".into(),
            city: None,
            timezone: "America/Chicago".into(),
        },
        Evidence::Database {
            database_type: "GeoLite2-City".into(),
            build: "2026-02-27T12:00:00Z".into(),
        },
        Evidence::Travel {
            from_time: t("2026-03-02T06:00:00Z"),
            from_ip: ip("198.51.100.1"),
            from_place: Some("Chicago, US".into()),
            to_time: t("2026-03-02T08:15:00Z"),
            to_ip: ip("203.0.113.7"),
            to_place: None,
            distance_km: 6600.5,
            effective_km: 6500.0,
            hours: 2.25,
            speed_kmh: 2888.9,
        },
        Evidence::Hours {
            claimed_timezone: "America/Chicago".into(),
            claimed_offset_hours: -6.0,
            inferred_offset_hours: 10.0,
            share_outside: 0.8,
            active_days: 20,
            logins: 120,
            test: "binomial".into(),
            p_value: 1e-9,
        },
        Evidence::Share {
            what: "interactive logins through an anonymizer".into(),
            share: 0.5,
            matching: 10,
            logins: 20,
            window_days: 30,
            providers: vec!["ExampleVPN".into()],
        },
        Evidence::Share {
            what: "interactive logins through an anonymizer".into(),
            share: 0.5,
            matching: 10,
            logins: 20,
            window_days: 30,
            providers: Vec::new(),
        },
        Evidence::Cluster {
            network: "2001:db8:1:2::/64".into(),
            employees_on_network: 3,
            members: vec![member("E1", Some("Berlin")), member("E2", None)],
        },
        Evidence::Baseline {
            what: "country".into(),
            value: "NL".into(),
            known: vec!["US".into()],
            logins_seen: 300,
        },
        Evidence::Session {
            session: Some("s-1".into()),
            started: Some(t("2026-03-01T08:00:00Z")),
            ended: Some(t("2026-03-02T08:00:00Z")),
            duration_hours: Some(24.0),
            ip: ip("203.0.113.7"),
        },
        Evidence::Session {
            session: None,
            started: None,
            ended: None,
            duration_hours: None,
            ip: ip("203.0.113.7"),
        },
        Evidence::Note {
            text: "anonymizer: severity lowered".into(),
        },
    ];
    Alert {
        id: "dw-0123456789abcdef01234567".into(),
        status: AlertStatus::Escalated,
        employee_id: EmployeeId(employee.into()),
        time: t("2026-03-02T08:15:00.5Z"),
        detected_at: Some(t("2026-03-02T08:17:30.125Z")),
        severity: Severity::Critical,
        rules: vec!["impossible_travel".into(), "shared_infrastructure".into()],
        risk: 90,
        summary: "every kind of evidence".into(),
        findings: vec![driftwatch::alert::FindingNote {
            rule: "impossible_travel".into(),
            severity: Severity::Critical,
            summary: "Seoul to Seattle in an hour.".into(),
        }],
        evidence,
    }
}

/// The `type` of each evidence variant. A new variant fails to compile here: document it
/// (`Evidence` in docs/openapi.yaml) and add it to `sample_alert`.
fn evidence_type(e: &Evidence) -> &'static str {
    match e {
        Evidence::Login { .. } => "login",
        Evidence::Location { .. } => "location",
        Evidence::Claimed { .. } => "claimed",
        Evidence::Database { .. } => "database",
        Evidence::Travel { .. } => "travel",
        Evidence::Hours { .. } => "hours",
        Evidence::Share { .. } => "share",
        Evidence::Cluster { .. } => "cluster",
        Evidence::Baseline { .. } => "baseline",
        Evidence::Session { .. } => "session",
        Evidence::Note { .. } => "note",
    }
}

struct Sink {
    view: Arc<View>,
    /// Refuse dispositions whose note starts with this (to see the 503).
    refuse: &'static str,
}

impl Dispositions for Sink {
    fn submit(&self, d: &Disposition) -> Result<(), String> {
        if d.note.starts_with(self.refuse) {
            return Err("the topic is down".into());
        }
        // What the detect stage and the view feeder do in `run`, at once.
        self.view.apply_disposition(d);
        Ok(())
    }
}

struct NoAudit;
impl Audit for NoAudit {
    fn call(&self, _: &Call) {}
    fn disposition(&self, _: &str, _: &Disposition) {}
}

struct Server {
    base: String,
    tokens: BTreeMap<&'static str, String>,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    alerts: Vec<Alert>,
    employees: Vec<String>,
}

/// The API over a view of what a replay of the examples learned and raised, plus
/// `sample_alert` for a roster employee and for one the roster lacks.
fn start(max_body_bytes: usize) -> Server {
    let (config, roster, engine, mut alerts) = support::examples::replay_examples();
    let known = roster.iter().next().unwrap().employee_id.0.clone();
    let mut unknown = sample_alert("X-not-in-roster");
    unknown.id = "dw-fedcba9876543210fedcba98".into();
    alerts.extend([sample_alert(&known), unknown]);
    let view = support::examples::view_of(&config, &engine, &alerts);
    let (api_config, tokens) = support::examples::api_with_a_token_per_role(max_body_bytes);
    let tokens: BTreeMap<&'static str, String> = tokens
        .into_iter()
        .map(|(role, token)| (role.as_str(), token))
        .collect();
    let r = Arc::clone(&roster);
    let api = Api::new(
        &api_config,
        Arc::clone(&view),
        Arc::new(move || Arc::clone(&r)),
        Arc::new(Sink {
            view: Arc::clone(&view),
            refuse: "REFUSE",
        }),
        Arc::new(NoAudit),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = api.router(max_body_bytes);
    runtime.spawn(async move { axum::serve(listener, app).await });
    let mut employees: Vec<String> = roster.iter().map(|p| p.employee_id.0.to_string()).collect();
    employees.push("X-not-in-roster".into());
    Server {
        base,
        tokens,
        client: reqwest::Client::new(),
        runtime,
        alerts,
        employees,
    }
}

/// One answer of the API.
struct Answer {
    status: u16,
    content_type: String,
    allow: Option<String>,
    body: String,
}

impl Server {
    fn call(
        &self,
        method: &str,
        path: &str,
        role: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Answer {
        let url = format!("{}{path}", self.base);
        self.runtime.block_on(async {
            let mut rq = self.client.request(method.parse().unwrap(), &url);
            if let Some(r) = role {
                rq = rq.bearer_auth(&self.tokens[r]);
            }
            if let Some((content_type, bytes)) = body {
                rq = rq.header("Content-Type", content_type).body(bytes);
            }
            let response = rq.send().await.unwrap();
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let allow = response
                .headers()
                .get("allow")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            Answer {
                status,
                content_type,
                allow,
                body: response.text().await.unwrap(),
            }
        })
    }
}

/// The documented operation a concrete path is an instance of.
fn template_of<'d>(doc: &'d Value, method: &str, path: &str) -> Option<&'d str> {
    let path = path.split('?').next().unwrap_or(path);
    let parts: Vec<&str> = path.split('/').collect();
    doc["paths"]
        .as_object()?
        .iter()
        .filter(|(_, item)| item.get(method).is_some())
        .map(|(t, _)| t.as_str())
        .find(|t| {
            let tp: Vec<&str> = t.split('/').collect();
            tp.len() == parts.len()
                && tp
                    .iter()
                    .zip(&parts)
                    .all(|(a, b)| (a.starts_with('{') && a.ends_with('}')) || a == b)
        })
}

/// What is wrong with `answer` to `method path` by the document; records the status seen.
fn answer_problems(
    doc: &Value,
    registry: &Registry<'_>,
    seen: &mut BTreeSet<(String, String, String)>,
    method: &str,
    path: &str,
    answer: &Answer,
) -> Vec<String> {
    let method = method.to_lowercase();
    let name = format!("{} {path} -> {}", method.to_uppercase(), answer.status);
    let Some(template) = template_of(doc, &method, path) else {
        return vec![format!("{name}: no such operation in the document")];
    };
    let status = answer.status.to_string();
    seen.insert((template.to_owned(), method.clone(), status.clone()));
    let pointer = deref_pointer(
        doc,
        format!("/paths/{}/{method}/responses/{status}", escape(template)),
    );
    let Some(response) = doc.pointer(&pointer) else {
        return vec![format!(
            "{name}: status {status} is not documented: {}",
            answer.body
        )];
    };
    let Some(content) = response["content"].as_object() else {
        return if answer.body.is_empty() {
            Vec::new()
        } else {
            vec![format!(
                "{name}: documented without a body, answered {}",
                answer.body
            )]
        };
    };
    let Some(media) = content
        .keys()
        .find(|m| answer.content_type.starts_with(m.as_str()))
    else {
        return vec![format!(
            "{name}: documented as {:?}, answered {:?}: {}",
            content.keys().collect::<Vec<_>>(),
            answer.content_type,
            answer.body
        )];
    };
    let value = if media == "application/json" {
        match serde_json::from_str::<Value>(&answer.body) {
            Ok(v) => v,
            Err(e) => return vec![format!("{name}: not JSON ({e}): {}", answer.body)],
        }
    } else {
        Value::String(answer.body.clone())
    };
    let validator = validator_at(
        registry,
        &format!("{pointer}/content/{}/schema", escape(media)),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    validator
        .iter_errors(&value)
        .take(5)
        .map(|e| format!("{name}: at {}: {e}", e.instance_path()))
        .collect()
}

/// Calls the API and checks each answer against the document.
struct Checker<'d> {
    doc: &'d Value,
    registry: Registry<'static>,
    seen: BTreeSet<(String, String, String)>,
    problems: Vec<String>,
}

impl Checker<'_> {
    fn call(
        &mut self,
        s: &Server,
        method: &str,
        path: &str,
        role: Option<&str>,
        body: Body,
    ) -> Answer {
        let answer = s.call(method, path, role, body);
        let problems = answer_problems(
            self.doc,
            &self.registry,
            &mut self.seen,
            method,
            path,
            &answer,
        );
        self.problems.extend(problems);
        answer
    }
}

/// A request body and its content type.
type Body = Option<(&'static str, Vec<u8>)>;

fn json_body(v: &Value) -> Body {
    Some(("application/json", serde_json::to_vec(v).unwrap()))
}

#[test]
fn every_answer_of_the_api_is_as_documented() {
    let doc = document();
    let mut c = Checker {
        doc: &doc,
        registry: registry(&doc),
        seen: BTreeSet::new(),
        problems: Vec::new(),
    };
    let s = start(16 * 1024);

    // The sample has every evidence variant, and the document exactly those.
    let sample = sample_alert("E1");
    let sampled: BTreeSet<&str> = sample.evidence.iter().map(evidence_type).collect();
    let documented: BTreeSet<&str> =
        doc["components"]["schemas"]["Evidence"]["discriminator"]["mapping"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
    assert_eq!(sampled, documented, "evidence types: sampled vs documented");
    let json = serde_json::to_value(&sample).unwrap();
    for (e, v) in sample
        .evidence
        .iter()
        .zip(json["evidence"].as_array().unwrap())
    {
        assert_eq!(v["type"], evidence_type(e), "{v}");
    }

    // Reads, as every role and without a token; refused reads.
    let alert_ids: BTreeSet<String> = s.alerts.iter().map(|a| a.id.clone()).collect();
    let mut reads = vec![
        "/api/v1/employees".to_owned(),
        "/api/v1/employees?min_risk=low".to_owned(),
        "/api/v1/employees?sort=risk&limit=3&min_risk=low".to_owned(),
        "/api/v1/employees?sort=id&limit=0".to_owned(),
        "/api/v1/places".to_owned(),
        "/api/v1/places?min_risk=high".to_owned(),
        "/api/v1/places?employee_id=X-not-in-roster".to_owned(),
        "/api/v1/alerts".to_owned(),
        "/api/v1/alerts?limit=1000&status=escalated&severity=critical&rule=impossible_travel\
         &employee_id=X-not-in-roster&from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z"
            .to_owned(),
        "/api/v1/clusters".to_owned(),
        "/api/v1/admin/tokens".to_owned(),
        "/api/v1/openapi.yaml".to_owned(),
    ];
    let lists = reads.len();
    reads.extend(s.employees.iter().map(|e| format!("/api/v1/employees/{e}")));
    reads.extend(alert_ids.iter().map(|a| format!("/api/v1/alerts/{a}")));
    for path in &reads {
        for role in ["auditor", "analyst", "admin"] {
            let a = c.call(&s, "GET", path, Some(role), None);
            let want = if path.contains("/admin/") && role != "admin" {
                403
            } else {
                200
            };
            assert_eq!(a.status, want, "{path} as {role}: {}", a.body);
        }
    }
    for path in &reads[..lists] {
        let a = c.call(&s, "GET", path, None, None);
        assert_eq!(a.status, 401, "{path}");
    }
    for (path, want) in [
        ("/api/v1/employees?min_risk=huge", 400),
        ("/api/v1/employees?bogus=1", 400),
        ("/api/v1/employees?sort=name", 400),
        ("/api/v1/employees?limit=-1", 400),
        ("/api/v1/places?min_risk=huge", 400),
        ("/api/v1/places?sort=risk", 400),
        ("/api/v1/alerts?status=closed", 400),
        ("/api/v1/alerts?limit=-1", 400),
        ("/api/v1/alerts?from=yesterday", 400),
        ("/api/v1/employees/E-nobody", 404),
        ("/api/v1/alerts/dw-000000000000000000000000", 404),
        ("/api/v1/employees/%FF", 400),
        ("/api/v1/alerts/%FF", 400),
    ] {
        let a = c.call(&s, "GET", path, Some("auditor"), None);
        assert_eq!(a.status, want, "{path}: {}", a.body);
        let a = c.call(&s, "GET", path, None, None);
        assert_eq!(a.status, 401, "{path}: {}", a.body);
    }
    // The document served is this very file, and it is YAML.
    let served = c.call(&s, "GET", "/api/v1/openapi.yaml", Some("auditor"), None);
    assert_eq!(served.content_type, "application/yaml");
    assert_eq!(
        served.body,
        read("docs/openapi.yaml"),
        "the served document"
    );
    assert_eq!(parse_yaml(&served.body).unwrap()["openapi"], "3.1.0");
    // What the samples put in: a cluster, and an employee the roster lacks (nulls).
    let clusters: Value = serde_json::from_str(
        &s.call("GET", "/api/v1/clusters", Some("auditor"), None)
            .body,
    )
    .unwrap();
    assert!(!clusters["clusters"].as_array().unwrap().is_empty());
    let nobody: Value = serde_json::from_str(
        &s.call(
            "GET",
            "/api/v1/employees/X-not-in-roster",
            Some("auditor"),
            None,
        )
        .body,
    )
    .unwrap();
    assert_eq!(nobody["claimed"], Value::Null, "{nobody}");
    assert_eq!(nobody["recent_findings"].as_array().unwrap().len(), 1);

    // Dispositions: every way to refuse one, then accepted ones, shown by the alert.
    let id = s.alerts[0].id.clone();
    let path = format!("/api/v1/alerts/{id}/disposition");
    let ok =
        json!({"verdict": "benign", "note": "approved travel", "suppress_days": 7, "rules": []});
    let oversized = json!({"verdict": "benign", "note": "x".repeat(20_000)});
    let analyst = Some("analyst");
    let j = |v: Value| json_body(&v);
    let cases: Vec<(Option<&str>, u16, Body)> = vec![
        (None, 401, j(ok.clone())),
        (Some("auditor"), 403, j(ok.clone())),
        (Some("admin"), 403, j(ok.clone())),
        (analyst, 415, Some(("text/plain", b"benign".to_vec()))),
        (analyst, 400, Some(("application/json", b"{no".to_vec()))),
        (
            analyst,
            400,
            Some(("application/json", b"\xff\xfe".to_vec())),
        ),
        (analyst, 400, j(json!({"verdict": "maybe"}))),
        (analyst, 400, j(json!({"verdict": "benign", "x": 1}))),
        (
            analyst,
            400,
            j(json!({"verdict": "benign", "suppress_days": 366})),
        ),
        (
            analyst,
            400,
            j(json!({"verdict": "benign", "rules": ["nope"]})),
        ),
        (
            analyst,
            400,
            j(json!({"verdict": "benign", "note": "é".repeat(4001)})),
        ),
        (analyst, 413, j(oversized.clone())),
        // The role is checked first: a body the caller may not send is never read.
        (Some("auditor"), 403, j(oversized)),
        (
            analyst,
            503,
            j(json!({"verdict": "benign", "note": "REFUSE"})),
        ),
        (analyst, 202, j(ok.clone())),
        (analyst, 202, j(json!({"verdict": "true_positive"}))),
        (
            analyst,
            202,
            j(json!({"verdict": "benign", "suppress_days": 0, "note": "nothing"})),
        ),
        (
            analyst,
            202,
            j(
                json!({"verdict": "false_positive", "note": "fp", "suppress_days": null, "rules": ["novelty"]}),
            ),
        ),
    ];
    for (role, want, body) in cases {
        let a = c.call(&s, "POST", &path, role, body);
        assert_eq!(a.status, want, "{role:?}: {}", a.body);
    }
    let a = c.call(
        &s,
        "POST",
        "/api/v1/alerts/%FF/disposition",
        Some("analyst"),
        json_body(&ok),
    );
    assert_eq!(a.status, 400, "{}", a.body);
    let a = c.call(
        &s,
        "POST",
        "/api/v1/alerts/dw-000000000000000000000000/disposition",
        Some("analyst"),
        json_body(&ok),
    );
    assert_eq!(a.status, 404, "{}", a.body);
    let a = c.call(
        &s,
        "GET",
        &format!("/api/v1/alerts/{id}"),
        Some("auditor"),
        None,
    );
    let detail: Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(detail["status"], "disposed");
    // What the document says of a recorded disposition: named rules, the note signed, and
    // days silenced from the alert's first line (none for a true positive or 0 days).
    let days = |d: &Value| {
        let t = |k: &str| {
            d[k].as_str()
                .unwrap()
                .parse::<chrono::DateTime<chrono::Utc>>()
        };
        (t("until").unwrap() - t("time").unwrap()).num_days()
    };
    let first_line = s.alerts.iter().find(|a| a.id == id).unwrap().time;
    let mut by_note = BTreeMap::new();
    for d in detail["dispositions"].as_array().unwrap() {
        assert!(!d["rules"].as_array().unwrap().is_empty(), "{d}");
        assert_eq!(d["time"], serde_json::to_value(first_line).unwrap(), "{d}");
        by_note.insert(
            d["note"].as_str().unwrap().to_owned(),
            (days(d), d["rules"].clone()),
        );
    }
    let rules = &detail["alert"]["rules"];
    assert_eq!(
        by_note,
        BTreeMap::from([
            (
                "approved travel (by analyst-1)".to_owned(),
                (7, rules.clone())
            ),
            ("by analyst-1".to_owned(), (0, rules.clone())),
            ("nothing (by analyst-1)".to_owned(), (0, rules.clone())),
            ("fp (by analyst-1)".to_owned(), (30, json!(["novelty"]))),
        ])
    );
    assert_eq!(
        detail["dispositions"].as_array().unwrap().len(),
        4,
        "{detail}"
    );
    let a = c.call(
        &s,
        "GET",
        "/api/v1/alerts?status=disposed",
        Some("auditor"),
        None,
    );
    let disposed: Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(
        disposed["alerts"].as_array().unwrap().len(),
        1,
        "{disposed}"
    );

    // What the document's description says of paths and methods it has no operation for.
    let a = s.call("GET", "/api/v1/nothing", Some("auditor"), None);
    assert_eq!(
        (a.status, a.body.as_str()),
        (404, r#"{"error":"no such endpoint"}"#)
    );
    assert_eq!(s.call("GET", "/api/v1/nothing", None, None).status, 401);
    let a = s.call("DELETE", "/api/v1/employees", Some("auditor"), None);
    assert_eq!(
        (a.status, a.body.as_str()),
        (405, r#"{"error":"method not allowed"}"#)
    );
    assert!(
        a.allow.as_deref().is_some_and(|m| m.contains("GET")),
        "{:?}",
        a.allow
    );
    assert_eq!(
        s.call("DELETE", "/api/v1/employees", None, None).status,
        401
    );

    assert!(c.problems.is_empty(), "{}", c.problems.join("\n"));

    // Every documented answer was seen, except 403 where every role may call.
    let every_role: BTreeSet<String> = ["auditor", "analyst", "admin"].map(String::from).into();
    let mut unseen = Vec::new();
    for (path, method, op, _) in operations(&doc) {
        let roles: BTreeSet<String> = op["x-roles"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_str().map(str::to_owned))
            .collect();
        for status in op["responses"].as_object().unwrap().keys() {
            if status == "403" && roles == every_role {
                continue;
            }
            if !c
                .seen
                .contains(&(path.clone(), method.clone(), status.clone()))
            {
                unseen.push(format!("{} {path} {status}", method.to_uppercase()));
            }
        }
    }
    assert!(
        unseen.is_empty(),
        "documented but never answered: {unseen:?}"
    );
}
