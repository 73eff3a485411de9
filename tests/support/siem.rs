//! Validators of driftwatch's SIEM alert lines against the shared references, read at
//! test time: OCSF lines against the OCSF schema source (the Detection Finding class, the
//! chain it extends, the profiles and objects it uses, the dictionary's types and enums),
//! ECS lines against the ECS field list.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{Map, Value};

fn reference(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/reference")
        .join(path)
}

// OCSF: the schema source resolved the way the OCSF server compiles it.

/// One attribute of a class or object: its dictionary entry with the class's or object's
/// overrides merged in, and the profile that brings it (None: always part of it).
#[derive(Debug, Clone)]
struct Attr {
    def: Map<String, Value>,
    profile: Option<String>,
}

impl Attr {
    fn requirement(&self) -> &str {
        self.def
            .get("requirement")
            .and_then(Value::as_str)
            .unwrap_or("optional")
    }
    fn type_name(&self) -> &str {
        self.def.get("type").and_then(Value::as_str).unwrap_or("")
    }
    fn is_array(&self) -> bool {
        self.def.get("is_array").and_then(Value::as_bool) == Some(true)
    }
}

/// A resolved class or object: attributes, and its `at_least_one` / `just_one` constraints.
#[derive(Debug, Clone, Default)]
struct Shape {
    attrs: BTreeMap<String, Attr>,
    at_least_one: Vec<String>,
    just_one: Vec<String>,
}

