//! Byte-string expressions, the data literals of the suite language:
//!
//! ```text
//! hex:00ff          utf8:hello world      b64:AAEC        curve:P-256 (CKA_EC_PARAMS)
//! $name             a variable saved by an earlier step or set by the case's matrix
//! random(32)  zeros(16)  repeat(hex:ab, 1024)  concat(a, b, ..)  slice(x, 0, 16)  flip(x, -1)
//! sha1(x) sha224(x) sha256(x) sha384(x) sha512(x)   digests computed by the harness
//! kcv(x)            AES key check value: first 3 bytes of AES-ECB(x, 16 zero bytes);
//! kcv(x, $type)     the same for the key type in $type (CKK_AES, or CKK_DES3: DES3-ECB of 8)
//! spki(x)           the leading DER SubjectPublicKeyInfo of a public key blob
//! ec_point(x)       the uncompressed EC point inside an SPKI (or a public key blob)
//! ```
//!
//! Inside a function call a text literal is quoted: `sha256(utf8:'abc')`; at the top level
//! `utf8:` takes the rest of the string.

use std::fmt;

use base64::Engine as _;

use crate::pkcs11::Curve;

/// A function of the expression language.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Func {
    /// `random(n)`: `n` bytes from the harness's random generator.
    Random,
    /// `zeros(n)`: `n` zero bytes.
    Zeros,
    /// `repeat(x, n)`: `x` written `n` times in a row.
    Repeat,
    /// `concat(a, b, ..)`: the arguments' bytes one after another.
    Concat,
    /// `slice(x, start[, end])`: bytes `start..end` of `x` (end: the whole rest); a negative
    /// index counts from the end.
    Slice,
    /// `flip(x, i)`: `x` with the lowest bit of byte `i` inverted (negative `i` counts from
    /// the end), to make a signature, MAC or ciphertext wrong by one bit.
    Flip,
    /// `sha1(x)`, computed by the harness.
    Sha1,
    /// `sha224(x)`, computed by the harness.
    Sha224,
    /// `sha256(x)`, computed by the harness.
    Sha256,
    /// `sha384(x)`, computed by the harness.
    Sha384,
    /// `sha512(x)`, computed by the harness.
    Sha512,
    /// `kcv(x[, $type])`: the key check value, the first 3 bytes of the key's ECB
    /// encryption of a zero block (AES unless the type says `CKK_DES3`).
    Kcv,
    /// `spki(x)`: the leading DER SubjectPublicKeyInfo of a public key blob.
    Spki,
    /// `ec_point(x)`: the uncompressed EC point inside an SPKI or public key blob.
    EcPoint,
    /// `ec_compressed(x)`: the compressed SEC1 point of an EC public key (Ed25519: its
    /// 32-byte encoding), the form BIP-32 and SLIP-0010 vectors publish.
    EcCompressed,
}

/// (name, function, minimum and maximum argument count)
const FUNCS: &[(&str, Func, usize, usize)] = &[
    ("random", Func::Random, 1, 1),
    ("zeros", Func::Zeros, 1, 1),
    ("repeat", Func::Repeat, 2, 2),
    ("concat", Func::Concat, 1, usize::MAX),
    ("slice", Func::Slice, 2, 3),
    ("flip", Func::Flip, 2, 2),
    ("sha1", Func::Sha1, 1, 1),
    ("sha224", Func::Sha224, 1, 1),
    ("sha256", Func::Sha256, 1, 1),
    ("sha384", Func::Sha384, 1, 1),
    ("sha512", Func::Sha512, 1, 1),
    ("kcv", Func::Kcv, 1, 2),
    ("spki", Func::Spki, 1, 1),
    ("ec_point", Func::EcPoint, 1, 1),
    ("ec_compressed", Func::EcCompressed, 1, 1),
];

impl Func {
    /// The name suites call the function by (`ec_point`).
    pub fn name(self) -> &'static str {
        FUNCS.iter().find(|f| f.1 == self).map(|f| f.0).unwrap_or("?")
    }
}

