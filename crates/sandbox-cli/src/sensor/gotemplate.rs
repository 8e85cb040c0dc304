//! The part of Go's `text/template` (with sprig's functions) that Sensors
//! use in `dataTemplate`, `contextTemplate` and a data filter's `template`:
//! field chains such as `{{ .Input.body.pull_request.number }}` and
//! pipelines such as `{{ .Input.body.x | toString | lower }}`,
//! `{{ .Input.sha | substr 0 7 }}` or `{{ b64dec .Input }}`. Other sprig
//! functions and actions (`if`, `range`, variables) are reported as
//! unsupported rather than guessed; a function neither sprig nor Go has is
//! a template error, as `text/template` reports at parse time.
//!
//! Why not the `gotmpl` crate (a maintained port of `text/template`): it
//! prints a float64 with Rust's `Display` (`1234567`, where Go prints
//! `1.234567e+06`), and every JSON number reaches a template as a float64,
//! so it would silently misrender numbers of a million or more; and it has
//! none of sprig's functions, which would be written here either way.

use super::gjson_go::format_go_float;
use base64::Engine as _;
use serde_json::Value as Json;

/// Why a template produced no text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// sensor-test does not implement this construct.
    Unsupported(String),
    /// Go would fail to parse or execute it (Argo Events then falls back).
    Failed(String),
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TemplateError::Unsupported(what) => {
                write!(f, "unsupported: sensor-test does not evaluate {what}")
            }
            TemplateError::Failed(why) => write!(f, "template fails: {why}"),
        }
    }
}

/// A Go value as the template sees it.
#[derive(Debug, Clone, PartialEq)]
enum V {
    /// A nil interface: a missing map key or JSON null.
    Nil,
    Str(String),
    /// JSON numbers decode to float64.
    Float(f64),
    /// What `int` returns.
    Int(i64),
    Bool(bool),
    /// Arrays and objects.
    Other(Json),
}

impl V {
    fn from_json(j: &Json) -> V {
        match j {
            Json::Null => V::Nil,
            Json::Bool(b) => V::Bool(*b),
            Json::Number(n) => V::Float(n.as_f64().unwrap_or(0.0)),
            Json::String(s) => V::Str(s.clone()),
            other => V::Other(other.clone()),
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            V::Nil => "nil",
            V::Str(_) => "string",
            V::Float(_) => "float64",
            V::Int(_) => "int",
            V::Bool(_) => "bool",
            V::Other(Json::Array(_)) => "[]interface {}",
            V::Other(_) => "map[string]interface {}",
        }
    }

    /// `fmt.Sprint` of the value.
    fn print(&self) -> String {
        match self {
            V::Nil => "<nil>".into(),
            V::Str(s) => s.clone(),
            V::Float(f) => format_go_float(*f),
            V::Int(i) => i.to_string(),
            V::Bool(b) => b.to_string(),
            V::Other(j) => print_json(j),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            V::Nil => true,
            V::Str(s) => s.is_empty(),
            V::Float(f) => *f == 0.0,
            V::Int(i) => *i == 0,
            V::Bool(b) => !b,
            V::Other(Json::Array(a)) => a.is_empty(),
            V::Other(Json::Object(o)) => o.is_empty(),
            V::Other(_) => false,
        }
    }
}

fn print_json(j: &Json) -> String {
    match j {
        Json::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|i| V::from_json(i).print())
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Json::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}:{}", V::from_json(&map[*k]).print()))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
        other => V::from_json(other).print(),
    }
}

