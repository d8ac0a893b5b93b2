//! Discovery and reads against moto's S3 server on 127.0.0.1, started by the test itself.
//!
//! Needs `python3` with `moto[server]` (scripts/install-test-deps.sh installs it). Without
//! it the test prints a notice and passes, except under CI (env `CI` set), where it fails.

mod common;
#[path = "common/moto.rs"]
mod moto;

use moto::Moto;

use backtrail_sources::{Filter, Location, S3Options, SourceError, Sources};
use common::{TREE, cases, expected};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};

const BUCKET: &str = "trail-bucket";

fn options(endpoint: String) -> S3Options {
    S3Options {
        use_env: false,
        endpoint: Some(endpoint),
        region: Some("us-east-1".into()),
        access_key_id: Some("test".into()),
        secret_access_key: Some("test".into()),
        session_token: None,
    }
}

/// Uploads the shared tree under `root` (empty for the bucket's top) with object_store.
fn upload(endpoint: &str, root: &str) {
    let store = AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .with_bucket_name(BUCKET)
        .build()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for rel in TREE {
            let key = Path::parse(format!("{root}{rel}")).unwrap();
            store
                .put(&key, PutPayload::from(rel.as_bytes().to_vec()))
                .await
                .unwrap();
        }
    });
}

/// The listing prefixes requested in moto's log lines.
fn listed_prefixes(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains(&format!("GET /{BUCKET}?")))
        .map(|l| {
            let query = l.split('?').nth(1).unwrap().split(' ').next().unwrap();
            let prefix = query.split('&').find_map(|kv| kv.strip_prefix("prefix="));
            prefix.unwrap_or("").replace("%2F", "/")
        })
        .collect()
}

#[test]
fn s3_discovery_prunes_and_reads() {
    // A port found free can be taken before moto binds it; a second try settles that.
    let moto = match Moto::start().or_else(|_| Moto::start()) {
        Ok(m) => m,
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!("the S3 test needs moto (run scripts/install-test-deps.sh): {why}")
        }
        Err(why) => {
            eprintln!(
                "NOTICE: S3 test skipped, moto is not available ({why}); see scripts/install-test-deps.sh"
            );
            return;
        }
    };
    moto.put_empty(BUCKET);
    // Folder markers as the S3 console makes them: never reported as files.
    moto.put_empty(&format!("{BUCKET}/exports/"));
    moto.put_empty(&format!("{BUCKET}/AWSLogs/111122223333/CloudTrail/"));
    upload(&moto.endpoint(), "");
    upload(&moto.endpoint(), "trails/prod/");
    let sources = Sources::with_s3_options(options(moto.endpoint())).unwrap();

    for (root, input) in [
        ("", format!("s3://{BUCKET}")),
        ("trails/prod/", format!("s3://{BUCKET}/trails/prod/")),
    ] {
        for case in cases() {
            let before = moto.log_text().len();
            let found = sources
                .discover(std::slice::from_ref(&input), &case.filter)
                .unwrap();
            let keys: Vec<String> = found.files.iter().map(|f| f.key.clone()).collect();
            // The whole bucket holds the tree twice, and the filter applies to both copies.
            let roots: &[&str] = if root.is_empty() {
                &["", "trails/prod/"]
            } else {
                &[root]
            };
            let mut want: Vec<String> = roots
                .iter()
                .flat_map(|r| {
                    expected(&case.kept)
                        .into_iter()
                        .map(move |k| format!("s3://{BUCKET}/{r}{k}"))
                })
                .collect();
            want.sort();
            assert_eq!(keys, want, "{} under {input:?}", case.name);
            let pruned = (roots.len() * case.pruned.len()) as u64;
            assert_eq!(
                found.pruned_prefixes, pruned,
                "{} under {input:?}",
                case.name
            );

            // The proof that pruning saved requests: moto never saw a listing of a pruned prefix.
            let requests = listed_prefixes(&moto.log_text()[before..]);
            assert_eq!(
                requests.len() as u64,
                found.listed_prefixes,
                "{}: {requests:?}",
                case.name
            );
            for (r, skipped) in roots
                .iter()
                .flat_map(|r| case.pruned.iter().map(move |p| (r, p)))
            {
                let skipped = format!("{r}{skipped}/");
                assert!(
                    !requests.iter().any(|p| p.starts_with(&skipped)),
                    "{}: listed {skipped} although it was pruned: {requests:?}",
                    case.name
                );
            }
        }
    }

    // With no filter, one flat listing covers the whole bucket.
    let all = sources
        .discover(&[format!("s3://{BUCKET}")], &Filter::default())
        .unwrap();
    assert_eq!(all.listed_prefixes, 1);
    assert_eq!(all.files.len(), 2 * TREE.len());

    // Reads, many at once from plain threads as rayon would call them.
    std::thread::scope(|s| {
        for f in &all.files {
            let sources = &sources;
            s.spawn(move || {
                let bytes = sources.read(f).unwrap();
                assert_eq!(bytes.len() as u64, f.size);
                let Location::S3 { bucket, key } = &f.location else {
                    panic!("{} is not on S3", f.key)
                };
                assert_eq!(bucket, BUCKET);
                assert!(key.ends_with(std::str::from_utf8(&bytes).unwrap()));
                assert!(!f.version.is_empty());
            });
        }
    });

    // An object key given directly is one file, whatever the filter.
    let key = format!("s3://{BUCKET}/{}", TREE[0]);
    let filter = Filter {
        regions: vec!["us-west-2".into()],
        ..Filter::default()
    };
    let one = sources
        .discover(std::slice::from_ref(&key), &filter)
        .unwrap();
    assert_eq!(
        one.files.iter().map(|f| &f.key).collect::<Vec<_>>(),
        vec![&key]
    );

    // A prefix with nothing under it is an error naming it, as a missing directory is.
    let missing = format!("s3://{BUCKET}/no/such/prefix");
    let err = sources
        .discover(std::slice::from_ref(&missing), &Filter::default())
        .unwrap_err();
    assert!(matches!(err, SourceError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains(&missing), "{err}");

    // A vanished object reads as not found.
    let mut gone = all.files[0].clone();
    gone.location = Location::S3 {
        bucket: BUCKET.into(),
        key: "no/such/key".into(),
    };
    let err = sources.read(&gone).unwrap_err();
    assert!(matches!(err, SourceError::NotFound { .. }), "{err:?}");

    // User metadata comes with the bytes: a CloudTrail digest's signature lives there.
    let meta = [
        ("x-amz-meta-signature", "0a1b2c"),
        ("x-amz-meta-signature-algorithm", "SHA256withRSA"),
    ];
    moto.put(&format!("{BUCKET}/digest/d.json.gz"), b"digest", &meta);
    let d = sources
        .discover(&[format!("s3://{BUCKET}/digest/")], &Filter::default())
        .unwrap();
    let (bytes, meta) = sources.read_with_metadata(&d.files[0]).unwrap();
    assert_eq!(bytes, b"digest");
    assert_eq!(meta.get("signature").map(String::as_str), Some("0a1b2c"));
    assert_eq!(
        meta.get("signature-algorithm").map(String::as_str),
        Some("SHA256withRSA")
    );
}