pub struct Ocsf {
    root: PathBuf,
    dictionary: Map<String, Value>,
    types: Map<String, Value>,
    objects: HashMap<String, Value>,
    class: Shape,
    pub class_uid: i64,
    pub version: String,
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `over` merged into `base`, key by key (nested maps merged too, so a class's enum adds to
/// the dictionary's).
fn merge(base: &mut Map<String, Value>, over: &Map<String, Value>) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(Value::Object(b)), Value::Object(o)) => merge(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

impl Ocsf {
    fn load() -> Ocsf {
        let root = reference("ocsf-schema");
        let dict = read_json(&root.join("dictionary.json"));
        let dictionary = dict["attributes"].as_object().unwrap().clone();
        let types = dict["types"]["attributes"].as_object().unwrap().clone();
        let mut objects = HashMap::new();
        for entry in std::fs::read_dir(root.join("objects")).unwrap() {
            let v = read_json(&entry.unwrap().path());
            objects.insert(v["name"].as_str().unwrap().to_owned(), v);
        }
        let version = read_json(&root.join("version.json"))["version"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut ocsf = Ocsf {
            root: root.clone(),
            dictionary,
            types,
            objects,
            class: Shape::default(),
            class_uid: 0,
            version,
        };
        // The class and the chain it extends: detection_finding → finding → base_event.
        let mut chain = Vec::new();
        let mut path = root.join("events/findings/detection_finding.json");
        loop {
            let v = read_json(&path);
            let parent = v["extends"].as_str().map(str::to_owned);
            chain.push(v);
            match parent.as_deref() {
                Some("base_event") => path = root.join("events/base_event.json"),
                Some(p) => path = root.join(format!("events/findings/{p}.json")),
                None => break,
            }
        }
        let finding = &chain[0];
        let category = finding_category(&root, &chain);
        ocsf.class_uid = category * 1000 + finding["uid"].as_i64().unwrap();
        chain.reverse();
        ocsf.class = ocsf.shape(&chain);
        ocsf
    }

    /// Attributes of a chain of definitions, root first.
    fn shape(&self, chain: &[Value]) -> Shape {
        let mut shape = Shape::default();
        for level in chain {
            let attrs = level["attributes"].as_object().cloned().unwrap_or_default();
            if let Some(includes) = attrs.get("$include").and_then(Value::as_array) {
                for inc in includes {
                    let profile = read_json(&self.root.join(inc.as_str().unwrap()));
                    let name = profile["name"].as_str().unwrap().to_owned();
                    for (k, v) in profile["attributes"].as_object().unwrap() {
                        self.add(
                            &mut shape,
                            k,
                            v.as_object().unwrap(),
                            Some(Some(name.clone())),
                        );
                    }
                }
            }
            for (k, v) in &attrs {
                if k == "$include" {
                    continue;
                }
                let v = v.as_object().unwrap();
                // `"profile": null` in a class keeps an attribute whatever the profiles.
                let profile = v.get("profile").map(|p| p.as_str().map(str::to_owned));
                self.add(&mut shape, k, v, profile);
            }
            if let Some(c) = level.get("constraints") {
                let list = |key: &str| -> Vec<String> {
                    c[key]
                        .as_array()
                        .map(|a| a.iter().map(|x| x.as_str().unwrap().to_owned()).collect())
                        .unwrap_or_default()
                };
                shape.at_least_one = list("at_least_one");
                shape.just_one = list("just_one");
            }
        }
        shape
    }

    fn add(
        &self,
        shape: &mut Shape,
        name: &str,
        over: &Map<String, Value>,
        profile: Option<Option<String>>,
    ) {
        let attr = shape.attrs.entry(name.to_owned()).or_insert_with(|| Attr {
            def: self
                .dictionary
                .get(name)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_else(|| panic!("{name} is not in dictionary.json")),
            profile: None,
        });
        merge(&mut attr.def, over);
        if let Some(p) = profile {
            attr.profile = p;
        }
    }

    fn object(&self, name: &str) -> Shape {
        let mut chain = Vec::new();
        let mut at = name.to_owned();
        loop {
            let v = self
                .objects
                .get(&at)
                .unwrap_or_else(|| panic!("object {at} is not in objects/"))
                .clone();
            let parent = v["extends"].as_str().map(str::to_owned);
            chain.push(v);
            match parent {
                Some(p) => at = p,
                None => break,
            }
        }
        chain.reverse();
        self.shape(&chain)
    }
}

/// The category uid of the class: categories.json's entry named by the chain's `category`.
fn finding_category(root: &Path, chain: &[Value]) -> i64 {
    let name = chain
        .iter()
        .find_map(|v| v["category"].as_str())
        .expect("a category in the class chain");
    read_json(&root.join("categories.json"))["attributes"][name]["uid"]
        .as_i64()
        .unwrap()
}

/// Recommended attributes driftwatch leaves out, and why. A recommended attribute missing
/// from a line and not listed here fails the test, and so does a reason that never applied.
pub const OCSF_ABSENT: &[(&str, &str)] = &[
    (
        "confidence_id",
        "driftwatch scores risk (risk_score), not its confidence in the finding",
    ),
    (
        "observables",
        "the observable type_id enum is compiled by the schema server from annotations, not in \
         the schema source to validate against; the address and account are typed in \
         evidences and user",
    ),
    (
        "resources",
        "the affected thing is the account, given in user",
    ),
    (
        "metadata.original_time",
        "the finding is generated, not collected from a log",
    ),
    (
        "metadata.reporter",
        "driftwatch is both product and reporter",
    ),
    ("metadata.tenant_uid", "one site per deployment; no tenant"),
    (
        "metadata.product.uid",
        "driftwatch has no product id besides its name",
    ),
    (
        "finding_info.attacks[].version",
        "T1078, T1133 and TA0001 are the same in every ATT&CK release; a matrix version \
         would date every line",
    ),
    (
        "finding_info.attacks[].sub_technique",
        "driftwatch cannot tell which kind of valid account (T1078.001-.004) was used",
    ),
    (
        "evidences[].src_endpoint.hostname",
        "VPN and SSO logs give the client's address, not its name",
    ),
    ("evidences[].src_endpoint.instance_uid", "not in login logs"),
    (
        "evidences[].src_endpoint.interface_name",
        "not in login logs",
    ),
    (
        "evidences[].src_endpoint.interface_uid",
        "not in login logs",
    ),
    ("evidences[].src_endpoint.owner", "not in login logs"),
    (
        "evidences[].src_endpoint.port",
        "login logs rarely give the client's port",
    ),
    ("evidences[].src_endpoint.svc_name", "not in login logs"),
    (
        "evidences[].src_endpoint.type_id",
        "the device type is not known from an address",
    ),
    (
        "evidences[].src_endpoint.name",
        "the endpoint has an address, no name (_entity needs name or uid only on entities \
         without an address)",
    ),
    (
        "evidences[].src_endpoint.uid",
        "the endpoint has an address, no id",
    ),
    (
        "evidences[].src_endpoint.location.continent",
        "the GeoIP answer driftwatch keeps has the country, not the continent",
    ),
    (
        "evidences[].user.has_mfa",
        "the login logs do not say whether the account has MFA",
    ),
    (
        "evidences[].user.name",
        "the claimed place's user is the employee (uid); the account is on the login",
    ),
    (
        "evidences[].user.ldap_person.location.continent",
        "the roster gives a country, not a continent",
    ),
    (
        "evidences[].src_endpoint",
        "a claimed place, a database, hours, a share, a cluster, a baseline or a note has no \
         address: its piece is in data",
    ),
    (
        "evidences[].user",
        "only logins and the claimed place name the employee",
    ),
    ("evidences[].actor", NOT_IN_A_LOGIN),
    ("evidences[].ai_agent", NOT_IN_A_LOGIN),
    ("evidences[].api", NOT_IN_A_LOGIN),
    ("evidences[].connection_info", NOT_IN_A_LOGIN),
    ("evidences[].container", NOT_IN_A_LOGIN),
    ("evidences[].database", NOT_IN_A_LOGIN),
    ("evidences[].databucket", NOT_IN_A_LOGIN),
    ("evidences[].device", NOT_IN_A_LOGIN),
    ("evidences[].dst_endpoint", NOT_IN_A_LOGIN),
    ("evidences[].email", NOT_IN_A_LOGIN),
    ("evidences[].file", NOT_IN_A_LOGIN),
    ("evidences[].http_request", NOT_IN_A_LOGIN),
    ("evidences[].http_response", NOT_IN_A_LOGIN),
    ("evidences[].ja4_fingerprint_list", NOT_IN_A_LOGIN),
    ("evidences[].job", NOT_IN_A_LOGIN),
    ("evidences[].process", NOT_IN_A_LOGIN),
    ("evidences[].query", NOT_IN_A_LOGIN),
    ("evidences[].resources", NOT_IN_A_LOGIN),
    ("evidences[].script", NOT_IN_A_LOGIN),
    ("evidences[].tls", NOT_IN_A_LOGIN),
    ("evidences[].url", NOT_IN_A_LOGIN),
];

/// Evidence kinds a login alert does not have: an evidences entry is one artefact, and
/// driftwatch's are addresses, accounts and the data of its rules. (The device, once the
/// login carries one, will be the login's.)
pub const NOT_IN_A_LOGIN: &str = "not what a login alert's evidence is (an address, an account, \
                              the data of a rule)";

/// Every problem of one OCSF line, and the recommended attributes it leaves out.
pub struct OcsfCheck<'a> {
    schema: &'a Ocsf,
    errors: Vec<String>,
    missing: BTreeSet<String>,
}

impl OcsfCheck<'_> {
    pub fn line(schema: &Ocsf, v: &Value) -> (Vec<String>, BTreeSet<String>) {
        let mut c = OcsfCheck {
            schema,
            errors: Vec::new(),
            missing: BTreeSet::new(),
        };
        c.class_rules(v);
        let class = schema.class.clone();
        c.object(&class, v, "");
        (c.errors, c.missing)
    }

    fn class_rules(&mut self, v: &Value) {
        let uid = self.schema.class_uid;
        if v["class_uid"].as_i64() != Some(uid) {
            self.errors.push(format!("class_uid is not {uid}"));
        }
        if v["category_uid"].as_i64() != Some(uid / 1000) {
            self.errors
                .push(format!("category_uid is not {}", uid / 1000));
        }
        let activity = v["activity_id"].as_i64().unwrap_or(-1);
        if v["type_uid"].as_i64() != Some(uid * 100 + activity) {
            self.errors
                .push("type_uid is not class_uid * 100 + activity_id".into());
        }
        if v["metadata"]["version"].as_str() != Some(&self.schema.version) {
            self.errors.push(format!(
                "metadata.version is not the schema's {}",
                self.schema.version
            ));
        }
        if !v["unmapped"]["driftwatch"].is_object() {
            self.errors.push("unmapped.driftwatch is missing".into());
        }
    }

    fn object(&mut self, shape: &Shape, v: &Value, path: &str) {
        let Some(map) = v.as_object() else {
            self.errors.push(format!("{path}: not an object"));
            return;
        };
        // No profile is applied: metadata.profiles must say so.
        let applied: BTreeSet<String> = BTreeSet::new();
        let wanted = |a: &Attr| a.profile.as_ref().is_none_or(|p| applied.contains(p));
        for (name, attr) in &shape.attrs {
            if !wanted(attr) || map.contains_key(name) {
                continue;
            }
            let at = join(path, name);
            match attr.requirement() {
                "required" => self.errors.push(format!("{at}: required, missing")),
                "recommended" => {
                    self.missing.insert(at);
                }
                _ => {}
            }
        }
        if !shape.at_least_one.is_empty() && !shape.at_least_one.iter().any(|k| map.contains_key(k))
        {
            self.errors.push(format!(
                "{path}: needs at least one of {:?}",
                shape.at_least_one
            ));
        }
        if !shape.just_one.is_empty()
            && shape
                .just_one
                .iter()
                .filter(|k| map.contains_key(*k))
                .count()
                != 1
        {
            self.errors
                .push(format!("{path}: needs exactly one of {:?}", shape.just_one));
        }
        for (name, value) in map {
            let at = join(path, name);
            let Some(attr) = shape.attrs.get(name).filter(|a| wanted(a)) else {
                self.errors
                    .push(format!("{at}: not an attribute of this class or object"));
                continue;
            };
            if attr.def.contains_key("@deprecated") {
                self.errors.push(format!("{at}: deprecated"));
            }
            if name == "unmapped" {
                if !value.is_object() {
                    self.errors.push(format!("{at}: not an object"));
                }
                continue;
            }
            if attr.is_array() {
                match value.as_array() {
                    Some(items) => {
                        for item in items {
                            self.value(attr, item, &format!("{at}[]"));
                        }
                    }
                    None => self.errors.push(format!("{at}: not an array")),
                }
            } else {
                self.value(attr, value, &at);
            }
            self.enumeration(attr, map, name, value, &at);
        }
    }

    /// An `*_id` with an enum takes one of its values; its sibling caption matches.
    fn enumeration(
        &mut self,
        attr: &Attr,
        map: &Map<String, Value>,
        name: &str,
        value: &Value,
        at: &str,
    ) {
        // The uids of the class, its category and its type are compiled by the schema server
        // from categories.json and the class (checked in `class_rules`).
        if ["class_uid", "category_uid", "type_uid"].contains(&name) {
            return;
        }
        let Some(values) = attr.def.get("enum").and_then(Value::as_object) else {
            return;
        };
        let key = match value {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            _ => return,
        };
        let Some(entry) = values.get(&key) else {
            self.errors.push(format!(
                "{at}: {key} is not one of {:?}",
                values.keys().collect::<Vec<_>>()
            ));
            return;
        };
        let sibling = attr.def.get("sibling").and_then(Value::as_str);
        if let (Some(sibling), Some(caption)) = (sibling, entry["caption"].as_str())
            && key != "99"
            && let Some(given) = map.get(sibling).and_then(Value::as_str)
            && given != caption
        {
            self.errors.push(format!(
                "{at}: {name} {key} is {caption:?}, but {sibling} says {given:?}"
            ));
        }
    }

    fn value(&mut self, attr: &Attr, v: &Value, at: &str) {
        let t = attr.type_name().to_owned();
        if let Some(object) = self.schema.objects.get(&t).map(|_| t.clone())
            && !self.schema.types.contains_key(&t)
        {
            let shape = self.schema.object(&object);
            self.object(&shape, v, at);
            return;
        }
        if let Some(why) = primitive(&self.schema.types, &t, v) {
            self.errors.push(format!("{at}: {why} ({t}): {v}"));
        }
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// Why `v` is not of OCSF type `t`, if it is not.
fn primitive(types: &Map<String, Value>, t: &str, v: &Value) -> Option<String> {
    let base = types.get(t).and_then(|d| d["type"].as_str()).unwrap_or(t);
    let ok = match t {
        "json_t" => true,
        "boolean_t" => v.is_boolean(),
        "integer_t" | "long_t" => v.is_i64() || v.is_u64(),
        "float_t" => v.is_number(),
        "string_t" => v.is_string(),
        "timestamp_t" => v.as_i64().is_some_and(|ms| ms > 946_684_800_000), // ms after 2000
        "ip_t" => v.as_str().is_some_and(|s| s.parse::<IpAddr>().is_ok()),
        "email_t" => v.as_str().is_some_and(|s| {
            s.split_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && d.contains('.'))
        }),
        "datetime_t" => v
            .as_str()
            .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok()),
        "url_t" => v
            .as_str()
            .is_some_and(|s| s.starts_with("https://") || s.starts_with("http://")),
        "port_t" => v.as_u64().is_some_and(|p| p <= 65535),
        _ if base != t => return primitive(types, base, v),
        _ => return Some(format!("unknown type {t}")),
    };
    (!ok).then(|| "wrong type".to_owned())
}

/// Validate every line; panics listing every problem and every unexplained absence.
pub fn validate_ocsf(schema: &Ocsf, lines: &[(String, Vec<String>)]) -> BTreeSet<String> {
    let mut errors = Vec::new();
    let mut absent = BTreeSet::new();
    for (company, lines) in lines {
        for (i, line) in lines.iter().enumerate() {
            let v: Value = serde_json::from_str(line).expect("a JSON line");
            let (e, missing) = OcsfCheck::line(schema, &v);
            errors.extend(
                e.into_iter()
                    .map(|e| format!("{company} line {}: {e}", i + 1)),
            );
            absent.extend(missing);
        }
    }
    let explained: BTreeSet<&str> = OCSF_ABSENT.iter().map(|(k, _)| *k).collect();
    for a in &absent {
        if !explained.contains(a.as_str()) {
            errors.push(format!(
                "recommended {a} is absent and OCSF_ABSENT does not say why"
            ));
        }
    }
    assert!(
        errors.is_empty(),
        "{} problems:\n{}",
        errors.len(),
        errors.join("\n")
    );
    absent
}

pub fn ocsf_schema() -> &'static Ocsf {
    static SCHEMA: OnceLock<Ocsf> = OnceLock::new();
    SCHEMA.get_or_init(Ocsf::load)
}

