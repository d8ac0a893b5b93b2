//! The store's tables as column tables: one list of columns per row type drives the Arrow
//! schema, the batch builder and the reader, so the three can never disagree.

use arrow::array::{
    Array, ArrayRef, BooleanArray, BooleanBuilder, ListArray, ListBuilder, RecordBatch,
    StringArray, StringBuilder, TimestampMillisecondArray, TimestampMillisecondBuilder,
    UInt64Array, UInt64Builder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use backtrail_model::{Event, Issuance, Millis, SessionSummary};
use std::sync::Arc;

type Get<T, V> = fn(&T) -> V;
type Set<T, V> = fn(&mut T, V);

/// One column: its name, and how to read and write it on a row.
pub enum Col<T> {
    Str(
        &'static str,
        for<'a> fn(&'a T) -> Option<&'a str>,
        Set<T, Option<String>>,
    ),
    Bool(&'static str, Get<T, Option<bool>>, Set<T, Option<bool>>),
    Time(&'static str, Get<T, Option<Millis>>, Set<T, Option<Millis>>),
    U64(&'static str, Get<T, u64>, Set<T, u64>),
    StrList(
        &'static str,
        for<'a> fn(&'a T) -> &'a [String],
        Set<T, Vec<String>>,
    ),
}

impl<T> Col<T> {
    fn name(&self) -> &'static str {
        match self {
            Col::Str(n, ..)
            | Col::Bool(n, ..)
            | Col::Time(n, ..)
            | Col::U64(n, ..)
            | Col::StrList(n, ..) => n,
        }
    }

    fn field(&self, required: bool) -> Field {
        let dt = match self {
            Col::Str(..) => DataType::Utf8,
            Col::Bool(..) => DataType::Boolean,
            Col::Time(..) => DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            Col::U64(..) => DataType::UInt64,
            Col::StrList(..) => DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
        };
        Field::new(self.name(), dt, !required)
    }
}

/// A row type stored as a table.
pub trait Table: Default + Sized + 'static {
    /// The columns, in schema order.
    fn columns() -> &'static [Col<Self>];
    /// Columns that are never null.
    const REQUIRED: &'static [&'static str];
}

/// Arrow schema of a table.
pub fn schema<T: Table>() -> SchemaRef {
    Arc::new(Schema::new(
        T::columns()
            .iter()
            .map(|c| c.field(T::REQUIRED.contains(&c.name())))
            .collect::<Vec<_>>(),
    ))
}

enum B {
    Str(StringBuilder),
    Bool(BooleanBuilder),
    Time(TimestampMillisecondBuilder),
    U64(UInt64Builder),
    List(ListBuilder<StringBuilder>),
}

/// Appends rows into Arrow builders.
pub struct Builder<T: Table> {
    builders: Vec<B>,
    rows: usize,
    bytes: usize,
    _t: std::marker::PhantomData<T>,
}

impl<T: Table> Default for Builder<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Table> Builder<T> {
    /// An empty builder.
    pub fn new() -> Self {
        Self::for_rows(&[])
    }

