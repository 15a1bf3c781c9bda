//! The small expression language of action steps and derived values.
//!
//! Values: numbers, names (action parameters, or registers in a derived value), parameter fields
//! (`dateTime.year`), `+ - * /`, parentheses and the functions `min(a, b, ...)`,
//! `max(a, b, ...)`, `abs(x)`, `round(x, digits)` and `if(condition, then, else)`. A comparison (`== != < <= > >=`)
//! is 1 when it holds and 0 otherwise, so `if(Grid_Power < 0, -Grid_Power, 0)` reads naturally.
//! Conditions of action steps: `<expr> <op> <expr>`, or a bare parameter name meaning "was
//! given". Expressions are parsed when the map loads, so a typo is a load error, and evaluated
//! when an action is called or a read is decoded.

use std::fmt;

/// An arithmetic expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A literal.
    Number(f64),
    /// A parameter, or one of its fields.
    Param {
        /// Parameter name.
        name: String,
        /// Field (`year`, `hour`, ...), if any.
        field: Option<String>,
    },
    /// A binary operation.
    Binary(Box<Expr>, Op, Box<Expr>),
    /// Unary minus.
    Neg(Box<Expr>),
    /// A comparison: 1 when it holds, else 0.
    Compare(Box<Expr>, Cmp, Box<Expr>),
    /// A function call; the parser checks the number of arguments.
    Call(Func, Vec<Expr>),
}

/// A function of the expression language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    /// `min(a, b, ...)`: the smallest argument.
    Min,
    /// `max(a, b, ...)`: the largest argument.
    Max,
    /// `abs(x)`.
    Abs,
    /// `round(x)` or `round(x, digits)`: to that many decimal places (0 by default), halves away
    /// from zero.
    Round,
    /// `if(condition, then, else)`: `then` when the condition is not 0.
    If,
}

impl Func {
    /// Every function.
    pub const ALL: [Func; 5] = [Func::Min, Func::Max, Func::Abs, Func::Round, Func::If];

    /// The name written in expressions.
    pub const fn name(self) -> &'static str {
        match self {
            Func::Min => "min",
            Func::Max => "max",
            Func::Abs => "abs",
            Func::Round => "round",
            Func::If => "if",
        }
    }

    /// Whether `n` arguments are allowed, and what is allowed, in words.
    fn arity(self, n: usize) -> Result<(), &'static str> {
        match self {
            Func::Min | Func::Max if n >= 1 => Ok(()),
            Func::Min | Func::Max => Err("at least one argument"),
            Func::Abs if n == 1 => Ok(()),
            Func::Abs => Err("exactly one argument"),
            Func::Round if n == 1 || n == 2 => Ok(()),
            Func::Round => Err("one or two arguments: round(x) or round(x, digits)"),
            Func::If if n == 3 => Ok(()),
            Func::If => Err("three arguments: if(condition, then, else)"),
        }
    }
}

/// An arithmetic operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Cmp {
    fn symbol(self) -> &'static str {
        match self {
            Cmp::Eq => "==",
            Cmp::Ne => "!=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }

    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
        }
    }
}

/// The condition of a step.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The parameter was given.
    Given(String),
    /// A comparison.
    Compare(Expr, Cmp, Expr),
}

/// Why text is not an expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at character {position} of `{text}`")]
pub struct ExprError {
    /// The expression text.
    pub text: String,
    /// 1-based character position of the problem.
    pub position: usize,
    /// What is wrong.
    pub message: String,
}

/// A value an expression cannot compute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// An optional parameter was used but not given.
    #[error("parameter `{0}` was not given")]
    Absent(String),
    /// Division by zero.
    #[error("division by zero")]
    DivisionByZero,
    /// A field that the parameter's value does not have.
    #[error("parameter `{param}` has no field `{field}`")]
    NoField {
        /// Parameter.
        param: String,
        /// Field.
        field: String,
    },
}

/// Values of parameters while evaluating.
pub trait Env {
    /// The value of a parameter or of one of its fields; `Ok(None)` when it was not given.
    fn get(&self, name: &str, field: Option<&str>) -> Result<Option<f64>, EvalError>;
}

impl Expr {
    /// Parses an expression.
    pub fn parse(text: &str) -> Result<Expr, ExprError> {
        let mut p = Parser::new(text);
        let e = p.expr()?;
        p.skip_ws();
        if p.pos < p.chars.len() {
            return Err(p.error("unexpected text"));
        }
        Ok(e)
    }

    /// Parses an expression that may also compare: `a < b` is 1 when it holds, else 0 (the
    /// form of derived values).
    pub fn parse_comparison(text: &str) -> Result<Expr, ExprError> {
        let mut p = Parser::new(text);
        let e = p.comparison()?;
        p.skip_ws();
        if p.pos < p.chars.len() {
            return Err(p.error("unexpected text"));
        }
        Ok(e)
    }