// ECS: the field list.

pub struct EcsField {
    ty: String,
    array: bool,
}

pub fn ecs_fields() -> &'static HashMap<String, EcsField> {
    static FIELDS: OnceLock<HashMap<String, EcsField>> = OnceLock::new();
    FIELDS.get_or_init(|| {
        let mut r = csv::Reader::from_path(reference("ecs/fields.csv")).unwrap();
        let h = r.headers().unwrap().clone();
        let col = |name: &str| h.iter().position(|c| c == name).unwrap();
        let (field, ty, norm) = (col("Field"), col("Type"), col("Normalization"));
        r.records()
            .map(|row| {
                let row = row.unwrap();
                (
                    row[field].to_owned(),
                    EcsField {
                        ty: row[ty].to_owned(),
                        array: row[norm].contains("array"),
                    },
                )
            })
            .collect()
    })
}

/// Every problem of one ECS line: each leaf is a field of the list (the custom
/// `driftwatch.*` aside) and its JSON type fits the field's.
pub fn check_ecs(v: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let Some(map) = v.as_object() else {
        return vec!["not an object".into()];
    };
    for (k, x) in map {
        if k == "driftwatch" {
            if !x["alert"].is_object() {
                errors.push("driftwatch.alert is missing".into());
            }
            continue;
        }
        walk_ecs(k, x, &mut errors);
    }
    errors
}

