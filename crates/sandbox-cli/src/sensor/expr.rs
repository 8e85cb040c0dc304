//! govaluate as Argo Events runs it: `github.com/Knetic/govaluate` at the
//! commit Argo Events v1.9 pins (9aa49832a739), created with
//! `NewEvaluableExpression`, so no functions are registered. This is a port
//! of its three phases, quirks included, because a Sensor filter means
//! whatever that library makes of it:
//!
//! - lexing (`parsing.go` `readToken`): a backslash escapes any character in
//!   strings, variable names and symbols (`'a\'b'`, `dep\-1`); a string ends
//!   at either quote character; a string literal that parses with one of the
//!   layouts of `tryParseTime` becomes the Unix time as a number; `in` and
//!   `IN` are the membership operator; a run of symbol characters is one
//!   token, so `a==-1` is an invalid token;
//! - grammar check (`lexerState.go`), then stage planning
//!   (`stagePlanner.go`): right-recursive precedence levels, reordered by
//!   `reorderStages`/`mirrorStageSubtree`;
//! - evaluation (`EvaluableExpression.go` `evaluateStage`): `&&`, `||`,
//!   `?`, `:` and `??` skip their right side when the left decides (a
//!   missing parameter there is no error); type checks give the library's
//!   messages.
//!
//! Parameters are what gjson's `Result.Value()` gives: numbers as float64,
//! arrays as lists, objects as maps.

use super::goregex;
use super::gotime;
use regex::Regex;
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// A value during evaluation (a Go `interface{}`).
#[derive(Debug, Clone)]
pub enum V {
    /// nil: JSON null, or the result of a ternary whose condition is false.
    Nil,
    /// float64.
    Num(f64),
    /// string.
    Str(String),
    /// bool.
    Bool(bool),
    /// []interface{}: a JSON array or a `(a, b)` list.
    List(Vec<V>),
    /// map[string]interface{}: a JSON object.
    Map(BTreeMap<String, V>),
    /// A precompiled pattern (`=~ 'literal'`).
    Pattern(Regex),
}