/// Render `template` with `.Input` bound to `input`.
pub fn render(template: &str, input: &Json) -> Result<String, TemplateError> {
    let root = serde_json::json!({ "Input": input });
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let mut text = &rest[..start];
        let mut action = &rest[start + 2..];
        if let Some(trimmed) = action.strip_prefix("- ") {
            text = text.trim_end();
            action = trimmed;
        }
        out.push_str(text);
        let end = action
            .find("}}")
            .ok_or_else(|| TemplateError::Failed("unclosed action".into()))?;
        let mut body = &action[..end];
        rest = &action[end + 2..];
        if let Some(trimmed) = body.strip_suffix(" -") {
            body = trimmed;
            rest = rest.trim_start();
        }
        let body = body.trim();
        if body.starts_with("/*") && body.ends_with("*/") {
            continue;
        }
        let value = pipeline(body, &root)?;
        // A missing key prints as "<no value>" at the top of an action.
        out.push_str(&if value == V::Nil {
            "<no value>".to_string()
        } else {
            value.print()
        });
    }
    out.push_str(rest);
    Ok(out)
}

const KEYWORDS: &[&str] = &[
    "if", "else", "end", "range", "with", "define", "template", "block", "break", "continue",
];

fn pipeline(body: &str, root: &Json) -> Result<V, TemplateError> {
    let first = body.split_whitespace().next().unwrap_or("");
    if KEYWORDS.contains(&first) {
        return Err(TemplateError::Unsupported(format!("the {first:?} action")));
    }
    if body.contains('$') || body.contains('(') {
        return Err(TemplateError::Unsupported(
            "variables and parenthesised pipelines".into(),
        ));
    }
    let mut piped: Option<V> = None;
    for command in split_outside_quotes(body, '|') {
        let words = words(command.trim())?;
        let Some((head, args)) = words.split_first() else {
            return Err(TemplateError::Failed("missing value for command".into()));
        };
        let value = if head.starts_with('.') || is_literal(head) {
            if !args.is_empty() || piped.is_some() {
                return Err(TemplateError::Failed(format!(
                    "can't give argument to non-function {head}"
                )));
            }
            operand(head, root)?
        } else {
            let mut values = args
                .iter()
                .map(|a| operand(a, root))
                .collect::<Result<Vec<_>, _>>()?;
            if let Some(p) = piped.take() {
                values.push(p);
            }
            call(head, values)?
        };
        piped = Some(value);
    }
    piped.ok_or_else(|| TemplateError::Failed("empty pipeline".into()))
}

fn is_literal(word: &str) -> bool {
    word.starts_with('"')
        || word.starts_with('`')
        || word == "true"
        || word == "false"
        || word == "nil"
        || word.starts_with(|c: char| c.is_ascii_digit() || c == '-')
}

fn operand(word: &str, root: &Json) -> Result<V, TemplateError> {
    if let Some(path) = word.strip_prefix('.') {
        let mut current = V::Other(root.clone());
        if path.is_empty() {
            return Ok(current);
        }
        for field in path.split('.') {
            // text/template's lexer takes a field name of letters, digits
            // and `_` not starting with a digit; `.a-b` is "bad character".
            let valid = field
                .chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
                && field.chars().all(|c| c.is_alphanumeric() || c == '_');
            if !valid {
                return Err(TemplateError::Failed(format!(
                    "template: param:1: bad field name {field:?} (use index .Input \"{field}\")"
                )));
            }
            current = match current {
                V::Other(Json::Object(map)) => map.get(field).map_or(V::Nil, V::from_json),
                V::Nil => {
                    return Err(TemplateError::Failed(format!(
                        "nil pointer evaluating interface {{}}.{field}"
                    )));
                }
                other => {
                    return Err(TemplateError::Failed(format!(
                        "can't evaluate field {field} in type {}",
                        other.type_name()
                    )));
                }
            };
        }
        return Ok(current);
    }
    if let Some(s) = word.strip_prefix('"').and_then(|w| w.strip_suffix('"')) {
        return Ok(V::Str(s.replace("\\\"", "\"").replace("\\n", "\n")));
    }
    if let Some(s) = word.strip_prefix('`').and_then(|w| w.strip_suffix('`')) {
        return Ok(V::Str(s.to_string()));
    }
    match word {
        "true" => return Ok(V::Bool(true)),
        "false" => return Ok(V::Bool(false)),
        "nil" => return Ok(V::Nil),
        _ => {}
    }
    if let Ok(i) = word.parse::<i64>() {
        return Ok(V::Int(i));
    }
    if let Ok(f) = word.parse::<f64>() {
        return Ok(V::Float(f));
    }
    Err(TemplateError::Unsupported(format!("the operand {word:?}")))
}

