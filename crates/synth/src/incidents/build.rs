//! The record-building blocks the planted incidents share: request parameters of the
//! calls several scenarios make (an S3 object, a secret, a parameter, a user, a new key)
//! and the calls themselves.

use super::*;

/// A call in a run of [`Scene::calls`] that succeeds.
pub(super) fn ok(src: Src, name: &str, region: usize) -> (Src, &str, usize, Outcome) {
    (src, name, region, Outcome::Normal)
}

/// A call in a run of [`Scene::calls`] that is denied.
pub(super) fn denied(src: Src, name: &str, region: usize) -> (Src, &str, usize, Outcome) {
    (src, name, region, Outcome::Denied)
}

/// An IAM user of one of the trail's accounts.
pub(super) fn user(world: &World, rng: &mut Rng, acct: usize, name: &str) -> User {
    let a = &world.accounts[acct];
    User::new(rng, &a.id, a.num, name)
}

/// A role of one of the trail's accounts.
pub(super) fn role(world: &World, rng: &mut Rng, acct: usize, path: &str, name: &str) -> Role {
    let a = &world.accounts[acct];
    Role::new(rng, &a.id, a.num, path, name)
}

/// requestParameters/target of an IAM call about the caller's own role.
pub(super) fn own_role_gen(role: &Role) -> impl Fn(&mut Fill<'_>) + use<> {
    let (name, arn) = (role.name.clone(), role.arn());
    move |f: &mut Fill<'_>| {
        f.s.req.push_str(&format!("{{\"roleName\":\"{name}\"}}"));
        f.s.target.push_str(&arn);
    }
}

/// requestParameters/target of an IAM call about one user.
pub(super) fn iam_user_gen(name: String, account: String) -> impl Fn(&mut Fill<'_>) {
    move |f: &mut Fill<'_>| {
        f.s.req.push_str(&format!("{{\"userName\":\"{name}\"}}"));
        f.s.target
            .push_str(&format!("arn:aws:iam::{account}:user/{name}"));
    }
}

/// `requestParameters` and target of an S3 object call.
pub(super) fn object(bucket: String, key: String) -> impl Fn(&mut Fill<'_>) {
    move |f: &mut Fill<'_>| f.s3_object(&bucket, &key)
}

/// `GetSecretValue` of one named secret.
pub(super) fn secret(arn: String) -> impl Fn(&mut Fill<'_>) {
    move |f: &mut Fill<'_>| {
        f.s.req.push_str(&format!("{{\"secretId\":\"{arn}\"}}"));
        f.s.target.push_str(&arn);
    }
}

/// `GetParameter` of `name`, with or without decryption.
pub(super) fn parameter(
    region: &str,
    account: &str,
    name: &str,
    decrypt: bool,
) -> impl Fn(&mut Fill<'_>) {
    let arn = format!("arn:aws:ssm:{region}:{account}:parameter{name}");
    let name = name.to_string();
    move |f: &mut Fill<'_>| {
        f.s.req.push_str(&format!(
            "{{\"name\":\"{name}\",\"withDecryption\":{decrypt}}}"
        ));
        f.s.target.push_str(&arn);
    }
}

/// `CreateAccessKey` answered with `key` for `user`; `named` puts the user in the request
/// (without it IAM acts on the caller).
pub(super) fn new_access_key(
    user: String,
    key: String,
    t: i64,
    named: bool,
) -> impl Fn(&mut Fill<'_>) {
    move |f: &mut Fill<'_>| {
        if named {
            f.s.req.push_str(&format!("{{\"userName\":\"{user}\"}}"));
        }
        f.s.resp
            .push_str(&emit::create_access_key_response(&user, &key, t));
    }
}

impl Scene<'_> {
    /// A successful call without particular parameters.
    pub(super) fn call_ok(
        &mut self,
        t: i64,
        sess: &mut Sess,
        region: usize,
        src: Src,
        name: &str,
    ) -> String {
        self.call(t, sess, region, src, name, Outcome::Normal)
    }

    /// A successful call in the home region with the given parameters.
    pub(super) fn home_call(
        &mut self,
        t: i64,
        sess: &mut Sess,
        src: Src,
        name: &str,
        params: &dyn Fn(&mut Fill<'_>),
    ) -> String {
        self.call_gen(t, sess, HOME, src, name, Outcome::Normal, Some(params))
    }

    /// `GetSecretValue` of the secret `arn`.
    pub(super) fn get_secret(
        &mut self,
        t: i64,
        sess: &mut Sess,
        region: usize,
        arn: String,
        outcome: Outcome,
    ) -> String {
        let g = secret(arn);
        self.call_gen(
            t,
            sess,
            region,
            Src::Secrets,
            "GetSecretValue",
            outcome,
            Some(&g),
        )
    }

    /// A successful `GetObject` of `key` in `bucket`.
    pub(super) fn get_object(
        &mut self,
        t: i64,
        sess: &mut Sess,
        region: usize,
        bucket: String,
        key: String,
    ) -> String {
        let g = object(bucket, key);
        self.call_gen(
            t,
            sess,
            region,
            Src::S3,
            "GetObject",
            Outcome::Normal,
            Some(&g),
        )
    }
}
