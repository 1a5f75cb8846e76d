use blocksmith_diff::Error;
use blocksmith_diff::structured::{ChangeKind, StructuredOptions, diff};
use blocksmith_diff::value::{Format, parse, parse_any, to_string};
use serde_json::json;

const YAML: &str = "\
service: web
replicas: 2
containers:
  - name: app
    image: app:1.4
    env:
      - {name: LOG, value: info}
  - name: proxy
    image: envoy:1.30
ports: [80, 443]
";

const TOML: &str = r#"
ports = [80, 443, 8080]
service = "web"
replicas = 3

[[containers]]
name = "proxy"
image = "envoy:1.31"

[[containers]]
name = "app"
image = "app:1.4"
env = [{ name = "LOG", value = "debug" }]
"#;

#[test]
fn yaml_and_toml_diff_by_identity_key_with_key_order_ignored() {
    let a = parse(YAML, Format::Yaml).unwrap();
    let b = parse(TOML, Format::Toml).unwrap();
    let opts = StructuredOptions::default().with_identity_key("name");
    let d = diff(&a, &b, &opts);
    assert_eq!(
        d.report(),
        "\
> /containers[name=proxy]: moved from 1 to 0
~ /containers[name=proxy]/image: \"envoy:1.30\" -> \"envoy:1.31\"
~ /containers[name=app]/env[name=LOG]/value: \"info\" -> \"debug\"
+ /ports/2: 8080
~ /replicas: 2 -> 3
"
    );
    assert_eq!(d.counts(), (1, 0, 3, 1));
    assert_eq!(d.to_json_patch().apply(&a).unwrap(), b);
    // Without the identity key the arrays are matched by position.
    let d = diff(&a, &b, &StructuredOptions::default());
    assert_eq!(d.to_json_patch().apply(&a).unwrap(), b);
    assert!(d.changes.iter().all(|c| c.kind != ChangeKind::Moved));
    // Reordered keys alone are no change.
    let c = parse("{\"replicas\": 2, \"service\": \"web\"}", Format::Json).unwrap();
    let e = parse("service = \"web\"\nreplicas = 2\n", Format::Toml).unwrap();
    assert!(diff(&c, &e, &opts).is_empty());
}

#[test]
fn json_patch_output_is_rfc6902() {
    let a = json!({"a": 1, "list": [{"id": 1, "v": "x"}, {"id": 2, "v": "y"}], "gone": true});
    let b =
        json!({"a": 2, "list": [{"id": 2, "v": "y"}, {"id": 3, "v": "z"}], "new": {"k": "v/~"}});
    let d = diff(
        &a,
        &b,
        &StructuredOptions::default().with_identity_key("id"),
    );
    let p = d.to_json_patch();
    assert_eq!(
        p.to_value(),
        json!([
            {"op": "remove", "path": "/gone"},
            {"op": "replace", "path": "/a", "value": 2},
            {"op": "remove", "path": "/list/0"},
            {"op": "add", "path": "/list/1", "value": {"id": 3, "v": "z"}},
            {"op": "add", "path": "/new", "value": {"k": "v/~"}}
        ])
    );
    assert_eq!(p.apply(&a).unwrap(), b);
    // The report names identified elements.
    assert!(
        d.report().contains("- /list[id=1]: {\"id\":1,\"v\":\"x\"}"),
        "{}",
        d.report()
    );
    // Root type change.
    let d = diff(&json!([1]), &json!({"x": 1}), &StructuredOptions::default());
    assert_eq!(
        d.to_json_patch().to_value(),
        json!([{"op": "replace", "path": "", "value": {"x": 1}}])
    );
}

