//! Discovery and reads of S3 objects through object_store, one client per bucket.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use futures::{StreamExt, TryStreamExt, stream};
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey, resolve_bucket_region};
use object_store::path::Path;
use object_store::{Attribute, ClientOptions, ObjectMeta, ObjectStore, ObjectStoreExt};

use crate::layout::{Decision, decide};
use crate::{Discovery, Filter, Location, SourceError, SourceFile};

/// How many S3 listing requests discovery keeps in flight.
const LIST_CONCURRENCY: usize = 16;

/// S3 settings given explicitly rather than through the process environment.
///
/// Fields left `None` come from the `AWS_*` environment variables when `use_env` is set, and
/// from object_store's defaults otherwise.
#[derive(Clone, Default)]
pub struct S3Options {
    /// Start from the standard `AWS_*` environment variables; the fields below override them.
    pub use_env: bool,
    /// A custom S3 endpoint such as `http://127.0.0.1:9000`; implies path-style requests.
    pub endpoint: Option<String>,
    /// The region to sign for; without one (and without an endpoint) it is asked of S3.
    pub region: Option<String>,
    /// Static access key id.
    pub access_key_id: Option<String>,
    /// Static secret access key.
    pub secret_access_key: Option<String>,
    /// Session token that goes with temporary keys.
    pub session_token: Option<String>,
}

/// Shows which settings are given without printing the secrets.
impl std::fmt::Debug for S3Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("S3Options")
            .field("use_env", &self.use_env)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &hidden(&self.secret_access_key))
            .field("session_token", &hidden(&self.session_token))
            .finish()
    }
}

/// An `s3://bucket/prefix` input, split.
pub(crate) struct S3Url {
    bucket: String,
    /// The key prefix, without a trailing `/`; empty for the whole bucket.
    prefix: Path,
}

