//! RFC 6902 Appendix A, every example.

use blocksmith_diff::Error;
use blocksmith_diff::json_patch::{JsonPatch, parse_pointer};
use serde_json::{Value, json};

fn run(doc: Value, patch: &str) -> Result<Value, Error> {
    JsonPatch::from_str(patch)?.apply(&doc)
}

#[test]
fn a01_adding_an_object_member() {
    let r = run(
        json!({"foo": "bar"}),
        r#"[{ "op": "add", "path": "/baz", "value": "qux" }]"#,
    );
    assert_eq!(r.unwrap(), json!({"baz": "qux", "foo": "bar"}));
}

#[test]
fn a02_adding_an_array_element() {
    let r = run(
        json!({"foo": ["bar", "baz"]}),
        r#"[{ "op": "add", "path": "/foo/1", "value": "qux" }]"#,
    );
    assert_eq!(r.unwrap(), json!({"foo": ["bar", "qux", "baz"]}));
}

#[test]
fn a03_removing_an_object_member() {
    let r = run(
        json!({"baz": "qux", "foo": "bar"}),
        r#"[{ "op": "remove", "path": "/baz" }]"#,
    );
    assert_eq!(r.unwrap(), json!({"foo": "bar"}));
}

#[test]
fn a04_removing_an_array_element() {
    let r = run(
        json!({"foo": ["bar", "qux", "baz"]}),
        r#"[{ "op": "remove", "path": "/foo/1" }]"#,
    );
    assert_eq!(r.unwrap(), json!({"foo": ["bar", "baz"]}));
}

#[test]
fn a05_replacing_a_value() {
    let r = run(
        json!({"baz": "qux", "foo": "bar"}),
        r#"[{ "op": "replace", "path": "/baz", "value": "boo" }]"#,
    );
    assert_eq!(r.unwrap(), json!({"baz": "boo", "foo": "bar"}));
}

#[test]
fn a06_moving_a_value() {
    let r = run(
        json!({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}}),
        r#"[{ "op": "move", "from": "/foo/waldo", "path": "/qux/thud" }]"#,
    );
    assert_eq!(
        r.unwrap(),
        json!({"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}})
    );
}

#[test]
fn a07_moving_an_array_element() {
    let r = run(
        json!({"foo": ["all", "grass", "cows", "eat"]}),
        r#"[{ "op": "move", "from": "/foo/1", "path": "/foo/3" }]"#,
    );
    assert_eq!(r.unwrap(), json!({"foo": ["all", "cows", "eat", "grass"]}));
}

#[test]
fn a08_testing_a_value_success() {
    let doc = json!({"baz": "qux", "foo": ["a", 2, "c"]});
    let r = run(
        doc.clone(),
        r#"[{ "op": "test", "path": "/baz", "value": "qux" }, { "op": "test", "path": "/foo/1", "value": 2 }]"#,
    );
    assert_eq!(r.unwrap(), doc);
}

#[test]
fn a09_testing_a_value_error() {
    let r = run(
        json!({"baz": "qux"}),
        r#"[{ "op": "test", "path": "/baz", "value": "bar" }]"#,
    );
    assert!(
        matches!(
            r,
            Err(Error::JsonPatchFailed {
                index: 0,
                op: "test",
                ..
            })
        ),
        "{r:?}"
    );
}

#[test]
fn a10_adding_a_nested_member_object() {
    let r = run(
        json!({"foo": "bar"}),
        r#"[{ "op": "add", "path": "/child", "value": { "grandchild": { } } }]"#,
    );
    assert_eq!(
        r.unwrap(),
        json!({"foo": "bar", "child": {"grandchild": {}}})
    );
}

#[test]
fn a11_ignoring_unrecognized_elements() {
    let r = run(
        json!({"foo": "bar"}),
        r#"[{ "op": "add", "path": "/baz", "value": "qux", "xyz": 123 }]"#,
    );
    assert_eq!(r.unwrap(), json!({"foo": "bar", "baz": "qux"}));
}

#[test]
fn a12_adding_to_a_nonexistent_target() {
    let r = run(
        json!({"foo": "bar"}),
        r#"[{ "op": "add", "path": "/baz/bat", "value": "qux" }]"#,
    );
    assert!(matches!(r, Err(Error::JsonPatchFailed { .. })), "{r:?}");
}

#[test]
fn a13_invalid_json_patch_document() {
    let r = run(
        json!({"foo": "bar"}),
        r#"[{ "op": "add", "path": "/baz", "value": "qux", "op": "remove" }]"#,
    );
    match r {
        Err(Error::Parse {
            line,
            column,
            message,
            ..
        }) => {
            assert!(message.contains("duplicate"), "{message}");
            assert_eq!(line, 1);
            assert!(column > 40, "{column}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a14_escape_ordering() {
    let doc = json!({"/": 9, "~1": 10});
    assert_eq!(
        run(
            doc.clone(),
            r#"[{"op": "test", "path": "/~01", "value": 10}]"#
        )
        .unwrap(),
        doc
    );
    assert_eq!(parse_pointer("/~01").unwrap(), ["~1"]);
}

#[test]
fn a15_comparing_strings_and_numbers() {
    let r = run(
        json!({"/": 9, "~1": 10}),
        r#"[{"op": "test", "path": "/~01", "value": "10"}]"#,
    );
    assert!(matches!(r, Err(Error::JsonPatchFailed { .. })), "{r:?}");
}

#[test]
fn a16_adding_an_array_value() {
    let r = run(
        json!({"foo": ["bar"]}),
        r#"[{ "op": "add", "path": "/foo/-", "value": ["abc", "def"] }]"#,
    );
    assert_eq!(r.unwrap(), json!({"foo": ["bar", ["abc", "def"]]}));
}

#[test]
fn failures_leave_the_document_unchanged_and_name_the_operation() {
    let doc = json!({"a": [1, 2]});
    let p = JsonPatch::from_str(
        r#"[{"op": "add", "path": "/b", "value": 1}, {"op": "remove", "path": "/a/07"}]"#,
    )
    .unwrap();
    match p.apply(&doc) {
        Err(Error::JsonPatchFailed {
            index,
            op,
            path,
            reason,
        }) => {
            assert_eq!((index, op, path.as_str()), (1, "remove", "/a/07"));
            assert!(reason.contains("not an array index"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let mut d = doc.clone();
    assert!(p.apply_in_place(&mut d).is_err());
    assert_eq!(d, doc);
    for (bad, why) in [
        (r#"{"op": "add"}"#, "array"),
        (r#"[{"op": "frob", "path": ""}]"#, "unknown op"),
        (
            r#"[{"op": "add", "path": "x", "value": 1}]"#,
            "start with '/'",
        ),
        (r#"[{"op": "add", "path": "/a~2", "value": 1}]"#, "'~'"),
        (r#"[{"op": "add", "path": "/a"}]"#, "value"),
        (r#"[{"op": "move", "path": "/a"}]"#, "from"),
    ] {
        let e = JsonPatch::from_str(bad).unwrap_err();
        assert!(matches!(e, Error::InvalidJsonPatch { .. }), "{bad}: {e:?}");
        assert!(e.to_string().contains(why), "{bad}: {e}");
    }
    // Moving a value into its own child is refused; numbers compare numerically.
    assert!(
        run(
            json!({"a": {"b": 1}}),
            r#"[{"op": "move", "from": "/a", "path": "/a/b/c"}]"#
        )
        .is_err()
    );
    assert!(
        run(
            json!({"n": 1}),
            r#"[{"op": "test", "path": "/n", "value": 1.0}]"#
        )
        .is_ok()
    );
}
