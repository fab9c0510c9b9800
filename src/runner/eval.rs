//! Evaluating a step's arguments against the case's variables.

use std::collections::HashMap;

use prost::Message as _;

use super::blame::Blame;
use super::error::{EvalError, Held};
use super::reference;
use crate::client::{Arg, Args, Value};
use crate::pkcs11::{AttrKind, CkMechanismType, attribute_kind};
use crate::proto::{self, AttributeValue, attribute_value::OneAttr, mechanism::Parameter};
use crate::suite::{ArgValue, Expr, Func, MechSpec, Param, RsaParamSpec, Step, Sym, TemplateValue};

/// The variables of one running case. `None` is a matrix parameter set to null: the
/// argument that uses it is left out.
#[derive(Default)]
pub struct Env {
    vars: HashMap<String, Option<Value>>,
}

fn wrong_kind<T>(var: &str, value: Option<&Value>, wanted: &'static str) -> Result<T, EvalError> {
    Err(EvalError::WrongKind { var: var.to_owned(), held: Held::of(value), wanted })
}

impl Env {
    pub fn with_params(params: &[(String, Param)]) -> Result<Env, EvalError> {
        let mut env = Env::default();
        for (name, param) in params {
            env.bind(name, param)?;
        }
        Ok(env)
    }

    /// Sets a variable to a parameter's value (a matrix parameter, a fixture's `with:`); a
    /// bare `$var` passes its value on as it is, null and numbers included.
    pub fn bind(&mut self, name: &str, param: &Param) -> Result<(), EvalError> {
        let value = match param {
            Param::Null => None,
            Param::Bool(b) => Some(Value::Uint(u64::from(*b))),
            Param::Int(i) | Param::Name(_, i) => Some(Value::Uint(*i)),
            Param::Expr(Expr::Var(v)) => self.var(v)?.cloned(),
            Param::Expr(e) => Some(Value::Bytes(self.bytes(e)?)),
        };
        self.vars.insert(name.to_owned(), value);
        Ok(())
    }

    pub fn set(&mut self, name: &str, value: Value) {
        self.vars.insert(name.to_owned(), Some(value));
    }

    fn var(&self, name: &str) -> Result<Option<&Value>, EvalError> {
        match self.vars.get(name) {
            Some(v) => Ok(v.as_ref()),
            None => Err(EvalError::Unset(name.to_owned())),
        }
    }

    /// A variable used as bytes; `None` when it is a null matrix parameter.
    fn var_bytes(&self, name: &str) -> Result<Option<Vec<u8>>, EvalError> {
        match self.var(name)? {
            None => Ok(None),
            Some(Value::Bytes(b)) => Ok(Some(b.clone())),
            other @ Some(_) => wrong_kind(name, other, "bytes"),
        }
    }

    pub fn uint(&self, sym: &Sym<u64>) -> Result<u64, EvalError> {
        match sym {
            Sym::Value(v) => Ok(*v),
            Sym::Var(name) => match self.var(name)? {
                Some(Value::Uint(u)) => Ok(*u),
                other => wrong_kind(name, other, "a number"),
            },
        }
    }

    /// Evaluates an expression to bytes; a null variable gives an empty string here.
    pub fn bytes(&self, expr: &Expr) -> Result<Vec<u8>, EvalError> {
        Ok(self.opt_bytes(expr)?.unwrap_or_default())
    }

    /// An expression as a field value to compare with: a bare variable holding a number
    /// (a matrix `CKK_*` name, a saved `CKA_VALUE_LEN`) stays a number; the rest are bytes.
    pub fn value(&self, expr: &Expr) -> Result<Value, EvalError> {
        match expr {
            Expr::Var(name) => match self.var(name)? {
                Some(Value::Uint(u)) => Ok(Value::Uint(*u)),
                _ => self.bytes(expr).map(Value::Bytes),
            },
            _ => self.bytes(expr).map(Value::Bytes),
        }
    }

    /// Evaluates an expression; a bare null variable gives `None`.
    pub fn opt_bytes(&self, expr: &Expr) -> Result<Option<Vec<u8>>, EvalError> {
        match expr {
            Expr::Bytes(b) => Ok(Some(b.clone())),
            Expr::Var(name) => self.var_bytes(name),
            Expr::Int(i) => Err(EvalError::NumberAsBytes(*i)),
            Expr::Call(func, args) => self.call(*func, args).map(Some),
        }
    }

    fn int(&self, expr: &Expr) -> Result<i64, EvalError> {
        match expr {
            Expr::Int(i) => Ok(*i),
            Expr::Var(name) => match self.var(name)? {
                Some(Value::Uint(u)) => i64::try_from(*u).map_err(|_| EvalError::TooLarge(name.to_owned())),
                other => wrong_kind(name, other, "a number"),
            },
            other => Err(EvalError::NotANumber(other.to_string())),
        }
    }