    /// An empty builder with room for exactly `rows` (their strings included): nothing
    /// is reallocated and copied while they are pushed, and the finished arrays hold no
    /// spare capacity.
    pub fn for_rows(rows: &[T]) -> Self {
        let n = rows.len();
        let builders = T::columns()
            .iter()
            .map(|c| match c {
                Col::Str(_, get, _) => {
                    let bytes = rows.iter().map(|r| get(r).map_or(0, str::len)).sum();
                    B::Str(StringBuilder::with_capacity(n, bytes))
                }
                Col::Bool(..) => B::Bool(BooleanBuilder::with_capacity(n)),
                Col::Time(..) => {
                    B::Time(TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC"))
                }
                Col::U64(..) => B::U64(UInt64Builder::with_capacity(n)),
                Col::StrList(..) => B::List(ListBuilder::with_capacity(StringBuilder::new(), n)),
            })
            .collect();
        Builder {
            builders,
            rows: 0,
            bytes: 0,
            _t: std::marker::PhantomData,
        }
    }

    /// Rows appended so far.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Approximate bytes of string data held, to bound memory.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Appends one row.
    pub fn push(&mut self, row: &T) {
        for (c, b) in T::columns().iter().zip(self.builders.iter_mut()) {
            match (c, b) {
                (Col::Str(_, get, _), B::Str(b)) => {
                    let v = get(row);
                    self.bytes += v.map_or(0, str::len);
                    b.append_option(v);
                }
                (Col::Bool(_, get, _), B::Bool(b)) => b.append_option(get(row)),
                (Col::Time(_, get, _), B::Time(b)) => b.append_option(get(row)),
                (Col::U64(_, get, _), B::U64(b)) => b.append_value(get(row)),
                (Col::StrList(_, get, _), B::List(b)) => {
                    for s in get(row) {
                        self.bytes += s.len();
                        b.values().append_value(s);
                    }
                    b.append(true);
                }
                _ => unreachable!("builders are made from the same column list"),
            }
        }
        self.rows += 1;
    }

    /// The rows as a batch; the builder is empty afterwards.
    pub fn finish(&mut self) -> RecordBatch {
        let arrays: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .map(|b| -> ArrayRef {
                match b {
                    B::Str(b) => Arc::new(b.finish()),
                    B::Bool(b) => Arc::new(b.finish()),
                    B::Time(b) => Arc::new(b.finish()),
                    B::U64(b) => Arc::new(b.finish()),
                    B::List(b) => Arc::new(b.finish()),
                }
            })
            .collect();
        self.rows = 0;
        self.bytes = 0;
        RecordBatch::try_new(schema::<T>(), arrays).expect("columns match the schema")
    }
}

/// Error reading rows back from a batch of another shape.
#[derive(Debug, thiserror::Error)]
#[error("column {column}: expected {expected}")]
pub struct ShapeError {
    pub column: String,
    pub expected: &'static str,
}

/// Reads rows back from a batch that has (at least) the table's columns, by name.
pub fn rows<T: Table>(batch: &RecordBatch) -> Result<Vec<T>, ShapeError> {
    let n = batch.num_rows();
    let mut out: Vec<T> = (0..n).map(|_| T::default()).collect();
    for c in T::columns() {
        let Some(arr) = batch.column_by_name(c.name()) else {
            continue;
        };
        let bad = |expected| ShapeError {
            column: c.name().to_string(),
            expected,
        };
        match c {
            Col::Str(_, _, set) => {
                let a = arr
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .ok_or_else(|| bad("Utf8"))?;
                for (i, r) in out.iter_mut().enumerate() {
                    set(r, a.is_valid(i).then(|| a.value(i).to_string()));
                }
            }
            Col::Bool(_, _, set) => {
                let a = arr
                    .as_any()
                    .downcast_ref::<BooleanArray>()
                    .ok_or_else(|| bad("Boolean"))?;
                for (i, r) in out.iter_mut().enumerate() {
                    set(r, a.is_valid(i).then(|| a.value(i)));
                }
            }
            Col::Time(_, _, set) => {
                let a = arr
                    .as_any()
                    .downcast_ref::<TimestampMillisecondArray>()
                    .ok_or_else(|| bad("Timestamp(ms)"))?;
                for (i, r) in out.iter_mut().enumerate() {
                    set(r, a.is_valid(i).then(|| a.value(i)));
                }
            }
            Col::U64(_, _, set) => {
                let a = arr
                    .as_any()
                    .downcast_ref::<UInt64Array>()
                    .ok_or_else(|| bad("UInt64"))?;
                for (i, r) in out.iter_mut().enumerate() {
                    set(r, a.value(i));
                }
            }
            Col::StrList(_, _, set) => {
                let a = arr
                    .as_any()
                    .downcast_ref::<ListArray>()
                    .ok_or_else(|| bad("List<Utf8>"))?;
                for (i, r) in out.iter_mut().enumerate() {
                    let mut v = Vec::new();
                    if a.is_valid(i) {
                        let inner = a.value(i);
                        if let Some(s) = inner.as_any().downcast_ref::<StringArray>() {
                            v.extend(s.iter().flatten().map(str::to_string));
                        }
                    }
                    set(r, v);
                }
            }
        }
    }
    Ok(out)
}

macro_rules! s {
    ($name:literal, $($f:ident).+) => {
        Col::Str($name, |r| r.$($f).+.as_deref(), |r, v| r.$($f).+ = v)
    };
}
macro_rules! sreq {
    ($name:literal, $f:ident) => {
        Col::Str(
            $name,
            |r| Some(r.$f.as_str()),
            |r, v| r.$f = v.unwrap_or_default(),
        )
    };
}
macro_rules! b {
    ($name:literal, $($f:ident).+) => {
        Col::Bool($name, |r| r.$($f).+, |r, v| r.$($f).+ = v)
    };
}
macro_rules! t {
    ($name:literal, $($f:ident).+) => {
        Col::Time($name, |r| r.$($f).+, |r, v| r.$($f).+ = v)
    };
}

static EVENT_COLUMNS: &[Col<Event>] = &[
    Col::Time(
        "event_time",
        |r| Some(r.event_time),
        |r, v| r.event_time = v.unwrap_or_default(),
    ),
    sreq!("event_id", event_id),
    sreq!("event_name", event_name),
    sreq!("event_source", event_source),
    s!("event_type", event_type),
    s!("event_category", event_category),
    s!("event_version", event_version),
    s!("aws_region", aws_region),
    s!("recipient_account_id", recipient_account_id),
    s!("source_ip", source_ip),
    s!("user_agent", user_agent),
    s!("error_code", error_code),
    s!("error_message", error_message),
    b!("read_only", read_only),
    b!("management_event", management_event),
    s!("request_id", request_id),
    s!("shared_event_id", shared_event_id),
    s!("vpc_endpoint_id", vpc_endpoint_id),
    s!("vpc_endpoint_account_id", vpc_endpoint_account_id),
    s!("tls_version", tls_version),
    s!("tls_cipher_suite", tls_cipher_suite),
    s!("tls_client_host_header", tls_client_host_header),
    b!(
        "session_credential_from_console",
        session_credential_from_console
    ),
    s!("user_type", identity.kind),
    s!("principal_id", identity.principal_id),
    s!("arn", identity.arn),
    s!("account_id", identity.account_id),
    s!("access_key_id", identity.access_key_id),
    s!("user_name", identity.user_name),
    s!("invoked_by", identity.invoked_by),
    s!("issuer_type", identity.issuer_type),
    s!("issuer_principal_id", identity.issuer_principal_id),
    s!("issuer_arn", identity.issuer_arn),
    s!("issuer_account_id", identity.issuer_account_id),
    s!("issuer_user_name", identity.issuer_user_name),
    t!("session_creation_date", identity.session_creation_date),
    b!("mfa_authenticated", identity.mfa_authenticated),
    s!("source_identity", identity.source_identity),
    s!("on_behalf_of_user_id", identity.on_behalf_of_user_id),
    s!(
        "on_behalf_of_identity_store_arn",
        identity.on_behalf_of_identity_store_arn
    ),
    s!("identity_provider", identity.identity_provider),
    s!("credential_id", identity.credential_id),
    s!("in_scope_of_issuer_type", identity.in_scope_of_issuer_type),
    s!(
        "in_scope_of_credentials_issued_to",
        identity.in_scope_of_credentials_issued_to
    ),
    s!("ec2_role_delivery", identity.ec2_role_delivery),
    s!("request_parameters", request_parameters),
    s!("response_elements", response_elements),
    s!("resources", resources),
    s!("additional_event_data", additional_event_data),
    s!("service_event_details", service_event_details),
    s!("tls_details", tls_details),
    s!("user_identity", user_identity),
    s!("extra", extra),
    sreq!("key_order", key_order),
];

impl Table for Event {
    fn columns() -> &'static [Col<Self>] {
        EVENT_COLUMNS
    }
    const REQUIRED: &'static [&'static str] = &[
        "event_time",
        "event_id",
        "event_name",
        "event_source",
        "key_order",
    ];
}

