//! The part of govaluate that Sensor `exprs` filters use: literals (numbers,
//! quoted strings, true/false), parameters, parentheses, `!` and unary `-`,
//! `+ - * / %`, comparisons (numbers, or strings lexically), `=~` / `!~`
//! regular expressions, `&&`, `||` and `in (…)`. Ternaries, `??`, bitwise
//! operators and functions are reported as unsupported.

use regex::Regex;
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// A value during evaluation.
#[derive(Debug, Clone, PartialEq)]
enum V {
    Num(f64),
    Str(String),
    Bool(bool),
    Nil,
    List(Vec<V>),
    Other(Json),
}

impl V {
    fn from_json(j: &Json) -> V {
        match j {
            Json::Null => V::Nil,
            Json::Bool(b) => V::Bool(*b),
            Json::Number(n) => V::Num(n.as_f64().unwrap_or(0.0)),
            Json::String(s) => V::Str(s.clone()),
            other => V::Other(other.clone()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Str(String),
    Ident(String),
    Op(&'static str),
}

const OPS: &[&str] = &[
    "==", "!=", ">=", "<=", "=~", "!~", "&&", "||", "??", ">", "<", "!", "+", "-", "*", "/", "%",
    "(", ")", ",", "?", ":", "&", "|", "^", "~",
];

fn tokens(text: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let s: String = chars[start..i].iter().collect();
            out.push(Tok::Num(s.parse().map_err(|_| format!("bad number {s}"))?));
        } else if c == '\'' || c == '"' {
            let end = chars[i + 1..]
                .iter()
                .position(|x| *x == c)
                .ok_or("unclosed string")?
                + i
                + 1;
            out.push(Tok::Str(chars[i + 1..end].iter().collect()));
            i = end + 1;
        } else if c == '[' {
            let end = chars[i + 1..]
                .iter()
                .position(|x| *x == ']')
                .ok_or("unclosed [")?
                + i
                + 1;
            out.push(Tok::Ident(chars[i + 1..end].iter().collect()));
            i = end + 1;
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '.')) {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else {
            let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
            let op = OPS
                .iter()
                .find(|op| rest.starts_with(**op))
                .ok_or_else(|| format!("unexpected {c:?}"))?;
            out.push(Tok::Op(op));
            i += op.chars().count();
        }
    }
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    params: &'a BTreeMap<String, Json>,
}

/// Evaluate `expr` with `params`; Ok(true) only for a boolean true.
pub fn evaluate(expr: &str, params: &BTreeMap<String, Json>) -> Result<bool, String> {
    let mut p = Parser {
        toks: tokens(expr)?,
        pos: 0,
        params,
    };
    let value = p.or()?;
    if p.pos != p.toks.len() {
        return Err(match &p.toks[p.pos] {
            Tok::Op(op @ ("?" | ":" | "??" | "&" | "|" | "^" | "~")) => {
                format!("unsupported by sensor-test: the {op} operator")
            }
            other => format!("unexpected {other:?}"),
        });
    }
    Ok(value == V::Bool(true))
}

impl Parser<'_> {
    fn peek_op(&self, op: &str) -> bool {
        matches!(self.toks.get(self.pos), Some(Tok::Op(o)) if *o == op)
    }

    fn eat(&mut self, op: &str) -> bool {
        let hit = self.peek_op(op);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn or(&mut self) -> Result<V, String> {
        let mut left = self.and()?;
        while self.eat("||") {
            let right = self.and()?;
            left = V::Bool(truth(&left, "||")? || truth(&right, "||")?);
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<V, String> {
        let mut left = self.comparison()?;
        while self.eat("&&") {
            let right = self.comparison()?;
            left = V::Bool(truth(&left, "&&")? && truth(&right, "&&")?);
        }
        Ok(left)
    }

    fn comparison(&mut self) -> Result<V, String> {
        let left = self.additive()?;
        for op in ["==", "!=", ">=", "<=", ">", "<", "=~", "!~"] {
            if self.eat(op) {
                let right = self.additive()?;
                return compare(op, &left, &right).map(V::Bool);
            }
        }
        if matches!(self.toks.get(self.pos), Some(Tok::Ident(w)) if w == "in") {
            self.pos += 1;
            let V::List(items) = self.additive()? else {
                return Err("the right of 'in' must be a list".into());
            };
            return Ok(V::Bool(items.contains(&left)));
        }
        Ok(left)
    }

    fn additive(&mut self) -> Result<V, String> {
        let mut left = self.multiplicative()?;
        loop {
            if self.eat("+") {
                let right = self.multiplicative()?;
                left = match (&left, &right) {
                    (V::Num(a), V::Num(b)) => V::Num(a + b),
                    (V::Str(_), _) | (_, V::Str(_)) => {
                        V::Str(format!("{}{}", text(&left), text(&right)))
                    }
                    _ => return Err("'+' needs numbers or strings".into()),
                };
            } else if self.eat("-") {
                let right = self.multiplicative()?;
                left = V::Num(num(&left, "-")? - num(&right, "-")?);
            } else {
                return Ok(left);
            }
        }
    }

    fn multiplicative(&mut self) -> Result<V, String> {
        let mut left = self.prefix()?;
        loop {
            let op = ["*", "/", "%"].into_iter().find(|op| self.peek_op(op));
            let Some(op) = op else { return Ok(left) };
            self.pos += 1;
            let (a, b) = (num(&left, op)?, num(&self.prefix()?, op)?);
            left = V::Num(match op {
                "*" => a * b,
                "/" => a / b,
                _ => a % b,
            });
        }
    }

    fn prefix(&mut self) -> Result<V, String> {
        if self.eat("!") {
            return Ok(V::Bool(!truth(&self.prefix()?, "!")?));
        }
        if self.eat("-") {
            return Ok(V::Num(-num(&self.prefix()?, "-")?));
        }
        self.value()
    }

    fn value(&mut self) -> Result<V, String> {
        let tok = self
            .toks
            .get(self.pos)
            .cloned()
            .ok_or("unexpected end of expression")?;
        self.pos += 1;
        match tok {
            Tok::Num(n) => Ok(V::Num(n)),
            Tok::Str(s) => Ok(V::Str(s)),
            Tok::Ident(w) if w == "true" => Ok(V::Bool(true)),
            Tok::Ident(w) if w == "false" => Ok(V::Bool(false)),
            Tok::Ident(w) => {
                if self.peek_op("(") {
                    return Err(format!("unsupported by sensor-test: the function {w}"));
                }
                self.params
                    .get(&w)
                    .map(V::from_json)
                    .ok_or_else(|| format!("No parameter '{w}' found."))
            }
            Tok::Op("(") => {
                let first = self.or()?;
                if self.eat(",") {
                    let mut items = vec![first];
                    loop {
                        items.push(self.or()?);
                        if !self.eat(",") {
                            break;
                        }
                    }
                    if !self.eat(")") {
                        return Err("missing )".into());
                    }
                    return Ok(V::List(items));
                }
                if !self.eat(")") {
                    return Err("missing )".into());
                }
                Ok(first)
            }
            Tok::Op(op) => Err(format!("unexpected {op}")),
        }
    }
}

fn truth(v: &V, op: &str) -> Result<bool, String> {
    match v {
        V::Bool(b) => Ok(*b),
        other => Err(format!(
            "Value '{}' cannot be used with the logical operator '{op}', it is not a bool",
            text(other)
        )),
    }
}

fn num(v: &V, op: &str) -> Result<f64, String> {
    match v {
        V::Num(n) => Ok(*n),
        other => Err(format!(
            "Value '{}' cannot be used with the operator '{op}', it is not a number",
            text(other)
        )),
    }
}

fn text(v: &V) -> String {
    match v {
        V::Num(n) => super::gjson_go::format_go_float(*n),
        V::Str(s) => s.clone(),
        V::Bool(b) => b.to_string(),
        V::Nil => "<nil>".into(),
        V::List(_) => "(list)".into(),
        V::Other(j) => j.to_string(),
    }
}

#[allow(clippy::float_cmp)] // govaluate compares float64s exactly
fn compare(op: &str, a: &V, b: &V) -> Result<bool, String> {
    match op {
        "==" => Ok(a == b),
        "!=" => Ok(a != b),
        "=~" | "!~" => {
            let (V::Str(s), V::Str(pattern)) = (a, b) else {
                return Err(format!("'{op}' needs a string and a regular expression"));
            };
            let re = Regex::new(pattern)
                .map_err(|e| format!("bad regular expression {pattern:?}: {e}"))?;
            Ok(re.is_match(s) == (op == "=~"))
        }
        _ => {
            let ordering = match (a, b) {
                (V::Num(x), V::Num(y)) => x.partial_cmp(y),
                (V::Str(x), V::Str(y)) => Some(x.cmp(y)),
                _ => {
                    return Err(format!(
                        "Value '{}' cannot be used with the comparator '{op}'",
                        text(a)
                    ));
                }
            };
            let Some(ordering) = ordering else {
                return Ok(false);
            };
            Ok(match op {
                ">" => ordering.is_gt(),
                ">=" => ordering.is_ge(),
                "<" => ordering.is_lt(),
                _ => ordering.is_le(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(expr: &str) -> Result<bool, String> {
        let params: BTreeMap<String, Json> = [
            ("a".into(), json!(5)),
            ("b".into(), json!("opened")),
            ("c".into(), json!(true)),
        ]
        .into();
        evaluate(expr, &params)
    }

    #[test]
    fn expressions() {
        assert_eq!(eval("a > 3 && b == 'opened'"), Ok(true));
        assert_eq!(eval("(a + 1) * 2 == 12 || !c"), Ok(true));
        assert_eq!(eval("b =~ '^open'"), Ok(true));
        assert_eq!(eval("b !~ 'ed$'"), Ok(false));
        assert_eq!(eval("b in ('closed', 'opened')"), Ok(true));
        assert_eq!(eval("a == '5'"), Ok(false));
        assert_eq!(eval("a"), Ok(false));
        assert!(eval("missing == 1").unwrap_err().contains("No parameter"));
        assert!(eval("c ? 1 : 2").unwrap_err().contains("unsupported"));
    }
}