    fn count(&self, expr: &Expr) -> Result<usize, EvalError> {
        let n = self.int(expr)?;
        usize::try_from(n).map_err(|_| EvalError::NotALength(n))
    }

    fn call(&self, func: Func, args: &[Expr]) -> Result<Vec<u8>, EvalError> {
        // The functions that parse a key or point check the endpoint's answer; a digest
        // computes over whatever the suite hands it.
        let endpoint = |source: reference::RefError| EvalError::Reference {
            func: Some(func),
            inputs: Blame::Endpoint,
            source,
        };
        let digest = |mech: CkMechanismType| -> Result<Vec<u8>, EvalError> {
            reference::digest(mech, &self.bytes(&args[0])?).map_err(|source| EvalError::Reference {
                func: Some(func),
                inputs: Blame::Suite,
                source,
            })
        };
        use crate::pkcs11 as p;
        match func {
            Func::Random => {
                let mut out = vec![0u8; self.count(&args[0])?];
                rand::fill(&mut out[..]);
                Ok(out)
            }
            Func::Zeros => Ok(vec![0u8; self.count(&args[0])?]),
            Func::Repeat => Ok(self.bytes(&args[0])?.repeat(self.count(&args[1])?)),
            Func::Concat => args.iter().try_fold(Vec::new(), |mut acc, a| {
                acc.extend(self.bytes(a)?);
                Ok(acc)
            }),
            Func::Slice => {
                let data = self.bytes(&args[0])?;
                let index = |e: &Expr| -> Result<usize, EvalError> {
                    let i = self.int(e)?;
                    let len = data.len() as i64;
                    let at = if i < 0 { len + i } else { i };
                    if (0..=len).contains(&at) {
                        Ok(at as usize)
                    } else {
                        Err(EvalError::IndexOutside { func: "slice", index: i, len: data.len() })
                    }
                };
                let start = index(&args[1])?;
                let end = match args.get(2) {
                    Some(e) => index(e)?,
                    None => data.len(),
                };
                if start > end {
                    return Err(EvalError::SliceBackwards { start, end, len: data.len() });
                }
                Ok(data[start..end].to_vec())
            }
            Func::Flip => {
                let mut data = self.bytes(&args[0])?;
                let i = self.int(&args[1])?;
                let len = data.len() as i64;
                let at = if i < 0 { len + i } else { i };
                if !(0..len).contains(&at) {
                    return Err(EvalError::IndexOutside { func: "flip", index: i, len: data.len() });
                }
                data[at as usize] ^= 0x01;
                Ok(data)
            }
            Func::Sha1 => digest(p::CKM_SHA_1),
            Func::Sha224 => digest(p::CKM_SHA224),
            Func::Sha256 => digest(p::CKM_SHA256),
            Func::Sha384 => digest(p::CKM_SHA384),
            Func::Sha512 => digest(p::CKM_SHA512),
            Func::Kcv => {
                let key_type = match args.get(1) {
                    Some(t) => p::CkKeyType(self.int(t)? as u64),
                    None => p::CKK_AES,
                };
                reference::kcv(key_type, &self.bytes(&args[0])?).map_err(endpoint)
            }
            Func::Spki => reference::spki(&self.bytes(&args[0])?).map_err(endpoint),
            Func::EcPoint => reference::ec_point(&self.bytes(&args[0])?).map_err(endpoint),
            Func::EcCompressed => reference::ec_compressed(&self.bytes(&args[0])?).map_err(endpoint),
        }
    }

    pub fn mechanism_type(&self, sym: &Sym<CkMechanismType>) -> Result<CkMechanismType, EvalError> {
        match sym {
            Sym::Value(m) => Ok(*m),
            Sym::Var(name) => match self.var(name)? {
                Some(Value::Uint(u)) => Ok(CkMechanismType(*u)),
                other => wrong_kind(name, other, "a mechanism"),
            },
        }
    }