fn string_arg(name: &str, v: &V) -> Result<String, TemplateError> {
    match v {
        V::Str(s) => Ok(s.clone()),
        other => Err(TemplateError::Failed(format!(
            "error calling {name}: wrong type for value; expected string; got {}",
            other.type_name()
        ))),
    }
}

fn int_arg(name: &str, v: &V) -> Result<i64, TemplateError> {
    match v {
        V::Int(i) => Ok(*i),
        #[allow(clippy::cast_possible_truncation)]
        V::Float(f) if f.fract() == 0.0 => Ok(*f as i64),
        other => Err(TemplateError::Failed(format!(
            "error calling {name}: wrong type for value; expected int; got {}",
            other.type_name()
        ))),
    }
}

fn arity(name: &str, args: &[V], n: usize) -> Result<(), TemplateError> {
    if args.len() == n {
        Ok(())
    } else {
        Err(TemplateError::Failed(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        )))
    }
}

/// sprig's `strval`.
fn strval(v: &V) -> String {
    v.print()
}

fn call(name: &str, args: Vec<V>) -> Result<V, TemplateError> {
    let s = |i: usize| string_arg(name, &args[i]);
    Ok(match name {
        "toString" => {
            arity(name, &args, 1)?;
            V::Str(strval(&args[0]))
        }
        "lower" | "upper" | "trim" | "title" => {
            arity(name, &args, 1)?;
            let text = s(0)?;
            V::Str(match name {
                "lower" => text.to_lowercase(),
                "upper" => text.to_uppercase(),
                "trim" => text.trim().to_string(),
                // strings.Title: the first letter of each word.
                _ => {
                    let mut out = String::with_capacity(text.len());
                    let mut at_start = true;
                    for c in text.chars() {
                        if at_start {
                            out.extend(c.to_uppercase());
                        } else {
                            out.push(c);
                        }
                        at_start = c.is_whitespace();
                    }
                    out
                }
            })
        }
        "trimPrefix" | "trimSuffix" => {
            arity(name, &args, 2)?;
            let (affix, text) = (s(0)?, s(1)?);
            V::Str(if name == "trimPrefix" {
                text.strip_prefix(affix.as_str())
                    .unwrap_or(&text)
                    .to_string()
            } else {
                text.strip_suffix(affix.as_str())
                    .unwrap_or(&text)
                    .to_string()
            })
        }
        "replace" => {
            arity(name, &args, 3)?;
            V::Str(s(2)?.replace(&s(0)?, &s(1)?))
        }
        "substr" => {
            arity(name, &args, 3)?;
            let (start, end, text) = (int_arg(name, &args[0])?, int_arg(name, &args[1])?, s(2)?);
            let bytes = text.as_bytes();
            let len = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
            let slice = if start < 0 {
                &bytes[..usize::try_from(end.clamp(0, len)).unwrap_or(0)]
            } else if end < 0 || end > len {
                &bytes[usize::try_from(start.min(len)).unwrap_or(0)..]
            } else {
                &bytes[usize::try_from(start.min(end)).unwrap_or(0)
                    ..usize::try_from(end).unwrap_or(0)]
            };
            V::Str(String::from_utf8_lossy(slice).into_owned())
        }
        "trunc" => {
            arity(name, &args, 2)?;
            let (n, text) = (int_arg(name, &args[0])?, s(1)?);
            let len = i64::try_from(text.len()).unwrap_or(i64::MAX);
            V::Str(if n >= 0 && len > n {
                text[..usize::try_from(n).unwrap_or(0)].to_string()
            } else if n < 0 && len > -n {
                text[usize::try_from(len + n).unwrap_or(0)..].to_string()
            } else {
                text
            })
        }
        "quote" => V::Str(
            args.iter()
                .filter(|a| **a != V::Nil)
                .map(|a| go_quote(&strval(a)))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        "printf" => {
            let Some(V::Str(format)) = args.first() else {
                return Err(TemplateError::Failed(
                    "error calling printf: the format is not a string".into(),
                ));
            };
            V::Str(printf(format, &args[1..])?)
        }
        "print" => {
            // fmt.Sprint: a space between operands when neither is a string.
            let mut out = String::new();
            for (i, a) in args.iter().enumerate() {
                if i > 0 && !matches!(a, V::Str(_)) && !matches!(args[i - 1], V::Str(_)) {
                    out.push(' ');
                }
                out.push_str(&a.print());
            }
            V::Str(out)
        }
        "default" => {
            if args.is_empty() || args.len() > 2 {
                return Err(TemplateError::Failed(
                    "wrong number of args for default".into(),
                ));
            }
            match args.get(1) {
                Some(given) if !given.is_empty() => given.clone(),
                _ => args[0].clone(),
            }
        }
        "int" | "int64" => {
            arity(name, &args, 1)?;
            #[allow(clippy::cast_possible_truncation)]
            V::Int(match &args[0] {
                V::Int(i) => *i,
                V::Float(f) => *f as i64,
                V::Str(text) => cast_to_int(text),
                V::Bool(b) => i64::from(*b),
                _ => 0,
            })
        }
        "toJson" | "toRawJson" => {
            arity(name, &args, 1)?;
            let json = match &args[0] {
                V::Nil => Json::Null,
                V::Str(text) => Json::String(text.clone()),
                V::Int(i) => Json::from(*i),
                V::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
                V::Bool(b) => Json::Bool(*b),
                V::Other(j) => j.clone(),
            };
            V::Str(go_json(&json, name == "toJson"))
        }
        "b64enc" => {
            arity(name, &args, 1)?;
            V::Str(BASE64.encode(strval(&args[0]).as_bytes()))
        }
        "b64dec" => {
            arity(name, &args, 1)?;
            // sprig returns the decoder's error text as the value.
            V::Str(match BASE64.decode(strval(&args[0]).as_bytes()) {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(e) => format!("illegal base64 data: {e}"),
            })
        }
        "squote" => V::Str(
            args.iter()
                .filter(|a| **a != V::Nil)
                .map(|a| format!("'{}'", strval(a)))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        "cat" => V::Str(
            args.iter()
                .filter(|a| **a != V::Nil)
                .map(strval)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        "contains" | "hasPrefix" | "hasSuffix" => {
            arity(name, &args, 2)?;
            let (needle, text) = (s(0)?, s(1)?);
            V::Bool(match name {
                "contains" => text.contains(&needle),
                "hasPrefix" => text.starts_with(&needle),
                _ => text.ends_with(&needle),
            })
        }
        "repeat" => {
            arity(name, &args, 2)?;
            let n = int_arg(name, &args[0])?;
            V::Str(s(1)?.repeat(usize::try_from(n).unwrap_or(0)))
        }
        "nospace" => {
            arity(name, &args, 1)?;
            V::Str(s(0)?.chars().filter(|c| !c.is_whitespace()).collect())
        }
        "trimAll" => {
            arity(name, &args, 2)?;
            let (cutset, text) = (s(0)?, s(1)?);
            V::Str(text.trim_matches(|c| cutset.contains(c)).to_string())
        }
        "join" => {
            arity(name, &args, 2)?;
            let sep = s(0)?;
            let V::Other(Json::Array(items)) = &args[1] else {
                return Err(TemplateError::Unsupported("join of a non-list".into()));
            };
            V::Str(
                items
                    .iter()
                    .map(|i| V::from_json(i).print())
                    .collect::<Vec<_>>()
                    .join(&sep),
            )
        }
        "len" => {
            arity(name, &args, 1)?;
            #[allow(clippy::cast_possible_wrap)]
            V::Int(match &args[0] {
                V::Str(text) => text.len() as i64,
                V::Other(Json::Array(a)) => a.len() as i64,
                V::Other(Json::Object(o)) => o.len() as i64,
                other => {
                    return Err(TemplateError::Failed(format!(
                        "error calling len: len of type {}",
                        other.type_name()
                    )));
                }
            })
        }
        "index" => {
            if args.is_empty() {
                return Err(TemplateError::Failed(
                    "wrong number of args for index".into(),
                ));
            }
            let mut current = args[0].clone();
            for key in &args[1..] {
                current = match (&current, key) {
                    (V::Other(Json::Object(map)), V::Str(k)) => {
                        map.get(k).map_or(V::Nil, V::from_json)
                    }
                    (V::Other(Json::Array(items)), V::Int(i)) => usize::try_from(*i)
                        .ok()
                        .and_then(|i| items.get(i))
                        .map(V::from_json)
                        .ok_or_else(|| {
                            TemplateError::Failed(format!(
                                "error calling index: index out of range: {i}"
                            ))
                        })?,
                    (V::Nil, _) => {
                        return Err(TemplateError::Failed(
                            "error calling index: index of untyped nil".into(),
                        ));
                    }
                    _ => {
                        return Err(TemplateError::Failed(format!(
                            "error calling index: cannot index {} with {}",
                            current.type_name(),
                            key.type_name()
                        )));
                    }
                };
            }
            current
        }
        "float64" => {
            arity(name, &args, 1)?;
            #[allow(clippy::cast_precision_loss)]
            V::Float(match &args[0] {
                V::Int(i) => *i as f64,
                V::Float(f) => *f,
                V::Str(text) => super::gjson_go::parse_go_float(text).unwrap_or(0.0),
                V::Bool(b) => f64::from(u8::from(*b)),
                _ => 0.0,
            })
        }
        other if SPRIG.contains(&other) || GO_BUILTINS.contains(&other) => {
            return Err(TemplateError::Unsupported(format!(
                "the function {other:?}"
            )));
        }
        // text/template rejects a template naming an unknown function.
        other => {
            return Err(TemplateError::Failed(format!(
                "template: param:1: function {other:?} not defined"
            )));
        }
    })
}

/// text/template's own functions.
const GO_BUILTINS: &[&str] = &[
    "and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf",
    "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne",
];

/// The names in sprig v3.3.0's `genericMap` (`functions.go`), which
/// `sprig.FuncMap()` registers: a template may call them.
const SPRIG: &[&str] = &[
    "hello",
    "ago",
    "date",
    "date_in_zone",
    "date_modify",
    "dateInZone",
    "dateModify",
    "duration",
    "durationRound",
    "htmlDate",
    "htmlDateInZone",
    "must_date_modify",
    "mustDateModify",
    "mustToDate",
    "now",
    "toDate",
    "unixEpoch",
    "abbrev",
    "abbrevboth",
    "trunc",
    "trim",
    "upper",
    "lower",
    "title",
    "untitle",
    "substr",
    "repeat",
    "trimall",
    "trimAll",
    "trimSuffix",
    "trimPrefix",
    "nospace",
    "initials",
    "randAlphaNum",
    "randAlpha",
    "randAscii",
    "randNumeric",
    "swapcase",
    "shuffle",
    "snakecase",
    "camelcase",
    "kebabcase",
    "wrap",
    "wrapWith",
    "contains",
    "hasPrefix",
    "hasSuffix",
    "quote",
    "squote",
    "cat",
    "indent",
    "nindent",
    "replace",
    "plural",
    "sha1sum",
    "sha256sum",
    "sha512sum",
    "adler32sum",
    "toString",
    "atoi",
    "int64",
    "int",
    "float64",
    "seq",
    "toDecimal",
    "split",
    "splitList",
    "splitn",
    "toStrings",
    "until",
    "untilStep",
    "add1",
    "add",
    "sub",
    "div",
    "mod",
    "mul",
    "randInt",
    "add1f",
    "addf",
    "subf",
    "divf",
    "mulf",
    "biggest",
    "max",
    "min",
    "maxf",
    "minf",
    "ceil",
    "floor",
    "round",
    "join",
    "sortAlpha",
    "default",
    "empty",
    "coalesce",
    "all",
    "any",
    "compact",
    "mustCompact",
    "fromJson",
    "toJson",
    "toPrettyJson",
    "toRawJson",
    "mustFromJson",
    "mustToJson",
    "mustToPrettyJson",
    "mustToRawJson",
    "ternary",
    "deepCopy",
    "mustDeepCopy",
    "typeOf",
    "typeIs",
    "typeIsLike",
    "kindOf",
    "kindIs",
    "deepEqual",
    "env",
    "expandenv",
    "getHostByName",
    "base",
    "dir",
    "clean",
    "ext",
    "isAbs",
    "osBase",
    "osClean",
    "osDir",
    "osExt",
    "osIsAbs",
    "b64enc",
    "b64dec",
    "b32enc",
    "b32dec",
    "tuple",
    "list",
    "dict",
    "get",
    "set",
    "unset",
    "hasKey",
    "pluck",
    "keys",
    "pick",
    "omit",
    "merge",
    "mergeOverwrite",
    "mustMerge",
    "mustMergeOverwrite",
    "values",
    "append",
    "mustAppend",
    "prepend",
    "mustPrepend",
    "first",
    "mustFirst",
    "rest",
    "mustRest",
    "last",
    "mustLast",
    "initial",
    "mustInitial",
    "reverse",
    "mustReverse",
    "uniq",
    "mustUniq",
    "without",
    "mustWithout",
    "has",
    "mustHas",
    "slice",
    "mustSlice",
    "concat",
    "dig",
    "chunk",
    "mustChunk",
    "bcrypt",
    "htpasswd",
    "genPrivateKey",
    "derivePassword",
    "buildCustomCert",
    "genCA",
    "genCAWithKey",
    "genSelfSignedCert",
    "genSelfSignedCertWithKey",
    "genSignedCert",
    "genSignedCertWithKey",
    "encryptAES",
    "decryptAES",
    "randBytes",
    "uuidv4",
    "semver",
    "semverCompare",
    "fail",
    "regexMatch",
    "mustRegexMatch",
    "regexFindAll",
    "mustRegexFindAll",
    "regexFind",
    "mustRegexFind",
    "regexReplaceAll",
    "mustRegexReplaceAll",
    "regexReplaceAllLiteral",
    "mustRegexReplaceAllLiteral",
    "regexSplit",
    "mustRegexSplit",
    "regexQuoteMeta",
    "urlParse",
    "urlJoin",
];

/// spf13/cast's `ToInt` of a string, which sprig's `int` calls (errors give
/// 0): `strconv.ParseInt(s, 0, 0)` after dropping a zero decimal part
/// (`"42.00"`), so `0x1f`, `0o17`, `0b11` and a leading-zero octal `017`
/// read in their base.
fn cast_to_int(text: &str) -> i64 {
    let mut s = text;
    if let Some(dot) = s.rfind('.')
        && s.len() > dot + 1
        && s[dot + 1..].bytes().all(|b| b == b'0')
    {
        s = &s[..dot];
    }
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string())
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string())
    } else {
        (10, lower.clone())
    };
    // Underscores only between digits (or after a base prefix).
    let well_placed = !digits.ends_with('_')
        && !digits.contains("__")
        && (radix != 10 || !digits.starts_with('_'));
    if digits.is_empty() || !well_placed {
        return 0;
    }
    match i64::from_str_radix(&digits.replace('_', ""), radix) {
        Ok(n) if negative => -n,
        Ok(n) => n,
        Err(_) => 0,
    }
}

