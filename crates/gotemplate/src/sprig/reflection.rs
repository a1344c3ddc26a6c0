//! Reflection: `typeOf`, `typeIs`, `typeIsLike`, `kindOf`, `kindIs`,
//! `deepEqual`, answering with Go's type and kind names.

use crate::args::string;
use crate::funcs::{Arity, FuncMap};
use crate::value::{Value, deep_equal};

pub(crate) fn register(map: &mut FuncMap) {
    map.add("typeOf", Arity::Exact(1), |a| {
        Ok(Value::string(a[0].type_name()))
    });
    map.add("typeIs", Arity::Exact(2), |a| {
        Ok(Value::Bool(string(&a[0])? == a[1].type_name()))
    });
    map.add("typeIsLike", Arity::Exact(2), |a| {
        let target = string(&a[0])?;
        let actual = a[1].type_name();
        Ok(Value::Bool(
            actual == target || actual == format!("*{target}"),
        ))
    });
    map.add("kindOf", Arity::Exact(1), |a| {
        Ok(Value::string(a[0].kind_name()))
    });
    map.add("kindIs", Arity::Exact(2), |a| {
        Ok(Value::Bool(string(&a[0])? == a[1].kind_name()))
    });
    map.add("deepEqual", Arity::Exact(2), |a| {
        Ok(Value::Bool(deep_equal(&a[0], &a[1])))
    });
}
