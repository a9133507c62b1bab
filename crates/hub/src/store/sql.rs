//! The SQL the store speaks, whichever database is under it.
//!
//! Every store function takes a [`Db`]: an SQLite connection (the embedded
//! default) or a PostgreSQL one ([`super::postgres`]). Statements are written
//! once, in the SQL both understand, with SQLite's `?`/`?N` placeholders;
//! PostgreSQL gets them as `$N` ([`to_postgres`]). Arguments are [`Arg`]s
//! (built with [`params!`](crate::params)) and columns are read through
//! [`Row::get`], so a store function never names a driver. Where the two
//! databases truly differ (the text index), the function asks
//! [`Db::backend`].

use crate::error::{ApiError, ApiResult};

/// Which database a [`Db`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Its name, as `/health` reports it.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// One statement argument.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

/// A value that can be a statement argument.
pub trait ToArg {
    fn to_arg(&self) -> Arg;
}

impl ToArg for Arg {
    fn to_arg(&self) -> Arg {
        self.clone()
    }
}
impl ToArg for str {
    fn to_arg(&self) -> Arg {
        Arg::Text(self.to_owned())
    }
}
impl ToArg for String {
    fn to_arg(&self) -> Arg {
        Arg::Text(self.clone())
    }
}
impl ToArg for f64 {
    fn to_arg(&self) -> Arg {
        Arg::Real(*self)
    }
}
impl ToArg for bool {
    fn to_arg(&self) -> Arg {
        Arg::Int(i64::from(*self))
    }
}
macro_rules! int_args {
    ($($t:ty),*) => {$(
        impl ToArg for $t {
            fn to_arg(&self) -> Arg {
                // Every integer the store writes fits (counts, sizes, seconds).
                Arg::Int(i64::try_from(*self).unwrap_or(i64::MAX))
            }
        }
    )*};
}
int_args!(i32, i64, u32, u64, usize);
impl<T: ToArg> ToArg for Option<T> {
    fn to_arg(&self) -> Arg {
        self.as_ref().map_or(Arg::Null, ToArg::to_arg)
    }
}
impl<T: ToArg + ?Sized> ToArg for &T {
    fn to_arg(&self) -> Arg {
        (**self).to_arg()
    }
}

/// Statement arguments: `params![a, b]` is `[Arg; 2]` (each by reference).
#[macro_export]
macro_rules! params {
    ($($x:expr),* $(,)?) => {
        [$($crate::store::sql::ToArg::to_arg(&$x)),*]
    };
}

/// One column of a row, borrowed.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
}

/// A type a column can be read as.
pub trait FromCell: Sized {
    fn from_cell(c: Cell<'_>) -> Result<Self, String>;
}

impl FromCell for String {
    fn from_cell(c: Cell<'_>) -> Result<Self, String> {
        match c {
            Cell::Text(s) => Ok(s.to_owned()),
            other => Err(format!("expected text, found {other:?}")),
        }
    }
}
impl FromCell for f64 {
    fn from_cell(c: Cell<'_>) -> Result<Self, String> {
        match c {
            Cell::Real(f) => Ok(f),
            Cell::Int(i) => Ok(i as f64),
            other => Err(format!("expected a number, found {other:?}")),
        }
    }
}
impl FromCell for bool {
    fn from_cell(c: Cell<'_>) -> Result<Self, String> {
        i64::from_cell(c).map(|i| i != 0)
    }
}
macro_rules! int_cells {
    ($($t:ty),*) => {$(
        impl FromCell for $t {
            fn from_cell(c: Cell<'_>) -> Result<Self, String> {
                match c {
                    Cell::Int(i) => <$t>::try_from(i).map_err(|_| format!("{i} is out of range")),
                    other => Err(format!("expected an integer, found {other:?}")),
                }
            }
        }
    )*};
}
int_cells!(i32, i64, u32, u64);
impl<T: FromCell> FromCell for Option<T> {
    fn from_cell(c: Cell<'_>) -> Result<Self, String> {
        match c {
            Cell::Null => Ok(None),
            other => T::from_cell(other).map(Some),
        }
    }
}

/// A row of a result, from either database.
pub enum Row<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
    Postgres(&'a tokio_postgres::Row),
}

impl Row<'_> {
    /// Column `i` as a `T`; a column of another type is a corrupt row,
    /// reported as such.
    pub fn get<T: FromCell>(&self, i: usize) -> ApiResult<T> {
        let cell = match self {
            Row::Sqlite(r) => lite_cell(r, i),
            Row::Postgres(r) => super::postgres::cell(r, i),
        }
        .map_err(|e| ApiError::internal(format!("column {i}: {e}")))?;
        T::from_cell(cell).map_err(|e| ApiError::internal(format!("column {i}: {e}")))
    }
}

fn lite_cell<'a>(r: &'a rusqlite::Row<'a>, i: usize) -> Result<Cell<'a>, String> {
    use rusqlite::types::ValueRef;
    Ok(match r.get_ref(i).map_err(|e| e.to_string())? {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(n) => Cell::Int(n),
        ValueRef::Real(f) => Cell::Real(f),
        ValueRef::Text(t) => Cell::Text(std::str::from_utf8(t).map_err(|e| e.to_string())?),
        ValueRef::Blob(_) => return Err("unexpected blob".into()),
    })
}