/// Go's `strconv.Quote` (what `%q` and sprig's `quote` print): printable
/// characters kept, the usual backslash escapes, `\xNN` for other control
/// bytes.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            '\u{2028}' | '\u{2029}' | '\u{feff}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `fmt.Sprintf` for the verbs `%s`, `%v`, `%d`, `%q` and `%%` without
/// flags or widths; anything else is unsupported.
fn printf(format: &str, args: &[V]) -> Result<String, TemplateError> {
    let mut out = String::new();
    let mut chars = format.chars();
    let mut next = args.iter();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let verb = chars.next().unwrap_or('%');
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = next.next() else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        match (verb, arg) {
            ('s' | 'v', V::Str(s)) => out.push_str(s),
            ('v', other) => out.push_str(&other.print()),
            ('d', V::Int(i)) => out.push_str(&i.to_string()),
            ('q', V::Str(s)) => out.push_str(&go_quote(s)),
            ('s' | 'd' | 'q', V::Nil) => out.push_str(&format!("%!{verb}(<nil>)")),
            ('s' | 'd' | 'q', other) => {
                out.push_str(&format!(
                    "%!{verb}({}={})",
                    other.type_name(),
                    other.print()
                ));
            }
            _ => {
                return Err(TemplateError::Unsupported(format!("printf verb %{verb}")));
            }
        }
    }
    let extra: Vec<String> = next
        .map(|a| format!("{}={}", a.type_name(), a.print()))
        .collect();
    if !extra.is_empty() {
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    Ok(out)
}

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Go's `json.Marshal` of a decoded JSON value: object keys sorted,
/// float64 numbers printed the Go way, and with `escape_html` `<`, `>` and
/// `&` escaped as `\u003c`, `\u003e`, `\u0026`.
pub fn go_json(value: &Json, escape_html: bool) -> String {
    let mut out = String::new();
    write_go_json(value, escape_html, &mut out);
    out
}