#[test]
fn malformed_documents_give_positions() {
    let cases = [
        (
            "{\n  \"a\": 1,\n  \"b\": [1, 2,\n}",
            Format::Json,
            4,
            "expected",
        ),
        ("{\"a\": 1, \"a\": 2}", Format::Json, 1, "duplicate key"),
        ("a: 1\nb: [1, 2\nc: 3\n", Format::Yaml, 3, ""),
        // YAML positions a duplicate at the start of its mapping.
        ("a: 1\na: 2\n", Format::Yaml, 1, "duplicate"),
        ("x = 1\ny = = 2\n", Format::Toml, 2, ""),
        ("x = 1\nx = 2\n", Format::Toml, 2, "duplicate"),
        ("v: .nan\n", Format::Yaml, 1, "non-finite"),
        ("v: !Custom 3\n", Format::Yaml, 1, "tag"),
        ("{\"a\": 1} trailing", Format::Json, 1, "trailing"),
    ];
    for (text, format, line, what) in cases {
        match parse(text, format) {
            Err(Error::Parse {
                format: f,
                line: l,
                column,
                message,
            }) => {
                assert_eq!(f, format);
                assert_eq!(l, line, "{text:?}: {message}");
                assert!(column >= 1, "{text:?}");
                assert!(message.to_lowercase().contains(what), "{text:?}: {message}");
            }
            other => panic!("{text:?}: {other:?}"),
        }
    }
}

#[test]
fn formats_round_trip_and_refuse_what_they_cannot_hold() {
    let v = parse(TOML, Format::Toml).unwrap();
    for f in [Format::Json, Format::Yaml, Format::Toml] {
        let text = to_string(&v, f).unwrap();
        assert_eq!(parse(&text, f).unwrap(), v, "{f}");
    }
    assert!(matches!(
        to_string(&json!({"a": null}), Format::Toml),
        Err(Error::Encode { .. })
    ));
    assert!(matches!(
        to_string(&json!([1]), Format::Toml),
        Err(Error::Encode { .. })
    ));
    // YAML scalar keys become strings; TOML datetimes become strings.
    assert_eq!(
        parse("1: a\ntrue: b\n", Format::Yaml).unwrap(),
        json!({"1": "a", "true": "b"})
    );
    assert_eq!(
        parse("t = 1979-05-27T07:32:00Z\n", Format::Toml).unwrap(),
        json!({"t": "1979-05-27T07:32:00Z"})
    );
    assert_eq!(parse_any("a = 1\n").unwrap().1, Format::Toml);
    assert_eq!(parse_any("{\"a\": 1}").unwrap().1, Format::Json);
    assert_eq!(parse_any("a: 1\n").unwrap().1, Format::Yaml);
    assert_eq!(Format::from_path("x/config.yml"), Some(Format::Yaml));
}

#[test]
fn hostile_nesting_is_an_error_not_a_crash() {
    let deep = "[".repeat(100_000);
    assert!(parse(&deep, Format::Json).is_err());
    let deep = format!("a: {}", "[".repeat(100_000));
    assert!(parse(&deep, Format::Yaml).is_err());
    let deep = format!("a = {}", "[".repeat(100_000));
    assert!(parse(&deep, Format::Toml).is_err());
    // Compact block sequences nest too ("- - - x").
    let deep = format!("{}x", "- ".repeat(100_000));
    assert!(parse(&deep, Format::Yaml).is_err());
    // Quoted brackets and comments do not count as nesting.
    let fine = format!(
        "a: '{}'\nb: \"{}\" # {}\n",
        "[".repeat(500),
        "{".repeat(500),
        "[".repeat(500)
    );
    assert!(parse(&fine, Format::Yaml).is_ok());
    // YAML alias expansion is bounded ("billion laughs").
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = (b'a' + (i - 1) as u8) as char;
        let c = (b'a' + i as u8) as char;
        bomb.push_str(&format!(
            "{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        ));
    }
    assert!(parse(&bomb, Format::Yaml).is_err());
}

/// Found by the `diff_parse_json` fuzz target: `-3e50` read as one double and written back
/// read as its neighbour (-3.0000000000000002e50), because serde_json's default float parser
/// is not correctly rounded. Every written number must read back the same.
#[test]
fn json_numbers_survive_a_write_and_read_back() {
    for text in [
        "-3e50",
        "3e50",
        "2.5",
        "1e-300",
        "-1.7976931348623157e308",
        "0.1",
        "9007199254740993.5",
    ] {
        let v = parse(text, Format::Json).unwrap();
        let written = to_string(&v, Format::Json).unwrap();
        assert_eq!(
            parse(&written, Format::Json).unwrap(),
            v,
            "{text} -> {written}"
        );
        let exact = text.parse::<f64>().unwrap();
        assert_eq!(v.as_f64().unwrap().to_bits(), exact.to_bits(), "{text}");
    }
}