    /// Evaluates it.
    pub fn eval(&self, env: &dyn Env) -> Result<f64, EvalError> {
        match self {
            Expr::Number(n) => Ok(*n),
            Expr::Param { name, field } => env
                .get(name, field.as_deref())?
                .ok_or_else(|| EvalError::Absent(name.clone())),
            Expr::Neg(e) => Ok(-e.eval(env)?),
            Expr::Compare(a, cmp, b) => Ok(if cmp.holds(a.eval(env)?, b.eval(env)?) {
                1.0
            } else {
                0.0
            }),
            Expr::Call(func, args) => {
                let values = args
                    .iter()
                    .map(|a| a.eval(env))
                    .collect::<Result<Vec<f64>, EvalError>>()?;
                Ok(match (func, values.as_slice()) {
                    (Func::Min, _) => values.iter().copied().fold(f64::INFINITY, f64::min),
                    (Func::Max, _) => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    (Func::Abs, [x]) => x.abs(),
                    (Func::Round, [x]) => x.round(),
                    (Func::Round, [x, digits]) => {
                        // Digits beyond what a double holds change nothing.
                        let factor = 10_f64.powi(digits.round().clamp(-15.0, 15.0) as i32);
                        (x * factor).round() / factor
                    }
                    (Func::If, [c, then, otherwise]) => {
                        if *c != 0.0 {
                            *then
                        } else {
                            *otherwise
                        }
                    }
                    // The parser checks arities, so these are unreachable for parsed text.
                    (Func::Abs | Func::Round | Func::If, _) => f64::NAN,
                })
            }
            Expr::Binary(a, op, b) => {
                let (a, b) = (a.eval(env)?, b.eval(env)?);
                match op {
                    Op::Add => Ok(a + b),
                    Op::Sub => Ok(a - b),
                    Op::Mul => Ok(a * b),
                    Op::Div if b == 0.0 => Err(EvalError::DivisionByZero),
                    Op::Div => Ok(a / b),
                }
            }
        }
    }

    /// Every parameter (and field) the expression names.
    pub fn params(&self) -> Vec<(&str, Option<&str>)> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<(&'a str, Option<&'a str>)>) {
        match self {
            Expr::Number(_) => {}
            Expr::Param { name, field } => out.push((name, field.as_deref())),
            Expr::Neg(e) => e.collect(out),
            Expr::Binary(a, _, b) | Expr::Compare(a, _, b) => {
                a.collect(out);
                b.collect(out);
            }
            Expr::Call(_, args) => args.iter().for_each(|a| a.collect(out)),
        }
    }
}

impl Condition {
    /// Parses a condition.
    pub fn parse(text: &str) -> Result<Condition, ExprError> {
        let mut p = Parser::new(text);
        let left = p.expr()?;
        p.skip_ws();
        if p.pos >= p.chars.len() {
            return match left {
                Expr::Param { name, field: None } => Ok(Condition::Given(name)),
                _ => Err(p.error(
                    "a condition needs a comparison (==, !=, <, <=, >, >=) or a bare parameter name",
                )),
            };
        }
        let cmp = p.cmp()?;
        let right = p.expr()?;
        p.skip_ws();
        if p.pos < p.chars.len() {
            return Err(p.error("unexpected text"));
        }
        Ok(Condition::Compare(left, cmp, right))
    }

    /// Evaluates it; a comparison over a parameter that was not given is false.
    pub fn holds(&self, env: &dyn Env) -> Result<bool, EvalError> {
        match self {
            Condition::Given(name) => Ok(env.get(name, None)?.is_some()),
            Condition::Compare(a, cmp, b) => {
                let a = match a.eval(env) {
                    Err(EvalError::Absent(_)) => return Ok(false),
                    other => other?,
                };
                let b = match b.eval(env) {
                    Err(EvalError::Absent(_)) => return Ok(false),
                    other => other?,
                };
                Ok(cmp.holds(a, b))
            }
        }
    }

    /// Every parameter the condition names.
    pub fn params(&self) -> Vec<(&str, Option<&str>)> {
        match self {
            Condition::Given(name) => vec![(name.as_str(), None)],
            Condition::Compare(a, _, b) => {
                let mut v = a.params();
                v.extend(b.params());
                v
            }
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Number(n) => write!(f, "{n}"),
            Expr::Param { name, field: None } => f.write_str(name),
            Expr::Param {
                name,
                field: Some(field),
            } => write!(f, "{name}.{field}"),
            Expr::Neg(e) => write!(f, "-{e}"),
            Expr::Compare(a, cmp, b) => write!(f, "({a} {} {b})", cmp.symbol()),
            Expr::Call(func, args) => {
                write!(f, "{}(", func.name())?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str(")")
            }
            Expr::Binary(a, op, b) => {
                let op = match op {
                    Op::Add => "+",
                    Op::Sub => "-",
                    Op::Mul => "*",
                    Op::Div => "/",
                };
                write!(f, "({a} {op} {b})")
            }
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::Given(name) => f.write_str(name),
            Condition::Compare(a, cmp, b) => write!(f, "{a} {} {b}", cmp.symbol()),
        }
    }
}