fn write_go_json(value: &Json, escape_html: bool, out: &mut String) {
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => out.push_str(&go_json_float(n.as_f64().unwrap_or(0.0))),
        Json::String(s) => {
            let quoted = Json::String(s.clone()).to_string();
            if escape_html {
                out.push_str(
                    &quoted
                        .replace('<', "\\u003c")
                        .replace('>', "\\u003e")
                        .replace('&', "\\u0026")
                        .replace('\u{2028}', "\\u2028")
                        .replace('\u{2029}', "\\u2029"),
                );
            } else {
                out.push_str(&quoted);
            }
        }
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json(item, escape_html, out);
            }
            out.push(']');
        }
        Json::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json(&Json::String(k.clone()), escape_html, out);
                out.push(':');
                write_go_json(&map[k], escape_html, out);
            }
            out.push('}');
        }
    }
}

/// `encoding/json`'s float64: shortest digits, exponent form below 1e-6
/// and from 1e21 (`1e+21`, `1e-7`: Go pads a positive exponent to two
/// digits and then trims `e-07` to `e-7`).
fn go_json_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let sci = format!("{f:e}");
        let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        if exp < 0 {
            return format!("{mantissa}e-{}", exp.abs());
        }
        return format!("{mantissa}e+{exp:02}");
    }
    format!("{f}")
}

fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quote: Option<char> = None;
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None if c == '"' || c == '`' => quote = Some(c),
            None if c == sep => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            None => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn words(command: &str) -> Result<Vec<&str>, TemplateError> {
    let mut out = Vec::new();
    let mut rest = command.trim_start();
    while !rest.is_empty() {
        let end = match rest.chars().next() {
            Some(q @ ('"' | '`')) => {
                let mut escaped = false;
                let mut end = None;
                for (i, c) in rest.char_indices().skip(1) {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' && q == '"' {
                        escaped = true;
                    } else if c == q {
                        end = Some(i + 1);
                        break;
                    }
                }
                end.ok_or_else(|| TemplateError::Failed("unterminated quoted string".into()))?
            }
            _ => rest.find(char::is_whitespace).unwrap_or(rest.len()),
        };
        out.push(&rest[..end]);
        rest = rest[end..].trim_start();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r(t: &str) -> Result<String, TemplateError> {
        render(
            t,
            &json!({"body": {"n": 42, "big": 1234567, "s": "Hello", "sha": "2c065a1234", "nul": null}}),
        )
    }

    #[test]
    fn fields_and_pipelines() {
        assert_eq!(r("pr-{{ .Input.body.n }}-").unwrap(), "pr-42-");
        assert_eq!(r("{{.Input.body.big}}").unwrap(), "1.234567e+06");
        assert_eq!(r("{{ .Input.body.big | int }}").unwrap(), "1234567");
        assert_eq!(r("{{ .Input.body.s | lower }}").unwrap(), "hello");
        assert_eq!(
            r("{{ \"hello big world\" | title }}").unwrap(),
            "Hello Big World"
        );
        assert_eq!(r("{{ .Input.body.n | toString }}").unwrap(), "42");
        assert_eq!(r("{{ .Input.body.sha | substr 0 7 }}").unwrap(), "2c065a1");
        assert_eq!(r("{{ .Input.body.missing }}").unwrap(), "<no value>");
        assert_eq!(r("{{ .Input.body.nul }}").unwrap(), "<no value>");
        assert_eq!(r("{{- .Input.body.s -}} !").unwrap(), "Hello!");
    }

    #[test]
    fn sprig_int_reads_like_cast() {
        for (text, want) in [
            ("42", 42),
            ("-42", -42),
            ("42.00", 42),
            ("42.5", 0),
            (" 42", 0),
            ("0x1f", 31),
            ("017", 15),
            ("0b11", 3),
            ("1_000", 1000),
            ("", 0),
        ] {
            assert_eq!(cast_to_int(text), want, "{text:?}");
        }
    }

    #[test]
    fn sprig_and_builtins() {
        assert_eq!(
            r(r#"{{ printf "%s-%v" .Input.body.s .Input.body.n }}"#).unwrap(),
            "Hello-42"
        );
        assert_eq!(
            r(r#"{{ printf "%d" .Input.body.n }}"#).unwrap(),
            "%!d(float64=42)"
        );
        assert!(r(r#"{{ printf "%d" (.Input.body.n) }}"#).is_err());
        assert_eq!(r("{{ .Input.body.s | quote }}").unwrap(), r#""Hello""#);
        assert_eq!(go_quote("a\"b\\\u{1}\u{7f}é"), r#""a\"b\\\x01\x7fé""#);
        assert_eq!(r(r#"{{ print .Input.body.s 1 2 }}"#).unwrap(), "Hello1 2");
        assert!(matches!(
            r(r#"{{ printf "%5s" .Input.body.s }}"#),
            Err(TemplateError::Unsupported(_))
        ));
        assert!(matches!(
            r("{{ nosuchfunc 1 }}"),
            Err(TemplateError::Failed(_))
        ));
    }

    #[test]
    fn failures_and_unsupported() {
        assert!(matches!(
            r("{{ .Input.body.missing.x }}"),
            Err(TemplateError::Failed(_))
        ));
        assert!(matches!(
            r("{{ .Input.body.n | lower }}"),
            Err(TemplateError::Failed(_))
        ));
        assert!(matches!(
            r("{{ if .Input }}x{{ end }}"),
            Err(TemplateError::Unsupported(_))
        ));
        assert!(matches!(
            r("{{ .Input.body.s | sha256sum }}"),
            Err(TemplateError::Unsupported(_))
        ));
    }
}