/// Splits an `s3://` URL; `None` for an input that is a local path.
pub(crate) fn parse_url(input: &str) -> Result<Option<S3Url>, SourceError> {
    let Some(rest) = input.strip_prefix("s3://") else {
        if input.contains("://") {
            return Err(SourceError::BadUrl(input.to_string()));
        }
        return Ok(None);
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let prefix = prefix.trim_end_matches('/');
    let bucket_ok = !bucket.is_empty()
        && bucket
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
    match Path::parse(prefix) {
        Ok(prefix) if bucket_ok => Ok(Some(S3Url {
            bucket: bucket.to_string(),
            prefix,
        })),
        _ => Err(SourceError::BadUrl(input.to_string())),
    }
}

/// The object_store clients, built on first use of each bucket from one set of settings.
pub(crate) struct S3Clients {
    options: S3Options,
    clients: Mutex<HashMap<String, Arc<AmazonS3>>>,
}

impl S3Clients {
    pub(crate) fn new(options: S3Options) -> Self {
        S3Clients {
            options,
            clients: Mutex::default(),
        }
    }

    /// The client for `bucket`, built once.
    async fn client(&self, bucket: &str) -> Result<Arc<AmazonS3>, SourceError> {
        if let Some(c) = self
            .clients
            .lock()
            .expect("S3 client map poisoned")
            .get(bucket)
        {
            return Ok(Arc::clone(c));
        }
        let o = &self.options;
        let mut b = if o.use_env {
            AmazonS3Builder::from_env()
        } else {
            AmazonS3Builder::new()
        };
        let settings = [
            (AmazonS3ConfigKey::Endpoint, &o.endpoint),
            (AmazonS3ConfigKey::Region, &o.region),
            (AmazonS3ConfigKey::AccessKeyId, &o.access_key_id),
            (AmazonS3ConfigKey::SecretAccessKey, &o.secret_access_key),
            (AmazonS3ConfigKey::Token, &o.session_token),
        ];
        for (key, value) in settings {
            if let Some(value) = value {
                b = b.with_config(key, value);
            }
        }
        let endpoint = b
            .get_config_value(&AmazonS3ConfigKey::S3Endpoint)
            .or_else(|| b.get_config_value(&AmazonS3ConfigKey::Endpoint));
        if let Some(endpoint) = &endpoint {
            b = b.with_virtual_hosted_style_request(false);
            if is_loopback(endpoint) {
                b = b.with_allow_http(true);
            }
        } else if b.get_config_value(&AmazonS3ConfigKey::Region).is_none() {
            // A trail's bucket is often in another region than the caller's default; S3
            // answers requests signed for the wrong region with a redirect object_store
            // does not follow. When the lookup fails, object_store's default stands.
            if let Ok(region) = resolve_bucket_region(bucket, &ClientOptions::new()).await {
                b = b.with_region(region);
            }
        }
        let client = b
            .with_bucket_name(bucket)
            .build()
            .map_err(|e| SourceError::S3 {
                url: format!("s3://{bucket}"),
                message: e.to_string(),
            })?;
        let client = Arc::new(client);
        let mut clients = self.clients.lock().expect("S3 client map poisoned");
        Ok(Arc::clone(
            clients.entry(bucket.to_string()).or_insert(client),
        ))
    }

    /// Adds the objects under one `s3://` input to `found`, descending the CloudTrail layout
    /// one delimiter listing at a time while the filter can still prune something.
    pub(crate) async fn discover(
        &self,
        url: &S3Url,
        filter: &Filter,
        found: &mut Discovery,
    ) -> Result<(), SourceError> {
        let store = self.client(&url.bucket).await?;
        let walk = Walk {
            store: &store,
            bucket: &url.bucket,
        };
        let root = decide(url.prefix.as_ref().split('/'), filter);
        if root == Decision::Prune {
            // A file given directly is kept whatever the filter; a folder is skipped.
            match walk.head(&url.prefix).await? {
                Some(meta) => found.files.push(walk.source_file(meta)),
                None => found.pruned_prefixes += 1,
            }
            return Ok(());
        }
        let mut objects = Vec::new();
        let (mut listed, mut pruned) = (0, 0);
        let mut level = vec![(url.prefix.clone(), root)];
        while !level.is_empty() {
            listed += level.len() as u64;
            let lists: Vec<_> = stream::iter(level)
                .map(|(prefix, decision)| walk.list(prefix, decision))
                .buffer_unordered(LIST_CONCURRENCY)
                .try_collect()
                .await?;
            level = Vec::new();
            for (metas, children) in lists {
                // Zero-byte objects hold no events, and include the `folder/` markers that
                // consoles create, whose trailing `/` object_store drops so that they could
                // not be read back.
                objects.extend(metas.into_iter().filter(|m| m.size > 0));
                for child in children {
                    match decide(child.as_ref().split('/'), filter) {
                        Decision::Prune => pruned += 1,
                        d => level.push((child, d)),
                    }
                }
            }
        }
        if objects.is_empty() && pruned == 0 {
            // Nothing under the prefix: it may be the key of one object, given directly.
            let missing = || SourceError::NotFound {
                path: walk.url(url.prefix.as_ref()),
            };
            objects.push(walk.head(&url.prefix).await?.ok_or_else(missing)?);
        }
        found.listed_prefixes += listed;
        found.pruned_prefixes += pruned;
        found
            .files
            .extend(objects.into_iter().map(|m| walk.source_file(m)));
        Ok(())
    }

    /// Fetches one object whole, with its user-defined metadata.
    pub(crate) async fn read(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<(Vec<u8>, BTreeMap<String, String>), SourceError> {
        let store = self.client(bucket).await?;
        let walk = Walk {
            store: &store,
            bucket,
        };
        let path = Path::parse(key).map_err(|_| SourceError::BadUrl(walk.url(key)))?;
        let got = async {
            let r = store.get(&path).await?;
            let meta: BTreeMap<String, String> = r
                .attributes
                .iter()
                .filter_map(|(k, v)| match k {
                    Attribute::Metadata(name) => Some((name.to_string(), (**v).to_owned())),
                    _ => None,
                })
                .collect();
            Ok((r.bytes().await?.to_vec(), meta))
        }
        .await;
        got.map_err(|e| match e {
            object_store::Error::NotFound { .. } => SourceError::NotFound {
                path: walk.url(key),
            },
            e => walk.error(key, e),
        })
    }
}

/// An object's body as it arrives.
pub(crate) type Body = futures::stream::BoxStream<'static, Result<Vec<u8>, String>>;

impl S3Clients {
    /// Starts fetching one object; its body is read with [`BodyReader`].
    pub(crate) async fn open(&self, bucket: &str, key: &str) -> Result<Body, SourceError> {
        let store = self.client(bucket).await?;
        let walk = Walk {
            store: &store,
            bucket,
        };
        let path = Path::parse(key).map_err(|_| SourceError::BadUrl(walk.url(key)))?;
        match store.get(&path).await {
            Ok(r) => Ok(r
                .into_stream()
                .map_ok(Vec::from)
                .map_err(|e| e.to_string())
                .boxed()),
            Err(object_store::Error::NotFound { .. }) => Err(SourceError::NotFound {
                path: walk.url(key),
            }),
            Err(e) => Err(walk.error(key, e)),
        }
    }
}

/// An object's body read a piece at a time, blocking on the sources' runtime.
pub(crate) struct BodyReader<'a> {
    rt: &'a tokio::runtime::Runtime,
    body: Body,
    chunk: Vec<u8>,
    pos: usize,
}

impl<'a> BodyReader<'a> {
    pub(crate) fn new(rt: &'a tokio::runtime::Runtime, body: Body) -> Self {
        BodyReader {
            rt,
            body,
            chunk: Vec::new(),
            pos: 0,
        }
    }
}

impl std::io::Read for BodyReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.chunk.len() {
            match self.rt.block_on(self.body.next()) {
                None => return Ok(0),
                Some(Ok(c)) => {
                    self.chunk = c;
                    self.pos = 0;
                }
                Some(Err(e)) => return Err(std::io::Error::other(e)),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// One bucket's client during a discovery or read.
struct Walk<'a> {
    store: &'a AmazonS3,
    bucket: &'a str,
}

impl Walk<'_> {
    /// Lists one prefix: one level (objects and sub-prefixes) to descend further, or
    /// everything below when nothing there can be pruned.
    async fn list(
        &self,
        prefix: Path,
        decision: Decision,
    ) -> Result<(Vec<ObjectMeta>, Vec<Path>), SourceError> {
        let at = (!prefix.as_ref().is_empty()).then_some(&prefix);
        let listed = if decision == Decision::KeepAll {
            self.store
                .list(at)
                .try_collect()
                .await
                .map(|m| (m, Vec::new()))
        } else {
            let r = self.store.list_with_delimiter(at).await;
            r.map(|r| (r.objects, r.common_prefixes))
        };
        listed.map_err(|e| self.error(prefix.as_ref(), e))
    }

    /// The object at `key`, if there is one; the bucket root never is.
    async fn head(&self, key: &Path) -> Result<Option<ObjectMeta>, SourceError> {
        if key.as_ref().is_empty() {
            return Ok(None);
        }
        match self.store.head(key).await {
            Ok(meta) => Ok(Some(meta)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(key.as_ref(), e)),
        }
    }

    fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    fn error(&self, key: &str, e: object_store::Error) -> SourceError {
        SourceError::S3 {
            url: self.url(key),
            message: e.to_string(),
        }
    }

    fn source_file(&self, m: ObjectMeta) -> SourceFile {
        let key = m.location.to_string();
        let version = m.e_tag.unwrap_or_else(|| m.last_modified.to_rfc3339());
        SourceFile {
            key: self.url(&key),
            size: m.size,
            version,
            location: Location::S3 {
                bucket: self.bucket.to_string(),
                key,
            },
        }
    }
}

/// Whether an endpoint URL points at this machine, where plain HTTP is harmless.
fn is_loopback(endpoint: &str) -> bool {
    let Some(rest) = endpoint.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
