//! GJSON lookups with the conversions of the Go library Argo Events links:
//! `Result.String()`, `Float()`, `Bool()` and `Type.String()`. The Rust port
//! finds the same values but converts some differently (numbers as raw
//! text, `"2"` as true), so the conversions are redone here.

use gjson::Kind;
use serde_json::Value as Json;

/// A value found at a GJSON path.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Go's `Type.String()`: Null, False, Number, String, True or JSON.
    pub type_name: &'static str,
    /// The raw JSON text.
    pub raw: String,
    /// Go's `Result.String()`.
    pub string: String,
    /// Go's `Result.Float()`.
    pub float: f64,
    /// Go's `Result.Bool()`.
    pub boolean: bool,
}

/// Look `path` up in `json`; `None` when it does not exist (Go's `!Exists()`).
pub fn get(json: &str, path: &str) -> Option<Found> {
    let value = gjson::get(json, path);
    if !value.exists() {
        return None;
    }
    let raw = value.json().to_string();
    let kind = value.kind();
    let type_name = match kind {
        Kind::Null => "Null",
        Kind::False => "False",
        Kind::True => "True",
        Kind::Number => "Number",
        Kind::String => "String",
        Kind::Array | Kind::Object => "JSON",
    };
    let num = || raw.parse::<f64>().unwrap_or(0.0);
    let (string, float, boolean) = match kind {
        Kind::Null => (String::new(), 0.0, false),
        Kind::False => ("false".to_string(), 0.0, false),
        Kind::True => ("true".to_string(), 1.0, true),
        Kind::Number => {
            let digits = raw.strip_prefix('-').unwrap_or(&raw);
            let string = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                raw.clone()
            } else {
                format!("{}", num())
            };
            (string, num(), num() != 0.0)
        }
        Kind::String => {
            let s = value.str().to_string();
            let float = parse_go_float(&s).unwrap_or(0.0);
            let boolean = parse_go_bool(&s.to_lowercase()).unwrap_or(false);
            (s, float, boolean)
        }
        Kind::Array | Kind::Object => (raw.clone(), 0.0, false),
    };
    Some(Found {
        type_name,
        raw,
        string,
        float,
        boolean,
    })
}

/// A String result holding `s` (what `gjson.Parse(strconv.Quote(s))` gives).
pub fn string_result(s: String) -> Found {
    Found {
        type_name: "String",
        raw: Json::String(s.clone()).to_string(),
        float: parse_go_float(&s).unwrap_or(0.0),
        boolean: parse_go_bool(&s.to_lowercase()).unwrap_or(false),
        string: s,
    }
}

/// Go's `strconv.ParseBool`.
pub fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `strconv.ParseFloat(s, 64)` for decimal input (also `inf`, `nan`).
pub fn parse_go_float(s: &str) -> Option<f64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let word = body.to_ascii_lowercase();
    if matches!(word.as_str(), "inf" | "infinity" | "nan") {
        return s
            .to_ascii_lowercase()
            .replace("infinity", "inf")
            .parse()
            .ok();
    }
    if body.is_empty()
        || !body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    s.parse().ok()
}

/// Go's `fmt.Sprint(float64)` (`%v`, i.e. `strconv.FormatFloat(f, 'g', -1,
/// 64)` with two-digit exponents): exponent form from 1e+06 on, which is how
/// a number read into a Go template prints.
pub fn format_go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "1.234567e6".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    format!("{f}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_conversions() {
        let json = r#"{"n":42,"f":3.10,"e":1e3,"s":"x","b":true,"t":"T","z":null,"a":[1]}"#;
        assert_eq!(get(json, "n").unwrap().string, "42");
        assert_eq!(get(json, "f").unwrap().string, "3.1");
        assert_eq!(get(json, "e").unwrap().string, "1000");
        assert!(get(json, "t").unwrap().boolean);
        assert_eq!(get(json, "z").unwrap().type_name, "Null");
        assert_eq!(get(json, "a").unwrap().string, "[1]");
        assert!(get(json, "missing").is_none());
    }

    #[test]
    fn go_float_printing() {
        assert_eq!(format_go_float(42.0), "42");
        assert_eq!(format_go_float(999_999.0), "999999");
        assert_eq!(format_go_float(1_000_000.0), "1e+06");
        assert_eq!(format_go_float(1_234_567.0), "1.234567e+06");
        assert_eq!(format_go_float(2.5), "2.5");
        assert_eq!(format_go_float(0.00001), "1e-05");
    }
}