struct Parser {
    text: String,
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn new(text: &str) -> Self {
        Parser {
            text: text.to_owned(),
            chars: text.chars().collect(),
            pos: 0,
        }
    }

    fn error(&self, message: &str) -> ExprError {
        ExprError {
            text: self.text.clone(),
            position: self.pos + 1,
            message: message.to_owned(),
        }
    }

    fn skip_ws(&mut self) {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_ws();
        self.chars.get(self.pos).copied()
    }

    /// An arithmetic expression, optionally compared with another.
    fn comparison(&mut self) -> Result<Expr, ExprError> {
        let left = self.expr()?;
        match self.peek() {
            Some('=' | '!' | '<' | '>') => {
                let cmp = self.cmp()?;
                let right = self.expr()?;
                Ok(Expr::Compare(Box::new(left), cmp, Box::new(right)))
            }
            _ => Ok(left),
        }
    }

    fn expr(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.term()?;
        while let Some(c @ ('+' | '-')) = self.peek() {
            self.pos += 1;
            let right = self.term()?;
            let op = if c == '+' { Op::Add } else { Op::Sub };
            left = Expr::Binary(Box::new(left), op, Box::new(right));
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.factor()?;
        while let Some(c @ ('*' | '/')) = self.peek() {
            self.pos += 1;
            let right = self.factor()?;
            let op = if c == '*' { Op::Mul } else { Op::Div };
            left = Expr::Binary(Box::new(left), op, Box::new(right));
        }
        Ok(left)
    }

    fn factor(&mut self) -> Result<Expr, ExprError> {
        match self.peek() {
            Some('(') => {
                self.pos += 1;
                let e = self.expr()?;
                if self.peek() != Some(')') {
                    return Err(self.error("expected `)`"));
                }
                self.pos += 1;
                Ok(e)
            }
            Some('-') => {
                self.pos += 1;
                Ok(Expr::Neg(Box::new(self.factor()?)))
            }
            Some(c) if c.is_ascii_digit() || c == '.' => {
                let start = self.pos;
                while self
                    .chars
                    .get(self.pos)
                    .is_some_and(|c| c.is_ascii_digit() || *c == '.' || *c == '_')
                {
                    self.pos += 1;
                }
                let s: String = self.chars[start..self.pos]
                    .iter()
                    .filter(|c| **c != '_')
                    .collect();
                s.parse::<f64>().map(Expr::Number).map_err(|_| ExprError {
                    text: self.text.clone(),
                    position: start + 1,
                    message: format!("`{s}` is not a number"),
                })
            }
            Some(c) if c.is_alphabetic() || c == '_' => {
                let start = self.pos;
                let name = self.ident();
                if self.peek() == Some('(') {
                    let Some(func) = Func::ALL.into_iter().find(|f| f.name() == name) else {
                        return Err(ExprError {
                            text: self.text.clone(),
                            position: start + 1,
                            message: format!(
                                "`{name}` is not a function (functions: min, max, abs, round, if)"
                            ),
                        });
                    };
                    self.pos += 1;
                    let mut args = Vec::new();
                    if self.peek() != Some(')') {
                        loop {
                            args.push(self.comparison()?);
                            match self.peek() {
                                Some(',') => self.pos += 1,
                                Some(')') => break,
                                _ => return Err(self.error("expected `,` or `)`")),
                            }
                        }
                    }
                    self.pos += 1;
                    if let Err(allowed) = func.arity(args.len()) {
                        return Err(ExprError {
                            text: self.text.clone(),
                            position: start + 1,
                            message: format!("`{name}` takes {allowed}"),
                        });
                    }
                    return Ok(Expr::Call(func, args));
                }
                let field = if self.chars.get(self.pos) == Some(&'.') {
                    self.pos += 1;
                    let field = self.ident();
                    if field.is_empty() {
                        return Err(self.error("expected a field name after `.`"));
                    }
                    Some(field)
                } else {
                    None
                };
                Ok(Expr::Param { name, field })
            }
            Some(_) => Err(self.error("expected a number, a parameter name or `(`")),
            None => Err(self.error("expected a value")),
        }
    }

    fn ident(&mut self) -> String {
        let start = self.pos;
        while self
            .chars
            .get(self.pos)
            .is_some_and(|c| c.is_alphanumeric() || *c == '_')
        {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    fn cmp(&mut self) -> Result<Cmp, ExprError> {
        self.skip_ws();
        let two: String = self.chars[self.pos..].iter().take(2).collect();
        let (cmp, len) = match two.as_str() {
            "==" => (Cmp::Eq, 2),
            "!=" => (Cmp::Ne, 2),
            "<=" => (Cmp::Le, 2),
            ">=" => (Cmp::Ge, 2),
            _ if two.starts_with('<') => (Cmp::Lt, 1),
            _ if two.starts_with('>') => (Cmp::Gt, 1),
            _ => return Err(self.error("expected a comparison: ==, !=, <, <=, >, >=")),
        };
        self.pos += len;
        Ok(cmp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Vars(Vec<(&'static str, Option<&'static str>, f64)>);

    impl Env for Vars {
        fn get(&self, name: &str, field: Option<&str>) -> Result<Option<f64>, EvalError> {
            Ok(self
                .0
                .iter()
                .find(|(n, f, _)| *n == name && *f == field)
                .map(|(_, _, v)| *v))
        }
    }

    #[test]
    fn arithmetic_and_fields() {
        let env = Vars(vec![("dateTime", Some("year"), 2026.0), ("x", None, 4.0)]);
        let e = Expr::parse("dateTime.year - 2000").unwrap();
        assert_eq!(e.eval(&env).unwrap(), 26.0);
        let e = Expr::parse("(x + 2) * 3 / 2").unwrap();
        assert_eq!(e.eval(&env).unwrap(), 9.0);
        assert_eq!(Expr::parse("-x").unwrap().eval(&env).unwrap(), -4.0);
    }

    #[test]
    fn conditions() {
        let env = Vars(vec![("mode", None, 3.0)]);
        assert!(Condition::parse("mode >= 3").unwrap().holds(&env).unwrap());
        assert!(!Condition::parse("mode == 1").unwrap().holds(&env).unwrap());
        assert!(Condition::parse("mode").unwrap().holds(&env).unwrap());
        assert!(!Condition::parse("target").unwrap().holds(&env).unwrap());
        assert!(
            !Condition::parse("target < 100")
                .unwrap()
                .holds(&env)
                .unwrap()
        );
    }

    #[test]
    fn functions_and_comparisons() {
        let env = Vars(vec![
            ("grid", None, -250.0),
            ("pv", None, 900.0),
            ("load", None, 400.0),
        ]);
        let eval = |t: &str| Expr::parse_comparison(t).unwrap().eval(&env).unwrap();
        assert_eq!(eval("max(-grid, 0)"), 250.0);
        assert_eq!(eval("min(pv, load)"), 400.0);
        assert_eq!(eval("min(pv, load, 3)"), 3.0);
        assert_eq!(eval("abs(grid)"), 250.0);
        assert_eq!(eval("round(pv / 7)"), 129.0);
        assert_eq!(eval("round(pv / 7, 2)"), 128.57);
        assert_eq!(eval("round(46 * 9.5232 / 100, 2)"), 4.38);
        assert_eq!(eval("round(grid, -2)"), -300.0);
        assert_eq!(eval("if(grid < 0, 1, 2)"), 1.0);
        assert_eq!(eval("if(pv - load >= 500, pv, 0) + 1"), 901.0);
        assert_eq!(eval("grid < 0"), 1.0);
        assert_eq!(eval("pv == load"), 0.0);
        let shown = Expr::parse_comparison("if(grid < 0, max(-grid, 0), 0)").unwrap();
        assert_eq!(shown.to_string(), "if((grid < 0), max(-grid, 0), 0)");
        assert_eq!(
            shown.params(),
            [("grid", None), ("grid", None)],
            "names in order"
        );
    }

    #[test]
    fn function_errors() {
        let err = Expr::parse_comparison("sqrt(pv)").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`sqrt` is not a function (functions: min, max, abs, round, if) at character 1 of `sqrt(pv)`"
        );
        let err = Expr::parse_comparison("1 + if(pv, 2)").unwrap_err();
        assert_eq!(err.position, 5);
        assert!(err.message.contains("three arguments"));
        assert!(Expr::parse_comparison("abs()").is_err());
        assert!(Expr::parse_comparison("round(1, 2, 3)").is_err());
        assert!(Expr::parse_comparison("max(1, 2").is_err());
        assert!(Expr::parse_comparison("a < b < c").is_err());
    }

    #[test]
    fn errors_point_at_the_problem() {
        let err = Expr::parse("start +").unwrap_err();
        assert_eq!(
            err.to_string(),
            "expected a value at character 8 of `start +`"
        );
        let err = Condition::parse("mode = 1").unwrap_err();
        assert_eq!(err.position, 6);
        assert!(Condition::parse("1 + 2").is_err());
        assert!(Expr::parse("a b").is_err());
    }
}
