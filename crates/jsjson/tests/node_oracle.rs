//! Expected texts were produced once by Node.js 20 (`JSON.stringify`,
//! `String(n)` and the platform's `canonicalJsonStringify` over the same
//! input) and are embedded here, so the tests need no JavaScript runtime.

use appstrate_jsjson::{canonical, number_to_string, stringify, stringify_pretty, to_js_string};
use serde_json::Value;

/// Integer-like keys (JS moves array indices first), keys that look like
/// integers but are not indices (`01`, `-1`, 2^32 - 1), non-ASCII and astral
/// keys (UTF-16 order), every kind of escape, `-0` and `1e21`.
const DOC: &str = r#"{"name":"x","2":[1,2.5,-0,1e21,{"b":null,"a":true}],"10":{},"1":[],"01":"lead","-1":"neg","4294967294":"max","4294967295":"over","\u00e9":"\u2028/\u007f","\ud800\udc00":"astral","\ue000":"bmp","esc":"\u0000\u0001\b\t\n\u000b\f\r\u000e\u001f\"\\"}"#;

fn doc() -> Value {
    serde_json::from_str(DOC).unwrap_or_default()
}

#[test]
fn compact_matches_node() {
    assert_eq!(
        stringify(&doc()),
        "{\"1\":[],\"2\":[1,2.5,0,1e+21,{\"b\":null,\"a\":true}],\"10\":{},\"4294967294\":\"max\",\"name\":\"x\",\"01\":\"lead\",\"-1\":\"neg\",\"4294967295\":\"over\",\"\u{e9}\":\"\u{2028}/\u{7f}\",\"\u{10000}\":\"astral\",\"\u{e000}\":\"bmp\",\"esc\":\"\\u0000\\u0001\\b\\t\\n\\u000b\\f\\r\\u000e\\u001f\\\"\\\\\"}"
    );
}

#[test]
fn pretty_matches_node() {
    assert_eq!(
        stringify_pretty(&doc()),
        "{\n  \"1\": [],\n  \"2\": [\n    1,\n    2.5,\n    0,\n    1e+21,\n    {\n      \"b\": null,\n      \"a\": true\n    }\n  ],\n  \"10\": {},\n  \"4294967294\": \"max\",\n  \"name\": \"x\",\n  \"01\": \"lead\",\n  \"-1\": \"neg\",\n  \"4294967295\": \"over\",\n  \"\u{e9}\": \"\u{2028}/\u{7f}\",\n  \"\u{10000}\": \"astral\",\n  \"\u{e000}\": \"bmp\",\n  \"esc\": \"\\u0000\\u0001\\b\\t\\n\\u000b\\f\\r\\u000e\\u001f\\\"\\\\\"\n}"
    );
}

#[test]
fn canonical_matches_node() {
    assert_eq!(
        canonical(&doc()),
        "{\"-1\":\"neg\",\"01\":\"lead\",\"1\":[],\"10\":{},\"2\":[1,2.5,0,1e+21,{\"a\":true,\"b\":null}],\"4294967294\":\"max\",\"4294967295\":\"over\",\"esc\":\"\\u0000\\u0001\\b\\t\\n\\u000b\\f\\r\\u000e\\u001f\\\"\\\\\",\"name\":\"x\",\"\u{e9}\":\"\u{2028}/\u{7f}\",\"\u{10000}\":\"astral\",\"\u{e000}\":\"bmp\"}"
    );
}

#[test]
fn numbers_match_node() {
    let input = "[0,-0,1,-1,0.5,100,1e20,1e21,1.5e21,123456789012345678901,12345678901234567890,9007199254740992,9007199254740993,-9007199254740993,18446744073709551615,0.000001,0.0000001,1.25e-7,0.1,0.30000000000000004,3.14159,-2.5e+25,1.7976931348623157e308,5e-324,2.2250738585072014e-308,1e-6,123e-20,4.35,0.000123]";
    let expected = [
        "0",
        "0",
        "1",
        "-1",
        "0.5",
        "100",
        "100000000000000000000",
        "1e+21",
        "1.5e+21",
        "123456789012345680000",
        "12345678901234567000",
        "9007199254740992",
        "9007199254740992",
        "-9007199254740992",
        "18446744073709552000",
        "0.000001",
        "1e-7",
        "1.25e-7",
        "0.1",
        "0.30000000000000004",
        "3.14159",
        "-2.5e+25",
        "1.7976931348623157e+308",
        "5e-324",
        "2.2250738585072014e-308",
        "0.000001",
        "1.23e-18",
        "4.35",
        "0.000123",
    ];
    let Ok(Value::Array(numbers)) = serde_json::from_str::<Value>(input) else {
        panic!("test input is a JSON array");
    };
    assert_eq!(numbers.len(), expected.len());
    for (n, want) in numbers.iter().zip(expected) {
        let Value::Number(n) = n else {
            panic!("test input holds numbers only");
        };
        assert_eq!(number_to_string(n), want, "{n}");
    }
    assert_eq!(
        stringify(&serde_json::from_str::<Value>(input).unwrap_or_default()),
        format!("[{}]", expected.join(","))
    );
}

#[test]
fn string_of_value_matches_node() {
    let v: Value =
        serde_json::from_str(r#"[1,null,[2,[3,null]],{"a":1},"t",true,1.5]"#).unwrap_or_default();
    assert_eq!(to_js_string(&v), "1,,2,3,,[object Object],t,true,1.5");
}