fn walk_ecs(path: &str, v: &Value, errors: &mut Vec<String>) {
    let fields = ecs_fields();
    let Some(field) = fields.get(path) else {
        match v.as_object() {
            Some(map) => {
                for (k, x) in map {
                    walk_ecs(&format!("{path}.{k}"), x, errors);
                }
            }
            None => errors.push(format!("{path}: not an ECS field")),
        }
        return;
    };
    let items: Vec<&Value> = match v.as_array() {
        Some(items) if field.array => items.iter().collect(),
        Some(_) => {
            errors.push(format!("{path}: an array, but the field is not"));
            return;
        }
        None => vec![v],
    };
    for x in items {
        let ok = match field.ty.as_str() {
            "keyword" | "constant_keyword" | "wildcard" | "match_only_text" | "text" => {
                x.is_string()
            }
            "long" | "integer" | "short" | "byte" => x.is_i64() || x.is_u64(),
            "float" | "double" | "scaled_float" | "half_float" => x.is_number(),
            "boolean" => x.is_boolean(),
            "date" => x
                .as_str()
                .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok()),
            "ip" => x.as_str().is_some_and(|s| s.parse::<IpAddr>().is_ok()),
            "geo_point" => {
                x["lat"].as_f64().is_some_and(|l| l.abs() <= 90.0)
                    && x["lon"].as_f64().is_some_and(|l| l.abs() <= 180.0)
            }
            "object" => {
                if let Some(map) = x.as_object() {
                    for (k, y) in map {
                        walk_ecs(&format!("{path}.{k}"), y, errors);
                    }
                    true
                } else {
                    false
                }
            }
            "flattened" | "nested" => x.is_object(),
            other => {
                errors.push(format!("{path}: unknown ECS type {other}"));
                true
            }
        };
        if !ok {
            errors.push(format!("{path}: {x} is not a {}", field.ty));
        }
    }
}