static ISSUANCE_COLUMNS: &[Col<Issuance>] = &[
    Col::Time(
        "event_time",
        |r| Some(r.event_time),
        |r, v| r.event_time = v.unwrap_or_default(),
    ),
    sreq!("event_id", event_id),
    sreq!("event_name", event_name),
    sreq!("event_source", event_source),
    s!("recipient_account_id", recipient_account_id),
    s!("aws_region", aws_region),
    s!("error_code", error_code),
    s!("source_ip", source_ip),
    s!("user_agent", user_agent),
    s!("shared_event_id", shared_event_id),
    s!("request_id", request_id),
    s!("caller_type", caller_type),
    s!("caller_arn", caller_arn),
    s!("caller_principal_id", caller_principal_id),
    s!("caller_account_id", caller_account_id),
    s!("caller_access_key_id", caller_access_key_id),
    s!("caller_user_name", caller_user_name),
    s!("caller_invoked_by", caller_invoked_by),
    t!("caller_session_creation_date", caller_session_creation_date),
    s!("issued_access_key_id", issued_access_key_id),
    s!("issued_arn", issued_arn),
    s!("assumed_role_id", assumed_role_id),
    t!("expiration", expiration),
    s!("role_arn", role_arn),
    s!("role_session_name", role_session_name),
    s!("source_identity", source_identity),
    s!("provider", provider),
    s!("subject", subject),
    s!("target_user_name", target_user_name),
    s!("outcome", outcome),
    b!("mfa_used", mfa_used),
    s!("switch_from", switch_from),
];