/// A connection (or transaction) of either database.
pub trait Db {
    fn backend(&self) -> Backend;
    /// Run one statement; how many rows it changed.
    fn execute(&self, sql: &str, args: &[Arg]) -> ApiResult<usize>;
    /// Run a query, handing each row to `f` until it returns `false`.
    fn each(&self, sql: &str, args: &[Arg], f: &mut dyn FnMut(&Row<'_>) -> ApiResult<bool>) -> ApiResult<()>;
    /// Run statements without arguments (savepoints, transaction control).
    fn batch(&self, sql: &str) -> ApiResult<()>;
    /// Whether a transaction is open.
    fn in_transaction(&self) -> bool;
}

impl<'d> dyn Db + 'd {
    /// The first row, which must exist.
    pub fn query_row<T>(&self, sql: &str, args: &[Arg], f: impl FnOnce(&Row<'_>) -> ApiResult<T>) -> ApiResult<T> {
        self.query_opt(sql, args, f)?.ok_or_else(|| ApiError::internal("a query that must return a row returned none"))
    }

    /// The first row, if any.
    pub fn query_opt<T>(&self, sql: &str, args: &[Arg], f: impl FnOnce(&Row<'_>) -> ApiResult<T>) -> ApiResult<Option<T>> {
        let (mut f, mut out) = (Some(f), None);
        self.each(sql, args, &mut |r| {
            out = f.take().map(|f| f(r)).transpose()?;
            Ok(false)
        })?;
        Ok(out)
    }

    /// Every row.
    pub fn query_all<T>(&self, sql: &str, args: &[Arg], mut f: impl FnMut(&Row<'_>) -> ApiResult<T>) -> ApiResult<Vec<T>> {
        let mut out = Vec::new();
        self.each(sql, args, &mut |r| {
            out.push(f(r)?);
            Ok(true)
        })?;
        Ok(out)
    }
}

impl rusqlite::ToSql for Arg {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Arg::Null => ValueRef::Null,
            Arg::Int(i) => ValueRef::Integer(*i),
            Arg::Real(f) => ValueRef::Real(*f),
            Arg::Text(s) => ValueRef::Text(s.as_bytes()),
        }))
    }
}

impl Db for rusqlite::Connection {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn execute(&self, sql: &str, args: &[Arg]) -> ApiResult<usize> {
        Ok(self.prepare_cached(sql)?.execute(rusqlite::params_from_iter(args.iter()))?)
    }

    fn each(&self, sql: &str, args: &[Arg], f: &mut dyn FnMut(&Row<'_>) -> ApiResult<bool>) -> ApiResult<()> {
        let mut stmt = self.prepare_cached(sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args.iter()))?;
        while let Some(r) = rows.next()? {
            if !f(&Row::Sqlite(r))? {
                break;
            }
        }
        Ok(())
    }

    fn batch(&self, sql: &str) -> ApiResult<()> {
        Ok(self.execute_batch(sql)?)
    }

    fn in_transaction(&self) -> bool {
        !self.is_autocommit()
    }
}

/// An SQLite transaction is its connection (bulk loads, tests).
impl Db for rusqlite::Transaction<'_> {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn execute(&self, sql: &str, args: &[Arg]) -> ApiResult<usize> {
        Db::execute(&**self, sql, args)
    }

    fn each(&self, sql: &str, args: &[Arg], f: &mut dyn FnMut(&Row<'_>) -> ApiResult<bool>) -> ApiResult<()> {
        (**self).each(sql, args, f)
    }

    fn batch(&self, sql: &str) -> ApiResult<()> {
        (**self).batch(sql)
    }

    fn in_transaction(&self) -> bool {
        (**self).in_transaction()
    }
}

/// SQLite's placeholders (`?N`, `?`) as PostgreSQL's (`$N`), outside string
/// literals; and SQLite's `INDEXED BY name` (a planner hint PostgreSQL has
/// no use for) left out.
pub fn to_postgres(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let (mut chars, mut quoted, mut bare) = (sql.chars().peekable(), false, 0);
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                out.push('$');
                if chars.peek().is_some_and(char::is_ascii_digit) {
                    while let Some(d) = chars.next_if(char::is_ascii_digit) {
                        out.push(d);
                    }
                } else {
                    bare += 1;
                    out.push_str(&bare.to_string());
                }
            }
            _ => out.push(c),
        }
    }
    match out.find(" INDEXED BY ") {
        Some(at) => {
            let rest = &out[at + " INDEXED BY ".len()..];
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            format!("{}{}", &out[..at], &rest[end..])
        }
        None => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_numbered_outside_literals() {
        assert_eq!(to_postgres("SELECT a FROM t WHERE b = ?1 AND c = '?' AND d = ?12"), "SELECT a FROM t WHERE b = $1 AND c = '?' AND d = $12");
        assert_eq!(to_postgres("SELECT a FROM t WHERE (b, c) > (?, ?) LIMIT ?"), "SELECT a FROM t WHERE (b, c) > ($1, $2) LIMIT $3");
        assert_eq!(to_postgres("SELECT id FROM holds INDEXED BY holds_escalation\n WHERE x = ?1"), "SELECT id FROM holds\n WHERE x = $1");
    }

    #[test]
    fn columns_read_as_the_type_asked_for_or_fail() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        let db: &dyn Db = &c;
        let (n, s, none): (i64, String, Option<String>) =
            db.query_row("SELECT ?1, ?2, NULL", &crate::params![7, "x"], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap();
        assert_eq!((n, s.as_str(), none), (7, "x", None));
        assert!(db.query_row("SELECT 'x'", &[], |r| r.get::<i64>(0)).is_err());
        assert_eq!(db.query_opt("SELECT 1 WHERE 0", &[], |r| r.get::<i64>(0)).unwrap(), None);
        assert_eq!(db.query_all("SELECT 1 UNION ALL SELECT 2", &[], |r| r.get::<u32>(0)).unwrap(), vec![1, 2]);
    }
}