impl V {
    /// gjson's `Result.Value()` of a JSON value.
    pub fn from_json(j: &Json) -> V {
        match j {
            Json::Null => V::Nil,
            Json::Bool(b) => V::Bool(*b),
            Json::Number(n) => V::Num(n.as_f64().unwrap_or(0.0)),
            Json::String(s) => V::Str(s.clone()),
            Json::Array(items) => V::List(items.iter().map(V::from_json).collect()),
            Json::Object(map) => V::Map(
                map.iter()
                    .map(|(k, v)| (k.clone(), V::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// Go's `fmt.Sprintf("%v", v)`.
    pub fn go_string(&self) -> String {
        match self {
            V::Nil => "<nil>".into(),
            V::Num(n) => super::gjson_go::format_go_float(*n),
            V::Str(s) => s.clone(),
            V::Bool(b) => b.to_string(),
            V::List(items) => format!(
                "[{}]",
                items.iter().map(V::go_string).collect::<Vec<_>>().join(" ")
            ),
            V::Map(map) => format!(
                "map[{}]",
                map.iter()
                    .map(|(k, v)| format!("{k}:{}", v.go_string()))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            V::Pattern(re) => re.as_str().to_string(),
        }
    }

    /// `reflect.DeepEqual`.
    #[allow(clippy::float_cmp)] // Go compares float64s exactly
    fn deep_equal(&self, other: &V) -> bool {
        match (self, other) {
            (V::Nil, V::Nil) => true,
            (V::Num(a), V::Num(b)) => a == b,
            (V::Str(a), V::Str(b)) => a == b,
            (V::Bool(a), V::Bool(b)) => a == b,
            (V::List(a), V::List(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.deep_equal(y))
            }
            (V::Map(a), V::Map(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, v)| b.get(k).is_some_and(|w| v.deep_equal(w)))
            }
            (V::Pattern(a), V::Pattern(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }

    /// Go's `==` on two interfaces (the `in` operator); comparing two
    /// lists or two maps panics in Go.
    #[allow(clippy::float_cmp)]
    fn interface_eq(&self, other: &V) -> Result<bool, String> {
        match (self, other) {
            (V::List(_), V::List(_)) => {
                Err("runtime error: comparing uncomparable type []interface {}".into())
            }
            (V::Map(_), V::Map(_)) => {
                Err("runtime error: comparing uncomparable type map[string]interface {}".into())
            }
            _ => Ok(self.deep_equal(other)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Unknown,
    Prefix,
    Numeric,
    Boolean,
    Str,
    Pattern,
    Time,
    Variable,
    Function,
    Separator,
    Accessor,
    Comparator,
    LogicalOp,
    Modifier,
    Clause,
    ClauseClose,
    Ternary,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Unknown => "UNKNOWN",
            Kind::Prefix => "PREFIX",
            Kind::Numeric => "NUMERIC",
            Kind::Boolean => "BOOLEAN",
            Kind::Str => "STRING",
            Kind::Pattern => "PATTERN",
            Kind::Time => "TIME",
            Kind::Variable => "VARIABLE",
            Kind::Function => "FUNCTION",
            Kind::Separator => "SEPARATOR",
            Kind::Accessor => "ACCESSOR",
            Kind::Comparator => "COMPARATOR",
            Kind::LogicalOp => "LOGICALOP",
            Kind::Modifier => "MODIFIER",
            Kind::Clause => "CLAUSE",
            Kind::ClauseClose => "CLAUSE_CLOSE",
            Kind::Ternary => "TERNARY",
        }
    }

    /// `lexerState.go`: (can end the expression, kinds that may follow).
    #[rustfmt::skip]
    fn state(self) -> (bool, &'static [Kind]) {
        use Kind::*;
        // What may start an operand, and what may follow one.
        const OPERAND: &[Kind] = &[
            Prefix, Numeric, Boolean, Variable, Function, Accessor, Str, Time, Clause,
        ];
        const AFTER_OPERAND: &[Kind] = &[
            Modifier, Comparator, LogicalOp, ClauseClose, Ternary, Separator,
        ];
        match self {
            Unknown => (false, &[Prefix, Numeric, Boolean, Variable, Pattern, Function, Accessor, Str, Time, Clause]),
            Clause => (false, &[Prefix, Numeric, Boolean, Variable, Pattern, Function, Accessor, Str, Time, Clause, ClauseClose]),
            ClauseClose => (true, &[Comparator, Modifier, Numeric, Boolean, Variable, Str, Pattern, Time, Clause, ClauseClose, LogicalOp, Ternary, Separator]),
            Numeric | Boolean | Str | Variable => (true, AFTER_OPERAND),
            Time | Pattern => (true, &[Modifier, Comparator, LogicalOp, ClauseClose, Separator]),
            Modifier => (false, &[Prefix, Numeric, Variable, Function, Accessor, Str, Boolean, Clause, ClauseClose]),
            Comparator => (false, &[Prefix, Numeric, Boolean, Variable, Function, Accessor, Str, Time, Clause, ClauseClose, Pattern]),
            LogicalOp => (false, &[Prefix, Numeric, Boolean, Variable, Function, Accessor, Str, Time, Clause, ClauseClose]),
            Prefix => (false, &[Numeric, Boolean, Variable, Function, Accessor, Clause, ClauseClose]),
            Ternary => (false, &[Prefix, Numeric, Boolean, Str, Time, Variable, Function, Accessor, Clause, Separator]),
            Function => (false, &[Clause]),
            Accessor => (true, &[Clause, Modifier, Comparator, LogicalOp, ClauseClose, Ternary, Separator]),
            Separator => (false, OPERAND),
        }
    }
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    value: V,
    /// Accessor parts.
    parts: Vec<String>,
}

impl Token {
    fn new(kind: Kind, value: V) -> Token {
        Token {
            kind,
            value,
            parts: Vec::new(),
        }
    }

    fn symbol_text(&self) -> Option<&str> {
        match &self.value {
            V::Str(s) if !matches!(self.kind, Kind::Str | Kind::Variable) => Some(s),
            _ => None,
        }
    }
}

fn is_numeric(c: char) -> bool {
    c.is_ascii_digit() || c == '.'
}

fn is_variable_char(c: char) -> bool {
    c.is_alphabetic() || c.is_ascii_digit() || c == '_' || c == '.'
}

fn is_not_alphanumeric(c: char) -> bool {
    !(c.is_ascii_digit() || c.is_alphabetic() || matches!(c, '(' | ')' | '[' | ']' | '\'' | '"'))
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
}

impl Lexer {
    fn can_read(&self) -> bool {
        self.pos < self.chars.len()
    }

    fn read(&mut self) -> Result<char, String> {
        let c = self
            .chars
            .get(self.pos)
            .copied()
            .ok_or("runtime error: index out of range (a backslash ends the expression)")?;
        self.pos += 1;
        Ok(c)
    }

    /// `readUntilFalse`: (text, whether the condition or whitespace ended it).
    fn read_until_false(
        &mut self,
        include_whitespace: bool,
        break_whitespace: bool,
        condition: fn(char) -> bool,
    ) -> Result<(String, bool), String> {
        let mut out = String::new();
        while self.can_read() {
            let mut c = self.read()?;
            if c == '\\' {
                c = self.read()?;
                out.push(c);
                continue;
            }
            if c.is_whitespace() {
                if break_whitespace && !out.is_empty() {
                    return Ok((out, true));
                }
                if !include_whitespace {
                    continue;
                }
            }
            if condition(c) {
                out.push(c);
            } else {
                self.pos -= 1;
                return Ok((out, true));
            }
        }
        Ok((out, false))
    }

    fn read_token_until_false(&mut self, condition: fn(char) -> bool) -> Result<String, String> {
        self.pos -= 1;
        Ok(self.read_until_false(false, true, condition)?.0)
    }
}

const COMPARATORS: &[&str] = &["==", "!=", ">", ">=", "<", "<=", "=~", "!~", "in"];
const MODIFIERS: &[&str] = &["+", "-", "*", "/", "%", "**", "&", "|", "^", ">>", "<<"];
const PREFIXES: &[&str] = &["-", "!", "~"];
const TERNARIES: &[&str] = &["?", ":", "??"];

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut lx = Lexer {
        chars: text.chars().collect(),
        pos: 0,
    };
    let mut tokens = Vec::new();
    let mut state = Kind::Unknown;
    while lx.can_read() {
        let Some(token) = read_token(&mut lx, state)? else {
            break;
        };
        state = token.kind;
        tokens.push(token);
    }
    check_balance(&tokens)?;
    Ok(tokens)
}

fn read_token(lx: &mut Lexer, state: Kind) -> Result<Option<Token>, String> {
    while lx.can_read() {
        let c = lx.read()?;
        if c.is_whitespace() {
            continue;
        }
        if is_numeric(c) {
            if lx.can_read() && c == '0' {
                let x = lx.read()?;
                if lx.can_read() && x == 'x' {
                    let (hex, _) = lx.read_until_false(false, true, |c| c.is_ascii_hexdigit())?;
                    let n = u64::from_str_radix(&hex, 16)
                        .map_err(|_| format!("Unable to parse hex value '{hex}' to uint64\n"))?;
                    #[allow(clippy::cast_precision_loss)]
                    return Ok(Some(Token::new(Kind::Numeric, V::Num(n as f64))));
                }
                lx.pos -= 1;
            }
            let s = lx.read_token_until_false(is_numeric)?;
            let n = go_parse_float(&s)
                .ok_or_else(|| format!("Unable to parse numeric value '{s}' to float64\n"))?;
            return Ok(Some(Token::new(Kind::Numeric, V::Num(n))));
        }
        if c == ',' {
            return Ok(Some(Token::new(Kind::Separator, V::Str(",".into()))));
        }
        if c == '[' {
            let (name, completed) = lx.read_until_false(true, false, |c| c != ']')?;
            if !completed {
                return Err("Unclosed parameter bracket".into());
            }
            lx.pos += 1;
            return Ok(Some(Token::new(Kind::Variable, V::Str(name))));
        }
        if c.is_alphabetic() {
            let s = lx.read_token_until_false(is_variable_char)?;
            let mut token = match s.as_str() {
                "true" => Token::new(Kind::Boolean, V::Bool(true)),
                "false" => Token::new(Kind::Boolean, V::Bool(false)),
                "in" | "IN" => Token::new(Kind::Comparator, V::Str("in".into())),
                _ => Token::new(Kind::Variable, V::Str(s.clone())),
            };
            if s.find('.').is_some_and(|i| i > 0) {
                if s.ends_with('.') {
                    return Err(format!("Hanging accessor on token '{s}'"));
                }
                let parts: Vec<String> = s.split('.').map(str::to_string).collect();
                for part in &parts[1..] {
                    if let Some(first) = part.chars().next()
                        && first.to_uppercase().next() != Some(first)
                    {
                        return Err(format!(
                            "Unable to access unexported field '{part}' in token '{s}'"
                        ));
                    }
                }
                token = Token::new(Kind::Accessor, V::Nil);
                token.parts = parts;
            }
            return Ok(Some(token));
        }
        if c == '\'' || c == '"' {
            let (s, completed) = lx.read_until_false(true, false, |c| c != '\'' && c != '"')?;
            if !completed {
                return Err("Unclosed string literal".into());
            }
            lx.pos += 1;
            if let Some(t) = gotime::try_parse_govaluate(&s) {
                #[allow(clippy::cast_precision_loss)]
                return Ok(Some(Token::new(Kind::Time, V::Num(t.secs as f64))));
            }
            return Ok(Some(Token::new(Kind::Str, V::Str(s))));
        }
        if c == '(' {
            return Ok(Some(Token::new(Kind::Clause, V::Str("(".into()))));
        }
        if c == ')' {
            return Ok(Some(Token::new(Kind::ClauseClose, V::Str(")".into()))));
        }
        let s = lx.read_token_until_false(is_not_alphanumeric)?;
        let s_ref = s.as_str();
        let kind = if state.state().1.contains(&Kind::Prefix) && PREFIXES.contains(&s_ref) {
            Kind::Prefix
        } else if MODIFIERS.contains(&s_ref) {
            Kind::Modifier
        } else if s_ref == "&&" || s_ref == "||" {
            Kind::LogicalOp
        } else if COMPARATORS.contains(&s_ref) {
            Kind::Comparator
        } else if TERNARIES.contains(&s_ref) {
            Kind::Ternary
        } else {
            return Err(format!("Invalid token: '{s}'"));
        };
        return Ok(Some(Token::new(kind, V::Str(s))));
    }
    Ok(None)
}

/// `strconv.ParseFloat` of what the lexer reads as a number (digits and dots).
fn go_parse_float(s: &str) -> Option<f64> {
    if s.is_empty() || s == "." || s.matches('.').count() > 1 {
        return None;
    }
    s.parse().ok()
}

fn check_balance(tokens: &[Token]) -> Result<(), String> {
    let mut parens = 0_i64;
    for t in tokens {
        match t.kind {
            Kind::Clause => parens += 1,
            Kind::ClauseClose => parens -= 1,
            _ => {}
        }
    }
    if parens == 0 {
        Ok(())
    } else {
        Err("Unbalanced parenthesis".into())
    }
}

fn check_syntax(tokens: &[Token]) -> Result<(), String> {
    let mut state = Kind::Unknown;
    let mut last: Option<&Token> = None;
    for token in tokens {
        if !state.state().1.contains(&token.kind) {
            if let Some(l) = last
                && l.kind == Kind::Variable
                && token.kind == Kind::Clause
            {
                return Err(format!("Undefined function {}", l.value.go_string()));
            }
            let shown = |t: Option<&Token>| match t {
                Some(t) if t.kind == Kind::Accessor => format!("[{}]", t.parts.join(" ")),
                Some(t) => t.value.go_string(),
                None => "<nil>".into(),
            };
            return Err(format!(
                "Cannot transition token types from {} [{}] to {} [{}]",
                state.name(),
                shown(last),
                token.kind.name(),
                shown(Some(token))
            ));
        }
        state = token.kind;
        last = Some(token);
    }
    if state.state().0 {
        Ok(())
    } else {
        Err("Unexpected end of expression".into())
    }
}

/// An operator symbol (`OperatorSymbol.go`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sym {
    Value,
    Literal,
    Noop,
    Eq,
    Neq,
    Gt,
    Lt,
    Gte,
    Lte,
    Req,
    Nreq,
    In,
    And,
    Or,
    Plus,
    Minus,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
    Mul,
    Div,
    Mod,
    Exp,
    Negate,
    Invert,
    BitNot,
    TernaryTrue,
    TernaryFalse,
    Coalesce,
    Access,
    Separate,
}

impl Sym {
    fn from_text(s: &str) -> Option<Sym> {
        Some(match s {
            "==" => Sym::Eq,
            "!=" => Sym::Neq,
            ">" => Sym::Gt,
            "<" => Sym::Lt,
            ">=" => Sym::Gte,
            "<=" => Sym::Lte,
            "=~" => Sym::Req,
            "!~" => Sym::Nreq,
            "in" => Sym::In,
            "&&" => Sym::And,
            "||" => Sym::Or,
            "+" => Sym::Plus,
            "-" => Sym::Minus,
            "&" => Sym::BitAnd,
            "|" => Sym::BitOr,
            "^" => Sym::BitXor,
            "<<" => Sym::Shl,
            ">>" => Sym::Shr,
            "*" => Sym::Mul,
            "/" => Sym::Div,
            "%" => Sym::Mod,
            "**" => Sym::Exp,
            "?" => Sym::TernaryTrue,
            ":" => Sym::TernaryFalse,
            "??" => Sym::Coalesce,
            "," => Sym::Separate,
            _ => return None,
        })
    }

    fn text(self) -> &'static str {
        match self {
            Sym::Eq => "=",
            Sym::Neq => "!=",
            Sym::Gt => ">",
            Sym::Lt => "<",
            Sym::Gte => ">=",
            Sym::Lte => "<=",
            Sym::Req => "=~",
            Sym::Nreq => "!~",
            Sym::In => "in",
            Sym::And => "&&",
            Sym::Or => "||",
            Sym::Plus => "+",
            Sym::Minus | Sym::Negate => "-",
            Sym::BitAnd => "&",
            Sym::BitOr => "|",
            Sym::BitXor => "^",
            Sym::Shl => "<<",
            Sym::Shr => ">>",
            Sym::Mul => "*",
            Sym::Div => "/",
            Sym::Mod => "%",
            Sym::Exp => "**",
            Sym::Invert => "!",
            Sym::BitNot => "~",
            Sym::TernaryTrue => "?",
            Sym::TernaryFalse => ":",
            Sym::Coalesce => "??",
            Sym::Noop => "NOOP",
            Sym::Value => "VALUE",
            Sym::Literal | Sym::Access | Sym::Separate => "",
        }
    }

    /// `findOperatorPrecedenceForSymbol`.
    fn precedence(self) -> u8 {
        match self {
            Sym::Noop => 0,
            Sym::Access => 2,
            Sym::Negate | Sym::Invert | Sym::BitNot => 3,
            Sym::Exp => 4,
            Sym::Plus | Sym::Minus => 5,
            Sym::BitAnd | Sym::BitOr | Sym::BitXor => 6,
            Sym::Shl | Sym::Shr => 7,
            Sym::Mul | Sym::Div | Sym::Mod => 8,
            Sym::Eq
            | Sym::Neq
            | Sym::Gt
            | Sym::Lt
            | Sym::Gte
            | Sym::Lte
            | Sym::Req
            | Sym::Nreq
            | Sym::In => 9,
            Sym::TernaryTrue | Sym::TernaryFalse | Sym::Coalesce => 10,
            Sym::And => 11,
            Sym::Or => 12,
            Sym::Separate => 13,
            Sym::Value | Sym::Literal => 1,
        }
    }

    fn error_format(self) -> &'static str {
        match self.precedence() {
            3 => "prefix",
            4..=8 => "modifier",
            9 => "comparator",
            10 => "ternary",
            11 | 12 => "logical",
            _ => "",
        }
    }

    fn short_circuits(self) -> bool {
        matches!(
            self,
            Sym::And | Sym::Or | Sym::TernaryTrue | Sym::TernaryFalse | Sym::Coalesce
        )
    }
}

/// What a stage does besides its symbol's operator.
#[derive(Debug, Clone)]
enum Op {
    Symbol,
    Literal(V),
    Param(String),
    Accessor(Vec<String>),
}

#[derive(Debug, Clone)]
struct Stage {
    symbol: Sym,
    op: Op,
    left: Option<usize>,
    right: Option<usize>,
}

/// The precedence levels of `stagePlanner.go`, highest binding last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Separator,
    Ternary,
    Or,
    And,
    Comparator,
    Bitwise,
    Shift,
    Additive,
    Multiplicative,
    Exponential,
    Prefix,
}

impl Level {
    fn symbols(self) -> &'static [&'static str] {
        match self {
            Level::Separator => &[","],
            Level::Ternary => TERNARIES,
            Level::Or => &["||"],
            Level::And => &["&&"],
            Level::Comparator => COMPARATORS,
            Level::Bitwise => &["^", "&", "|"],
            Level::Shift => &[">>", "<<"],
            Level::Additive => &["+", "-"],
            Level::Multiplicative => &["*", "/", "%"],
            Level::Exponential => &["**"],
            Level::Prefix => PREFIXES,
        }
    }

    fn kind(self) -> Kind {
        match self {
            Level::Separator => Kind::Separator,
            Level::Ternary => Kind::Ternary,
            Level::Or | Level::And => Kind::LogicalOp,
            Level::Comparator => Kind::Comparator,
            Level::Prefix => Kind::Prefix,
            _ => Kind::Modifier,
        }
    }

    /// The level its left side is planned with (`next`); `None` for the
    /// prefix level, whose left is empty. `Exponential` goes on to functions.
    fn next(self) -> Option<Level> {
        match self {
            Level::Separator => Some(Level::Ternary),
            Level::Ternary => Some(Level::Or),
            Level::Or => Some(Level::And),
            Level::And => Some(Level::Comparator),
            Level::Comparator => Some(Level::Bitwise),
            Level::Bitwise => Some(Level::Shift),
            Level::Shift => Some(Level::Additive),
            Level::Additive => Some(Level::Multiplicative),
            Level::Multiplicative => Some(Level::Exponential),
            Level::Exponential | Level::Prefix => None,
        }
    }
}

struct Planner {
    tokens: Vec<Token>,
    index: isize,
    stages: Vec<Stage>,
}

impl Planner {
    fn has_next(&self) -> bool {
        self.index < self.tokens.len() as isize
    }

    fn next(&mut self) -> Result<Token, String> {
        let t = usize::try_from(self.index)
            .ok()
            .and_then(|i| self.tokens.get(i))
            .cloned()
            .ok_or("runtime error: index out of range (planning past the last token)")?;
        self.index += 1;
        Ok(t)
    }

    fn rewind(&mut self) {
        self.index -= 1;
    }

    fn push(&mut self, symbol: Sym, op: Op, left: Option<usize>, right: Option<usize>) -> usize {
        self.stages.push(Stage {
            symbol,
            op,
            left,
            right,
        });
        self.stages.len() - 1
    }

    fn plan_tokens(&mut self) -> Result<Option<usize>, String> {
        if !self.has_next() {
            return Ok(None);
        }
        self.plan_level(Level::Separator)
    }

    /// `planPrecedenceLevel`.
    fn plan_level(&mut self, level: Level) -> Result<Option<usize>, String> {
        let left = match level.next() {
            Some(next) => self.plan_level(next)?,
            None if level == Level::Exponential => self.plan_function()?,
            None => None,
        };
        if self.has_next() {
            let token = self.next()?;
            let symbol = (token.kind == level.kind())
                .then(|| token.symbol_text())
                .flatten()
                .filter(|s| level.symbols().contains(s));
            if let Some(text) = symbol {
                let symbol = match (level, text) {
                    (Level::Prefix, "-") => Sym::Negate,
                    (Level::Prefix, "!") => Sym::Invert,
                    (Level::Prefix, _) => Sym::BitNot,
                    _ => Sym::from_text(text).ok_or("unknown operator")?,
                };
                let right = if level == Level::Prefix {
                    self.plan_function()?
                } else {
                    self.plan_level(level)?
                };
                return Ok(Some(self.push(symbol, Op::Symbol, left, right)));
            }
        }
        self.rewind();
        Ok(left)
    }

    fn plan_function(&mut self) -> Result<Option<usize>, String> {
        let token = self.next()?;
        if token.kind == Kind::Function {
            return Err("functions are not registered by Argo Events".into());
        }
        self.rewind();
        self.plan_accessor()
    }

    fn plan_accessor(&mut self) -> Result<Option<usize>, String> {
        if !self.has_next() {
            return Ok(None);
        }
        let token = self.next()?;
        if token.kind != Kind::Accessor {
            self.rewind();
            return self.plan_value();
        }
        let mut right = None;
        if self.has_next() {
            let other = self.next()?;
            self.rewind();
            if other.kind == Kind::Clause {
                right = self.plan_tokens()?;
            }
        }
        Ok(Some(self.push(
            Sym::Access,
            Op::Accessor(token.parts),
            None,
            right,
        )))
    }

    fn plan_value(&mut self) -> Result<Option<usize>, String> {
        if !self.has_next() {
            return Ok(None);
        }
        let token = self.next()?;
        match token.kind {
            Kind::Clause => {
                let inner = self.plan_tokens()?;
                self.next()?;
                Ok(Some(self.push(Sym::Noop, Op::Symbol, None, inner)))
            }
            Kind::ClauseClose => {
                self.rewind();
                Ok(None)
            }
            Kind::Variable => {
                let name = token.value.go_string();
                Ok(Some(self.push(Sym::Value, Op::Param(name), None, None)))
            }
            Kind::Numeric | Kind::Str | Kind::Pattern | Kind::Boolean | Kind::Time => Ok(Some(
                self.push(Sym::Literal, Op::Literal(token.value), None, None),
            )),
            Kind::Prefix => {
                self.rewind();
                self.plan_level(Level::Prefix)
            }
            other => Err(format!(
                "Unable to plan token kind: '{}', value: '{}'",
                other.name(),
                token.value.go_string()
            )),
        }
    }

    /// `reorderStages`.
    fn reorder(&mut self, root: usize) {
        let mut identical: Vec<usize> = Vec::new();
        let mut next = Some(root);
        let mut precedence = self.stages[root].symbol.precedence();
        while let Some(current) = next {
            next = self.stages[current].right;
            if let Some(left) = self.stages[current].left {
                self.reorder(left);
            }
            let current_precedence = self.stages[current].symbol.precedence();
            if current_precedence == precedence {
                identical.push(current);
                continue;
            }
            if identical.len() > 1 {
                self.mirror(&identical);
            }
            identical = vec![current];
            precedence = current_precedence;
        }
        if identical.len() > 1 {
            self.mirror(&identical);
        }
    }

    /// `mirrorStageSubtree`.
    fn mirror(&mut self, stages: &[usize]) {
        let n = stages.len();
        for &s in stages {
            let st = &mut self.stages[s];
            std::mem::swap(&mut st.left, &mut st.right);
        }
        let (root, front) = (stages[0], stages[n - 1]);
        let carry = self.stages[front].left;
        self.stages[front].left = self.stages[root].right;
        self.stages[root].right = carry;
        for i in 0..((n - 2) / 2 + 1) {
            let (front, inverse) = (stages[i + 1], stages[n - i - 1]);
            let carry = self.stages[front].right;
            self.stages[front].right = self.stages[inverse].right;
            self.stages[inverse].right = carry;
        }
        for i in 0..n / 2 {
            let (front, inverse) = (stages[i], stages[n - i - 1]);
            let a = (self.stages[front].symbol, self.stages[front].op.clone());
            let b = (self.stages[inverse].symbol, self.stages[inverse].op.clone());
            (self.stages[front].symbol, self.stages[front].op) = b;
            (self.stages[inverse].symbol, self.stages[inverse].op) = a;
        }
    }
}

/// A parsed expression.
#[derive(Debug, Clone)]
pub struct Expression {
    stages: Vec<Stage>,
    root: Option<usize>,
    /// The parameter names it reads (govaluate's `Vars()`).
    pub vars: Vec<String>,
}

/// `NewEvaluableExpression`: parse, check and plan.
pub fn parse(text: &str) -> Result<Expression, String> {
    let mut tokens = tokenize(text)?;
    check_syntax(&tokens)?;
    // optimizeTokens: a string right of =~ / !~ is compiled now.
    for i in 0..tokens.len() {
        let is_regex_op = tokens[i].kind == Kind::Comparator
            && matches!(tokens[i].symbol_text(), Some("=~" | "!~"));
        if is_regex_op
            && let Some(next) = tokens.get_mut(i + 1)
            && next.kind == Kind::Str
        {
            let pattern = next.value.go_string();
            next.kind = Kind::Pattern;
            next.value = V::Pattern(goregex::compile(&pattern)?);
        }
    }
    let vars = tokens
        .iter()
        .filter(|t| t.kind == Kind::Variable)
        .map(|t| t.value.go_string())
        .collect();
    let mut planner = Planner {
        tokens,
        index: 0,
        stages: Vec::new(),
    };
    let root = planner.plan_tokens()?;
    if let Some(root) = root {
        planner.reorder(root);
    }
    Ok(Expression {
        stages: planner.stages,
        root,
        vars,
    })
}

/// Parse and evaluate `text` with `params` (gjson values by name).
pub fn evaluate(text: &str, params: &BTreeMap<String, Json>) -> Result<V, String> {
    let params: BTreeMap<String, V> = params
        .iter()
        .map(|(k, v)| (k.clone(), V::from_json(v)))
        .collect();
    parse(text)?.evaluate(&params)
}

impl Expression {
    /// `Evaluate(parameters)`.
    pub fn evaluate(&self, params: &BTreeMap<String, V>) -> Result<V, String> {
        match self.root {
            None => Ok(V::Nil),
            Some(root) => self.stage(root, params),
        }
    }

    fn stage(&self, index: usize, params: &BTreeMap<String, V>) -> Result<V, String> {
        let stage = &self.stages[index];
        let left = match stage.left {
            Some(l) => self.stage(l, params)?,
            None => V::Nil,
        };
        let mut skip_right = false;
        if stage.symbol.short_circuits() {
            match (stage.symbol, &left) {
                (Sym::And, V::Bool(false)) => return Ok(V::Bool(false)),
                (Sym::Or, V::Bool(true)) => return Ok(V::Bool(true)),
                (Sym::Coalesce, l) if !matches!(l, V::Nil) => return Ok(left),
                (Sym::TernaryTrue, V::Bool(false)) => skip_right = true,
                (Sym::TernaryFalse, l) if !matches!(l, V::Nil) => skip_right = true,
                _ => {}
            }
        }
        let right = match stage.right {
            Some(r) if !skip_right => self.stage(r, params)?,
            _ => V::Nil,
        };
        type_check(stage.symbol, &left, &right, skip_right)?;
        self.operate(stage, left, right, params)
    }

    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    fn operate(
        &self,
        stage: &Stage,
        left: V,
        right: V,
        params: &BTreeMap<String, V>,
    ) -> Result<V, String> {
        match &stage.op {
            Op::Literal(v) => return Ok(v.clone()),
            Op::Param(name) => {
                return params
                    .get(name)
                    .cloned()
                    .ok_or_else(|| format!("No parameter '{name}' found."));
            }
            Op::Accessor(parts) => {
                if !params.contains_key(&parts[0]) {
                    return Err(format!("No parameter '{}' found.", parts[0]));
                }
                return Err(format!(
                    "Unable to access '{}', '{}' is not a struct",
                    parts[1], parts[0]
                ));
            }
            Op::Symbol => {}
        }
        let num = |v: &V| match v {
            V::Num(n) => *n,
            _ => 0.0,
        };
        let (a, b) = (num(&left), num(&right));
        Ok(match stage.symbol {
            Sym::Noop => right,
            Sym::Plus => match (&left, &right) {
                (V::Str(_), _) | (_, V::Str(_)) => {
                    V::Str(format!("{}{}", left.go_string(), right.go_string()))
                }
                _ => V::Num(a + b),
            },
            Sym::Minus => V::Num(a - b),
            Sym::Mul => V::Num(a * b),
            Sym::Div => V::Num(a / b),
            Sym::Mod => V::Num(a % b),
            Sym::Exp => V::Num(a.powf(b)),
            Sym::BitAnd => V::Num(((a as i64) & (b as i64)) as f64),
            Sym::BitOr => V::Num(((a as i64) | (b as i64)) as f64),
            Sym::BitXor => V::Num(((a as i64) ^ (b as i64)) as f64),
            Sym::Shl => V::Num(
                (a as u64)
                    .checked_shl(u32::try_from(b as u64).unwrap_or(u32::MAX))
                    .unwrap_or(0) as f64,
            ),
            Sym::Shr => V::Num(
                (a as u64)
                    .checked_shr(u32::try_from(b as u64).unwrap_or(u32::MAX))
                    .unwrap_or(0) as f64,
            ),
            Sym::Negate => V::Num(-b),
            Sym::Invert => V::Bool(!matches!(right, V::Bool(true))),
            Sym::BitNot => V::Num(!(b as i64) as f64),
            Sym::Gt | Sym::Lt | Sym::Gte | Sym::Lte => {
                let ordering = match (&left, &right) {
                    (V::Str(x), V::Str(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
                    _ => a.partial_cmp(&b),
                };
                V::Bool(ordering.is_some_and(|o| match stage.symbol {
                    Sym::Gt => o.is_gt(),
                    Sym::Lt => o.is_lt(),
                    Sym::Gte => o.is_ge(),
                    _ => o.is_le(),
                }))
            }
            Sym::Eq => V::Bool(left.deep_equal(&right)),
            Sym::Neq => V::Bool(!left.deep_equal(&right)),
            Sym::And => V::Bool(matches!((&left, &right), (V::Bool(true), V::Bool(true)))),
            Sym::Or => V::Bool(matches!(left, V::Bool(true)) || matches!(right, V::Bool(true))),
            Sym::Req | Sym::Nreq => {
                let V::Str(text) = &left else {
                    return Err("regex needs a string".into());
                };
                let matched = match &right {
                    V::Pattern(re) => re.is_match(text),
                    V::Str(p) => goregex::compile(p)
                        .map_err(|e| format!("Unable to compile regexp pattern '{p}': {e}"))?
                        .is_match(text),
                    _ => false,
                };
                V::Bool(matched == (stage.symbol == Sym::Req))
            }
            Sym::In => {
                let V::List(items) = &right else {
                    return Ok(V::Bool(false));
                };
                for item in items {
                    if left.interface_eq(item)? {
                        return Ok(V::Bool(true));
                    }
                }
                V::Bool(false)
            }
            Sym::TernaryTrue => {
                if matches!(left, V::Bool(true)) {
                    right
                } else {
                    V::Nil
                }
            }
            Sym::TernaryFalse | Sym::Coalesce => {
                if matches!(left, V::Nil) {
                    right
                } else {
                    left
                }
            }
            Sym::Separate => match left {
                V::List(mut items) => {
                    items.push(right);
                    V::List(items)
                }
                other => V::List(vec![other, right]),
            },
            Sym::Value | Sym::Literal | Sym::Access => V::Nil,
        })
    }
}

/// `findTypeChecks` with the library's messages.
fn type_check(symbol: Sym, left: &V, right: &V, right_skipped: bool) -> Result<(), String> {
    let is_num = |v: &V| matches!(v, V::Num(_));
    let is_str = |v: &V| matches!(v, V::Str(_));
    let is_bool = |v: &V| matches!(v, V::Bool(_));
    let fail = |v: &V| {
        let what = symbol.error_format();
        let text = if right_skipped && std::ptr::eq(v, right) {
            "-1".to_string()
        } else {
            v.go_string()
        };
        Err(match what {
            "prefix" => format!(
                "Value '{text}' cannot be used with the prefix '{}'",
                symbol.text()
            ),
            "ternary" => format!(
                "Value '{text}' cannot be used with the ternary operator '{}', it is not a bool",
                symbol.text()
            ),
            "logical" => format!(
                "Value '{text}' cannot be used with the logical operator '{}', it is not a bool",
                symbol.text()
            ),
            "modifier" => format!(
                "Value '{text}' cannot be used with the modifier '{}', it is not a number",
                symbol.text()
            ),
            _ => format!(
                "Value '{text}' cannot be used with the comparator '{}', it is not a number",
                symbol.text()
            ),
        })
    };
    match symbol {
        Sym::Gt | Sym::Lt | Sym::Gte | Sym::Lte => {
            if (is_num(left) && is_num(right)) || (is_str(left) && is_str(right)) {
                Ok(())
            } else {
                fail(left)
            }
        }
        Sym::Req | Sym::Nreq => {
            if !is_str(left) {
                fail(left)
            } else if !matches!(right, V::Str(_) | V::Pattern(_)) {
                fail(right)
            } else {
                Ok(())
            }
        }
        Sym::And | Sym::Or => {
            if !is_bool(left) {
                fail(left)
            } else if !is_bool(right) {
                fail(right)
            } else {
                Ok(())
            }
        }
        Sym::In => {
            if matches!(right, V::List(_)) {
                Ok(())
            } else {
                fail(right)
            }
        }
        Sym::BitAnd
        | Sym::BitOr
        | Sym::BitXor
        | Sym::Shl
        | Sym::Shr
        | Sym::Minus
        | Sym::Mul
        | Sym::Div
        | Sym::Mod
        | Sym::Exp => {
            if !is_num(left) {
                fail(left)
            } else if !is_num(right) {
                fail(right)
            } else {
                Ok(())
            }
        }
        Sym::Plus => {
            if (is_num(left) && is_num(right)) || is_str(left) || is_str(right) {
                Ok(())
            } else {
                fail(left)
            }
        }
        Sym::Negate | Sym::BitNot => {
            if is_num(right) {
                Ok(())
            } else {
                fail(right)
            }
        }
        Sym::Invert => {
            if is_bool(right) {
                Ok(())
            } else {
                fail(right)
            }
        }
        Sym::TernaryTrue => {
            if is_bool(left) {
                Ok(())
            } else {
                fail(left)
            }
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(expr: &str) -> Result<String, String> {
        let params: BTreeMap<String, Json> = [
            ("a".to_string(), json!(5)),
            ("b".to_string(), json!("opened")),
            ("c".to_string(), json!(true)),
            ("dep-1".to_string(), json!(true)),
            ("list".to_string(), json!(["x", 2])),
            ("n".to_string(), json!(null)),
            ("date".to_string(), json!("2014-01-02")),
        ]
        .into();
        evaluate(expr, &params).map(|v| v.go_string())
    }

    #[test]
    fn operators_and_precedence() {
        assert_eq!(eval("a > 3 && b == 'opened'").unwrap(), "true");
        assert_eq!(eval("(a + 1) * 2 == 12 || !c").unwrap(), "true");
        assert_eq!(eval("a - 2 - 1").unwrap(), "2");
        assert_eq!(eval("a / 5 * 2").unwrap(), "2");
        assert_eq!(eval("2 ** 3").unwrap(), "8");
        assert_eq!(eval("a % 3").unwrap(), "2");
        assert_eq!(eval("1 + 2 * 3").unwrap(), "7");
        assert_eq!(eval("b + a").unwrap(), "opened5");
        assert_eq!(eval("-a + 10").unwrap(), "5");
        assert_eq!(eval("0x10 | 1").unwrap(), "17");
        assert_eq!(eval("'b' > 'a'").unwrap(), "true");
        assert_eq!(eval("a == '5'").unwrap(), "false");
        assert_eq!(eval("list == ('x', 2)").unwrap(), "true");
    }

    #[test]
    fn short_circuit_skips_missing_parameters() {
        assert_eq!(eval("false && missing").unwrap(), "false");
        assert_eq!(eval("c || missing == 1").unwrap(), "true");
        assert!(
            eval("c && missing")
                .unwrap_err()
                .contains("No parameter 'missing'")
        );
        assert_eq!(eval("n ?? 'fallback'").unwrap(), "fallback");
        assert_eq!(eval("a ?? missing").unwrap(), "5");
    }

    #[test]
    fn ternaries() {
        assert_eq!(eval("c ? 'yes' : 'no'").unwrap(), "yes");
        assert_eq!(eval("a > 10 ? 'big' : 'small'").unwrap(), "small");
        assert_eq!(eval("a > 10 ? 'big'").unwrap(), "<nil>");
        assert!(eval("a ? 1 : 2").unwrap_err().contains("ternary"));
    }

    #[test]
    fn strings_escapes_and_regex() {
        assert_eq!(eval(r"b =~ '^op\\w+$'").unwrap(), "true");
        // One backslash is eaten by the lexer: the pattern is `^opw`.
        assert_eq!(eval(r"b =~ '^op\w'").unwrap(), "false");
        assert_eq!(eval(r"'it\'s' + ''").unwrap(), "it's");
        // Either quote ends a string.
        assert!(eval(r#""it's" == 1"#).is_err());
        assert_eq!(eval("b !~ 'ed$'").unwrap(), "false");
        assert!(eval("a =~ 'x'").unwrap_err().contains("comparator '=~'"));
    }

    #[test]
    fn membership() {
        assert_eq!(eval("b in ('closed', 'opened')").unwrap(), "true");
        assert_eq!(eval("b IN ('closed', 'merged')").unwrap(), "false");
        assert_eq!(eval("2 in list").unwrap(), "true");
        assert!(eval("b in ('opened')").is_err());
    }

    #[test]
    fn dates_become_unix_times() {
        assert_eq!(eval("'2014-01-02' == 1388620800").unwrap(), "true");
        assert_eq!(eval("'2014-01-02' < '2014-01-03'").unwrap(), "true");
        // A date string from the event is not converted; comparing it with a
        // date literal mixes a string and a number.
        assert!(eval("date > '2014-01-01'").is_err());
    }

    #[test]
    fn parse_errors() {
        assert!(eval("a ==-1").unwrap_err().contains("Invalid token"));
        assert!(
            eval("len(b) > 1")
                .unwrap_err()
                .contains("Undefined function len")
        );
        assert!(eval("(a > 1").unwrap_err().contains("Unbalanced"));
        assert!(eval("a >").unwrap_err().contains("Unexpected end"));
        assert!(eval("'abc").unwrap_err().contains("Unclosed string"));
        assert!(eval("_a == 1").unwrap_err().contains("Invalid token"));
        assert!(eval("a.b == 1").unwrap_err().contains("unexported"));
        assert!(eval("a.B == 1").unwrap_err().contains("not a struct"));
        assert_eq!(eval(r"dep\-1 && [dep-1]").unwrap(), "true");
    }
}