impl Table for Issuance {
    fn columns() -> &'static [Col<Self>] {
        ISSUANCE_COLUMNS
    }
    const REQUIRED: &'static [&'static str] =
        &["event_time", "event_id", "event_name", "event_source"];
}

static SESSION_COLUMNS: &[Col<SessionSummary>] = &[
    s!("access_key_id", access_key_id),
    s!("arn", arn),
    t!("creation_date", creation_date),
    s!("identity_type", identity_type),
    s!("principal_id", principal_id),
    s!("account_id", account_id),
    s!("user_name", user_name),
    s!("issuer_arn", issuer_arn),
    Col::Time(
        "first_seen",
        |r| Some(r.first_seen),
        |r, v| r.first_seen = v.unwrap_or_default(),
    ),
    Col::Time(
        "last_seen",
        |r| Some(r.last_seen),
        |r, v| r.last_seen = v.unwrap_or_default(),
    ),
    Col::U64("events", |r| r.events, |r, v| r.events = v),
    Col::U64("errors", |r| r.errors, |r, v| r.errors = v),
    Col::StrList("source_ips", |r| &r.source_ips, |r, v| r.source_ips = v),
    Col::StrList("user_agents", |r| &r.user_agents, |r, v| r.user_agents = v),
    Col::StrList("regions", |r| &r.regions, |r, v| r.regions = v),
    Col::Bool(
        "from_console",
        |r| Some(r.from_console),
        |r, v| r.from_console = v.unwrap_or_default(),
    ),
];

impl Table for SessionSummary {
    fn columns() -> &'static [Col<Self>] {
        SESSION_COLUMNS
    }
    const REQUIRED: &'static [&'static str] = &[
        "first_seen",
        "last_seen",
        "events",
        "errors",
        "source_ips",
        "user_agents",
        "regions",
        "from_console",
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_survive_a_batch_round_trip() {
        let mut e = Event {
            event_time: 1_688_989_320_000,
            event_id: "id-1".into(),
            event_name: "AssumeRole".into(),
            event_source: "sts.amazonaws.com".into(),
            read_only: Some(true),
            key_order: "eventTime,eventName".into(),
            ..Default::default()
        };
        e.identity.arn = Some("arn:aws:iam::1:user/bob".into());
        e.identity.session_creation_date = Some(5);
        let mut b = Builder::<Event>::new();
        b.push(&e);
        b.push(&Event::default());
        let batch = b.finish();
        assert_eq!(batch.num_rows(), 2);
        let back = rows::<Event>(&batch).unwrap();
        assert_eq!(back[0], e);
        assert_eq!(back[1], Event::default());

        let s = SessionSummary {
            arn: Some("a".into()),
            source_ips: vec!["1.2.3.4".into(), "5.6.7.8".into()],
            events: 3,
            ..Default::default()
        };
        let mut b = Builder::<SessionSummary>::new();
        b.push(&s);
        assert_eq!(rows::<SessionSummary>(&b.finish()).unwrap(), vec![s]);
    }
}