    pub fn mechanism(&self, spec: &MechSpec) -> Result<proto::Mechanism, EvalError> {
        let mechanism = self.mechanism_type(&spec.mech)?.0;
        let parameter = if let Some(ecdh) = &spec.ecdh {
            Some(Parameter::Ecdh1DeriveParameter(proto::Ecdh1DeriveParm {
                kdf: ecdh.kdf.0 as i32,
                shared_data: match &ecdh.shared {
                    Some(e) => self.bytes(e)?,
                    None => Vec::new(),
                },
                public_data: self.bytes(&ecdh.public)?,
            }))
        } else if let Some(btc) = &spec.btc {
            Some(Parameter::BtcDeriveParameter(proto::BtcDeriveParm {
                r#type: btc.kind as i32,
                child_key_index: self.uint(&btc.index)?,
                chain_code: match &btc.chain {
                    Some(e) => self.bytes(e)?,
                    None => Vec::new(),
                },
                version: btc.version,
            }))
        } else if let Some(rsa) = &spec.rsa {
            Some(match rsa {
                RsaParamSpec::Oaep { hash, mgf, label } => {
                    let label = match label {
                        Some(e) => self.bytes(e)?,
                        None => Vec::new(),
                    };
                    Parameter::RsaoaepParameter(proto::RsaoaepParm {
                        hash_mech: hash.0,
                        mgf: *mgf as i32,
                        // CKZ_DATA_SPECIFIED whenever a label is given (PKCS #11 §2.1.8).
                        encoding_parm_type: i32::from(!label.is_empty()),
                        encoding_parm: label,
                    })
                }
                RsaParamSpec::Pss { hash, mgf, salt } => Parameter::RsapssParameter(proto::RsapssParm {
                    hash_mech: hash.0,
                    mgf: *mgf as i32,
                    salt_byte_count: *salt,
                }),
            })
        } else {
            match &spec.param {
                Some(e) => self.opt_bytes(e)?.map(Parameter::ParameterB),
                None => None,
            }
        };
        Ok(proto::Mechanism { mechanism, parameter })
    }

    fn template(&self, template: &crate::suite::Template) -> Result<HashMap<u64, AttributeValue>, EvalError> {
        let mut out = HashMap::new();
        for (attr, value) in &template.0 {
            let one = match value {
                TemplateValue::Bool(b) => Some(OneAttr::AttributeTf(*b)),
                TemplateValue::Uint(u) => Some(OneAttr::AttributeI(*u as i64)),
                TemplateValue::Bytes(e) => Some(OneAttr::AttributeB(self.bytes(e)?)),
                TemplateValue::Var(name) => match (self.var(name)?, attribute_kind(*attr)) {
                    (None, _) => None,
                    (Some(Value::Uint(u)), Some(AttrKind::Bool)) => Some(OneAttr::AttributeTf(*u != 0)),
                    (Some(Value::Uint(u)), _) => Some(OneAttr::AttributeI(*u as i64)),
                    (Some(Value::Bytes(b)), _) => Some(OneAttr::AttributeB(b.clone())),
                    (Some(other), _) => {
                        let held = Held::of(Some(other));
                        return Err(EvalError::AttributeValue { var: name.clone(), held, attr: *attr });
                    }
                },
            };
            if let Some(one) = one {
                out.insert(attr.0, AttributeValue { one_attr: Some(one) });
            }
        }
        Ok(out)
    }

    /// Every argument of a step, evaluated; arguments bound to null are left out.
    pub fn args(&self, step: &Step) -> Result<Args, EvalError> {
        let mut out = Args::default();
        for (&name, value) in &step.args {
            let arg = match value {
                ArgValue::Mechanism(spec) => Some(Arg::Mechanism(self.mechanism(spec)?)),
                ArgValue::Bytes(e) => self.opt_bytes(e)?.map(Arg::Bytes),
                ArgValue::Uint(sym) => Some(Arg::Uint(self.uint(sym)?)),
                ArgValue::Template(t) => Some(Arg::Template(self.template(t)?)),
                ArgValue::AttributeList(list) => Some(Arg::Attributes(list.clone())),
            };
            if let Some(arg) = arg {
                out.0.insert(name, arg);
            }
        }
        Ok(out)
    }
}

/// A short, secret-free rendering of an argument for traces and reports.
pub fn describe(arg: &Arg) -> String {
    match arg {
        Arg::Mechanism(m) => {
            let name = CkMechanismType(m.mechanism).to_string();
            match &m.parameter {
                None => name,
                Some(p) => format!("{name}+param({} bytes)", param_len(p)),
            }
        }
        Arg::Bytes(b) => format!("{} bytes", b.len()),
        Arg::Uint(u) => u.to_string(),
        Arg::Template(t) => {
            let mut names: Vec<String> =
                t.keys().map(|k| crate::pkcs11::CkAttributeType(*k).to_string()).collect();
            names.sort();
            format!("{{{}}}", names.join(","))
        }
        Arg::Attributes(a) => format!("[{}]", a.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(",")),
    }
}

fn param_len(p: &Parameter) -> usize {
    match p {
        Parameter::ParameterB(b) => b.len(),
        Parameter::RsaoaepParameter(p) => p.encoded_len(),
        Parameter::RsapssParameter(p) => p.encoded_len(),
        Parameter::Ecdh1DeriveParameter(p) => p.encoded_len(),
        Parameter::BtcDeriveParameter(p) => p.encoded_len(),
    }
}