/// A parsed expression. Evaluation needs the case's variables, so it lives in the runner.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Expr {
    /// A literal (`hex:`, `utf8:`, `b64:` or `curve:`), decoded when parsed.
    Bytes(Vec<u8>),
    /// An integer argument of a function (`random(32)`, `flip(x, -1)`).
    Int(i64),
    /// `$name`, without the `$`: a variable saved by an earlier step, a matrix parameter or
    /// a fixture parameter.
    Var(String),
    /// A function applied to its arguments, their count already checked.
    Call(Func, Vec<Expr>),
}

impl Expr {
    /// Every variable the expression reads.
    pub fn vars(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_vars(&mut out);
        out
    }

    /// Renames every variable the expression reads.
    pub fn rename_vars(&mut self, f: &impl Fn(&str) -> String) {
        match self {
            Expr::Var(name) => *name = f(name),
            Expr::Call(_, args) => args.iter_mut().for_each(|a| a.rename_vars(f)),
            Expr::Bytes(_) | Expr::Int(_) => {}
        }
    }

    fn collect_vars<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Expr::Var(name) => out.push(name),
            Expr::Call(_, args) => args.iter().for_each(|a| a.collect_vars(out)),
            Expr::Bytes(_) | Expr::Int(_) => {}
        }
    }

    /// Parses the text of a YAML string; the error names the offset of the problem.
    pub fn parse(text: &str) -> Result<Expr, String> {
        let mut p = Parser { text, pos: 0 };
        p.skip_ws();
        let expr = p.expr(true)?;
        p.skip_ws();
        if p.pos != text.len() {
            return Err(p.error("unexpected text after the expression"));
        }
        Ok(expr)
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Bytes(b) if b.is_empty() => f.write_str("hex:"),
            Expr::Bytes(b) if b.len() <= 16 => write!(f, "hex:{}", hex::encode(b)),
            Expr::Bytes(b) => write!(f, "hex:{}..({} bytes)", hex::encode(&b[..8]), b.len()),
            Expr::Int(i) => write!(f, "{i}"),
            Expr::Var(v) => write!(f, "${v}"),
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
        }
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn error(&self, what: &str) -> String {
        format!("in expression `{}`: {what} at offset {}", self.text, self.pos)
    }

    fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.text.len() - trimmed.len();
    }

    fn take_while(&mut self, f: impl Fn(char) -> bool) -> &str {
        let start = self.pos;
        let len = self.rest().find(|c| !f(c)).unwrap_or(self.rest().len());
        self.pos += len;
        &self.text[start..start + len]
    }

    fn eat(&mut self, c: char) -> bool {
        if self.rest().starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expr(&mut self, top: bool) -> Result<Expr, String> {
        if self.eat('$') {
            let name = self.take_while(|c| c.is_ascii_alphanumeric() || c == '_');
            if name.is_empty() {
                return Err(self.error("expected a variable name after `$`"));
            }
            return Ok(Expr::Var(name.to_owned()));
        }
        if self.rest().starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
            let start = self.pos;
            self.eat('-');
            let digits = self.take_while(|c| c.is_ascii_digit()).to_owned();
            return self.text[start..self.pos]
                .parse()
                .map(Expr::Int)
                .map_err(|_| self.error(&format!("bad integer {digits:?}")));
        }
        let word = self.take_while(|c| c.is_ascii_alphanumeric() || c == '_').to_owned();
        if self.eat(':') {
            return self.literal(&word, top);
        }
        if self.eat('(') {
            return self.call(&word);
        }
        if word.is_empty() {
            Err(self.error("expected an expression (hex:.., utf8:.., $var, or a function call)"))
        } else {
            Err(self.error(&format!(
                "`{word}` is neither a literal prefix (hex:, utf8:, b64:, curve:) nor a function call"
            )))
        }
    }

    fn literal(&mut self, prefix: &str, top: bool) -> Result<Expr, String> {
        match prefix {
            "hex" => {
                let digits: String = self.take_while(|c| c.is_ascii_hexdigit() || c == '_').replace('_', "");
                hex::decode(&digits).map(Expr::Bytes).map_err(|e| self.error(&format!("bad hex: {e}")))
            }
            "b64" => {
                let text = self.take_while(|c| c.is_ascii_alphanumeric() || "+/=".contains(c)).to_owned();
                base64::engine::general_purpose::STANDARD
                    .decode(&text)
                    .map(Expr::Bytes)
                    .map_err(|e| self.error(&format!("bad base64: {e}")))
            }
            "utf8" => {
                if self.eat('\'') {
                    let text = self.take_while(|c| c != '\'').to_owned();
                    if !self.eat('\'') {
                        return Err(self.error("unterminated quoted text"));
                    }
                    Ok(Expr::Bytes(text.into_bytes()))
                } else if top {
                    let text = self.rest().to_owned();
                    self.pos = self.text.len();
                    Ok(Expr::Bytes(text.into_bytes()))
                } else {
                    Err(self.error("inside a function call, quote the text: utf8:'...'"))
                }
            }
            "curve" => {
                let name = self.take_while(|c| c.is_ascii_alphanumeric() || c == '-').to_owned();
                Curve::by_name(&name)
                    .map(|c| Expr::Bytes(c.ec_params()))
                    .ok_or_else(|| self.error(&format!("unknown curve {name:?}")))
            }
            other => Err(self
                .error(&format!("unknown literal prefix `{other}:` (expected hex:, utf8:, b64: or curve:)"))),
        }
    }

    fn call(&mut self, name: &str) -> Result<Expr, String> {
        let &(_, func, min, max) = FUNCS
            .iter()
            .find(|f| f.0 == name)
            .ok_or_else(|| self.error(&format!("unknown function `{name}`")))?;
        let mut args = Vec::new();
        self.skip_ws();
        if !self.eat(')') {
            loop {
                self.skip_ws();
                args.push(self.expr(false)?);
                self.skip_ws();
                if self.eat(')') {
                    break;
                }
                if !self.eat(',') {
                    return Err(self.error("expected `,` or `)`"));
                }
            }
        }
        if args.len() < min || args.len() > max {
            let want = if min == max {
                min.to_string()
            } else if max == usize::MAX {
                format!("at least {min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(self.error(&format!("{name}() takes {want} arguments, got {}", args.len())));
        }
        Ok(Expr::Call(func, args))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals() {
        assert_eq!(Expr::parse("hex:00ff").unwrap(), Expr::Bytes(vec![0, 0xff]));
        assert_eq!(Expr::parse("hex:").unwrap(), Expr::Bytes(vec![]));
        assert_eq!(Expr::parse("utf8:hello, world (1)").unwrap(), Expr::Bytes(b"hello, world (1)".to_vec()));
        assert_eq!(Expr::parse("b64:AAEC").unwrap(), Expr::Bytes(vec![0, 1, 2]));
        assert_eq!(Expr::parse("curve:P-256").unwrap(), Expr::Bytes(Curve::P256.ec_params()));
    }

    #[test]
    fn calls_and_variables() {
        let e = Expr::parse("flip(sha256(concat($a, utf8:'x, y')), -1)").unwrap();
        assert_eq!(e.vars(), ["a"]);
        assert_eq!(
            e,
            Expr::Call(
                Func::Flip,
                vec![
                    Expr::Call(
                        Func::Sha256,
                        vec![Expr::Call(
                            Func::Concat,
                            vec![Expr::Var("a".into()), Expr::Bytes(b"x, y".to_vec())]
                        )]
                    ),
                    Expr::Int(-1)
                ]
            )
        );
    }

    #[test]
    fn errors_say_what_and_where() {
        let err = Expr::parse("hex:0").unwrap_err();
        assert!(err.contains("bad hex"), "{err}");
        let err = Expr::parse("sha257(hex:00)").unwrap_err();
        assert!(err.contains("unknown function `sha257`"), "{err}");
        let err = Expr::parse("flip($x 0)").unwrap_err();
        assert!(err.contains("expected `,` or `)`"), "{err}");
        let err = Expr::parse("random(1, 2)").unwrap_err();
        assert!(err.contains("takes 1 arguments, got 2"), "{err}");
        let err = Expr::parse("curve:P-999").unwrap_err();
        assert!(err.contains("unknown curve"), "{err}");
        let err = Expr::parse("sha256(utf8:abc)").unwrap_err();
        assert!(err.contains("quote the text"), "{err}");
    }
}
